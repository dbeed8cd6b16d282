import { outcomeOf } from '../lib/exitReason.js';

export function StatusBadge({ status, exitCode }: { status: string; exitCode?: number | null }) {
  const outcome = outcomeOf(status, exitCode);
  const label = status === 'STOPPED' ? (exitCode === 0 ? 'SUCCESS' : 'FAILED') : status;
  return (
    <span className={`badge badge-${outcome}`} data-status={status}>
      {label}
    </span>
  );
}
