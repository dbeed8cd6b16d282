// A run's log as it grows: `runLogs` from the start (stored chunks, then live ones). When the
// connection comes back after a drop, it subscribes again from the last kept cursor; any
// chunk seen twice meanwhile is dropped by its seq, so each line shows exactly once.
import { useEffect, useRef, useState } from 'react';
import { stringifyDocument } from '@urql/core';
import { ws } from '../graphql/client.js';
import { RunLogsSubscription } from '../graphql/runs.js';
import { connection } from '../lib/connectionState.js';
import { LogStore, type LogChunk } from '../lib/logStore.js';
import { sha256Hex } from '../lib/sha256.js';

export type LogState = 'streaming' | 'complete' | 'error';

const QUERY = stringifyDocument(RunLogsSubscription);
const RENDER_EVERY_MS = 100;

export function useRunLogs(runId: string) {
  const [store, setStore] = useState(() => new LogStore());
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<LogState>('streaming');
  const [error, setError] = useState('');
  const raf = useRef(0);

  useEffect(() => {
    const s = new LogStore();
    setStore(s);
    setState('streaming');
    setError('');
    let done = false;
    let closed = false;
    let dispose: (() => void) | undefined;
    let droppedSince = false;
    // One re-render per RENDER_EVERY_MS however many chunks arrive meanwhile: a fast log
    // then costs a few renders a second, not one per chunk (or per frame).
    let lastRender = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const render = () => {
      timer = undefined;
      raf.current = requestAnimationFrame(() => {
        raf.current = 0;
        lastRender = performance.now();
        setVersion((v) => v + 1);
      });
    };
    const bump = () => {
      if (timer !== undefined || raf.current) return;
      timer = setTimeout(render, Math.max(0, RENDER_EVERY_MS - (performance.now() - lastRender)));
    };
    const start = async () => {
      const sha256Hash = await sha256Hex(QUERY);
      if (closed || done) return;
      dispose?.();
      droppedSince = false;
      dispose = ws.subscribe<{ runLogs: LogChunk }>(
        { query: QUERY, variables: { runId, after: s.cursor ?? null }, extensions: { persistedQuery: { version: 1, sha256Hash } } },
        {
          next(msg) {
            const chunk = msg.data?.runLogs;
            if (!chunk) {
              if (msg.errors?.length) {
                setError(msg.errors.map((e) => e.message).join('; '));
                setState('error');
              }
              return;
            }
            const added = s.add(chunk);
            if (added === 'added') bump();
            // A gap would mean lost lines: ask again from the last kept cursor.
            else if (added === 'gap') void start();
          },
          error(err) {
            setError(
              err instanceof Error ? err.message : Array.isArray(err) ? err.map((e: { message?: string }) => e.message).join('; ') : 'The log stream failed',
            );
            setState('error');
          },
          complete() {
            if (closed) return;
            done = true;
            setState('complete');
            bump();
          },
        },
      );
    };
    void start();
    const off = connection.subscribe((c) => {
      if (c === 'reconnecting') droppedSince = true;
      else if (c === 'connected' && droppedSince && !done) void start();
    });
    return () => {
      closed = true;
      off();
      dispose?.();
      clearTimeout(timer);
      cancelAnimationFrame(raf.current);
      raf.current = 0;
    };
  }, [runId]);

  return { store, version, state, error };
}
