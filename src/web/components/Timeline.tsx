import { formatTime } from '../lib/format.js';

interface RunEvent {
  id: string;
  at: string;
  kind: string;
  fromStatus?: string | null;
  toStatus?: string | null;
  reason?: string | null;
  detail: unknown;
}

function describe(e: RunEvent): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  if (e.kind.toUpperCase() === 'STATUS') return `${e.fromStatus ?? 'new'} → ${e.toStatus ?? '?'}`;
  const message = typeof d.message === 'string' ? d.message : typeof d.reason === 'string' ? d.reason : '';
  const who = typeof d.by === 'string' ? d.by : typeof d.stoppedBy === 'string' ? d.stoppedBy : '';
  return [message, who ? `by ${who}` : ''].filter(Boolean).join(' ') || e.kind;
}

/** Why a run is where it is: status changes, engine events and user actions, oldest first. */
export function Timeline({ events }: { events: readonly RunEvent[] }) {
  if (events.length === 0) return <p className="state-empty">No events yet.</p>;
  return (
    <ol className="timeline">
      {events.map((e) => (
        <li key={e.id} className={`event event-${e.kind.toLowerCase()}`}>
          <time dateTime={e.at}>{formatTime(e.at)}</time>
          <span className="kind">{e.kind.toLowerCase()}</span>
          <span>{describe(e)}</span>
          {e.reason && <span className="reason">{e.reason}</span>}
        </li>
      ))}
    </ol>
  );
}
