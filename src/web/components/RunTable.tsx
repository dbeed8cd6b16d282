import { Link } from 'react-router';
import { StatusBadge } from './StatusBadge.js';
import { SortHeader } from './SortHeader.js';
import { formatDuration, formatTime } from '../lib/format.js';

export interface RunRow {
  runId: string;
  alias?: string;
  status: string;
  owner: string;
  clusterName: string;
  engine: string;
  queuedAt: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  exitCode?: number | null;
}

export function RunTable({
  runs,
  sort,
  onSort,
  showAlias = true,
}: {
  runs: readonly RunRow[];
  sort?: string;
  onSort?: (s: string) => void;
  showAlias?: boolean;
}) {
  const head = (label: string, field: string) =>
    sort !== undefined && onSort ? <SortHeader key={field} label={label} field={field} sort={sort} onSort={onSort} /> : <th key={field}>{label}</th>;
  return (
    <table className="table">
      <thead>
        <tr>
          {head('Run', 'RUN_ID')}
          {showAlias && head('Task', 'ALIAS')}
          {head('Status', 'STATUS')}
          {head('Owner', 'OWNER')}
          {head('Cluster', 'CLUSTER_NAME')}
          {head('Engine', 'ENGINE')}
          {head('Queued', 'QUEUED_AT')}
          <th>Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.runId}>
            <td className="mono">
              <Link to={`/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</Link>
            </td>
            {showAlias && <td>{r.alias}</td>}
            <td>
              <StatusBadge status={r.status} exitCode={r.exitCode} />
            </td>
            <td>{r.owner}</td>
            <td>{r.clusterName}</td>
            <td>{r.engine.toLowerCase()}</td>
            <td>{formatTime(r.queuedAt)}</td>
            <td>{formatDuration(r.startedAt, r.finishedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
