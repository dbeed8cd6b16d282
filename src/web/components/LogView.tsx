// The log view: virtualized rows (only visible lines are in the DOM, so a million lines
// scroll), ANSI colours, line numbers that link (#L120, shift-click for a range), search
// with next/previous, follow-the-tail that pauses when the reader scrolls up, wrap and
// timestamp toggles, copy, and the raw download (the REST raw_text endpoint).
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRunLogs } from './useRunLogs.js';
import { ansiSegments } from '../lib/ansi.js';
import { clickLine, formatLineHash, inRange, parseLineHash, type LineRange } from '../lib/lineLinks.js';
import type { LogStore } from '../lib/logStore.js';

const ROW = 20;
const SEARCH_SLICE = 50_000;
const BLOCK = 32;

const Line = memo(function Line({ text }: { text: string }) {
  return (
    <>
      {ansiSegments(text).map((s, i) =>
        s.className ? (
          <span key={i} className={s.className}>
            {s.text}
          </span>
        ) : (
          s.text
        ),
      )}
    </>
  );
});

function atBottom(el: HTMLElement): boolean {
  return el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
}

export function LogView({ runId, running }: { runId: string; running: boolean }) {
  const { store, version, state, error } = useRunLogs(runId);
  const scrollRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(() => !parseLineHash(window.location.hash));
  const [wrap, setWrap] = useState(false);
  const [times, setTimes] = useState(false);
  const [selected, setSelected] = useState<LineRange | undefined>(() => parseLineHash(window.location.hash));
  const [query, setQuery] = useState('');
  const [match, setMatch] = useState(-1);
  const [searchNote, setSearchNote] = useState('');
  const [copied, setCopied] = useState(false);
  const userScroll = useRef(0);
  const jumpedToHash = useRef(false);
  const count = store.length;

  // The virtualizer's items are blocks of BLOCK lines, not lines: its per-item bookkeeping
  // then stays small at a million lines (one pass over every item per update took most of
  // the main thread when each line was an item). Each rendered block is measured, so the
  // growing last block and wrapped lines get their real heights.
  const blocks = Math.ceil(count / BLOCK);
  const virtualizer = useVirtualizer({
    count: blocks,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => BLOCK * ROW,
    overscan: 1,
  });
  const scrollToLine = useCallback(
    (index: number) => {
      const el = scrollRef.current;
      if (!el) return;
      const block = Math.floor(index / BLOCK);
      const blockStart = virtualizer.getOffsetForIndex(block, 'start')?.[0] ?? block * BLOCK * ROW;
      el.scrollTop = Math.max(0, blockStart + (index % BLOCK) * ROW - el.clientHeight / 2 + ROW / 2);
    },
    [virtualizer],
  );

  // Follow the tail: after each batch of lines, stay at the bottom. Set scrollTop directly
  // (the browser clamps it): the virtualizer's scrollToIndex reads scrollHeight, forcing a
  // layout of the whole list on every batch, which was most of the main thread's time.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (follow && el && count > 0) el.scrollTop = virtualizer.getTotalSize();
  }, [version, follow, count, virtualizer]);

  // A #L link: scroll there once that line has arrived.
  useEffect(() => {
    if (!selected || jumpedToHash.current || count < selected.start) return;
    jumpedToHash.current = true;
    setFollow(false);
    scrollToLine(selected.start - 1);
  }, [selected, count, scrollToLine]);

  useEffect(() => {
    const onHash = () => {
      const r = parseLineHash(window.location.hash);
      setSelected(r);
      jumpedToHash.current = false;
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // "/" anywhere on the run page (outside a field) goes to the log search, as on GitHub.
  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      e.preventDefault();
      searchRef.current?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const onScroll = useCallback(() => {
    const el = scrollRef.current;
    if (!el) return;
    if (atBottom(el)) setFollow(true);
    else if (performance.now() - userScroll.current < 1000) setFollow(false);
  }, []);
  const markUser = () => {
    userScroll.current = performance.now();
  };

  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const onLineClick = useCallback((line: number, extend: boolean) => {
    const next = clickLine(selectedRef.current, line, extend);
    setSelected(next);
    setFollow(false);
    jumpedToHash.current = true;
    history.replaceState(null, '', formatLineHash(next));
  }, []);

  // Searched in slices of SEARCH_SLICE lines with a yield between them: a million lines
  // take a moment but never freeze the tab. A newer search cancels an older one.
  const searchRun = useRef(0);
  const find = async (direction: 1 | -1) => {
    if (!query) return;
    const run = ++searchRun.current;
    const top = Math.floor((scrollRef.current?.scrollTop ?? 0) / ROW);
    const from = match >= 0 ? match : direction === 1 ? Math.min(top, count) - 1 : count;
    const scan = store.startSearch(query, from, direction);
    let found: number | undefined;
    setSearchNote('Searching…');
    while ((found = scan(SEARCH_SLICE)) === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (run !== searchRun.current) return;
    }
    setMatch(found);
    if (found < 0) {
      setSearchNote('No match');
      return;
    }
    setSearchNote(`Line ${found + 1}`);
    setFollow(false);
    scrollToLine(found);
  };
  const onSearchKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void find(e.shiftKey ? -1 : 1);
    } else if (e.key === 'Escape') {
      searchRun.current++;
      setQuery('');
      setMatch(-1);
      setSearchNote('');
    }
  };

  const copy = async () => {
    await navigator.clipboard.writeText(store.text());
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };

  const items = virtualizer.getVirtualItems();
  return (
    <section className="log" aria-label="Log">
      <div className="log-toolbar" role="toolbar" aria-label="Log tools">
        <input
          ref={searchRef}
          type="search"
          aria-label="Search the log"
          placeholder="Search the log (press /)"
          title="Enter: next match, Shift+Enter: previous"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setMatch(-1);
            setSearchNote('');
          }}
          onKeyDown={onSearchKey}
        />
        <button type="button" onClick={() => void find(-1)} aria-label="Previous match" title="Previous match (Shift+Enter)">
          ↑
        </button>
        <button type="button" onClick={() => void find(1)} aria-label="Next match" title="Next match (Enter)">
          ↓
        </button>
        <span className="search-note" aria-live="polite">
          {searchNote}
        </span>
        <span className="spacer" />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label className="check">
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> Wrap
        </label>
        <label className="check">
          <input type="checkbox" checked={times} onChange={(e) => setTimes(e.target.checked)} /> Timestamps
        </label>
        <button type="button" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <a className="button" href={`/api/v6/${encodeURIComponent(runId)}/logs?raw_text=true`} download={`${runId}.log`}>
          Download raw
        </a>
      </div>
      <div
        ref={scrollRef}
        className={`log-scroll${wrap ? ' wrap' : ''}`}
        onScroll={onScroll}
        onWheel={markUser}
        onTouchMove={markUser}
        onPointerDown={markUser}
        onKeyDown={markUser}
        tabIndex={0}
        aria-label={`Log lines, ${count} so far`}
        data-lines={count}
        data-state={state}
      >
        {count === 0 ? (
          <div className="log-empty">
            {state === 'error'
              ? `Cannot read the log: ${error}`
              : state === 'complete'
                ? 'This run wrote no output.'
                : running
                  ? 'Waiting for output…'
                  : 'No output yet. Lines appear here when the run starts.'}
          </div>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((item) => {
              const first = item.index * BLOCK;
              const last = Math.min(count, first + BLOCK);
              const rows = [];
              for (let i = first; i < last; i++) {
                rows.push(
                  <Row key={i} index={i} store={store} selected={inRange(selected, i + 1)} match={i === match} times={times} onLineClick={onLineClick} />,
                );
              }
              return (
                <div
                  key={item.key}
                  ref={virtualizer.measureElement}
                  data-index={item.index}
                  className="log-block"
                  style={{ transform: `translateY(${item.start}px)` }}
                >
                  {rows}
                </div>
              );
            })}
          </div>
        )}
      </div>
      <div className="log-status" aria-live="polite">
        {count.toLocaleString()} lines ·{' '}
        {state === 'complete'
          ? 'complete'
          : state === 'error'
            ? `error: ${error}`
            : follow
              ? 'following'
              : 'paused (scroll to the bottom or tick Follow to follow)'}
      </div>
    </section>
  );
}

// Memoized: lines never change once stored, so a row re-renders only when its marks do.
const Row = memo(function Row(props: {
  index: number;
  store: LogStore;
  selected: boolean;
  match: boolean;
  times: boolean;
  onLineClick: (line: number, extend: boolean) => void;
}) {
  const { index, store } = props;
  const line = index + 1;
  const meta = store.meta(index);
  return (
    <div
      className={`log-line${props.selected ? ' selected' : ''}${props.match ? ' match' : ''}${meta?.stream.toUpperCase() === 'STDERR' ? ' stderr' : ''}`}
      id={`L${line}`}
    >
      <a
        className="ln"
        href={formatLineHash(line)}
        onClick={(e) => {
          e.preventDefault();
          props.onLineClick(line, e.shiftKey);
        }}
      >
        {line}
      </a>
      {props.times && <span className="ts">{meta?.at.slice(11, 23)}</span>}
      <span className="text">
        <Line text={store.lines[index] ?? ''} />
      </span>
    </div>
  );
});
