import { useCallback, useMemo } from 'react';
import { useQuery } from 'urql';
import { RunsQuery } from '../graphql/runs.js';
import { ClustersQuery } from '../graphql/clusters.js';
import { useUrlFilters } from '../components/useUrlFilters.js';
import { useLiveRefetch } from '../components/useLiveRefetch.js';
import { parseSort } from '../lib/urlFilters.js';
import { Empty, ErrorState, Loading } from '../components/States.js';
import { Pager } from '../components/Pager.js';
import { RunTable } from '../components/RunTable.js';

export const ALL_STATUSES = ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY', 'STOPPED'] as const;
type RunStatus = (typeof ALL_STATUSES)[number];
const ACTIVE: string[] = ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY'];
const ENGINES = ['local', 'docker', 'kubernetes', 'ecs'];

export const RUN_FILTER_SPECS = {
  status: { kind: 'list', default: ACTIVE },
  alias: { kind: 'string' },
  owner: { kind: 'string' },
  cluster: { kind: 'string' },
  engine: { kind: 'string' },
  from: { kind: 'string' },
  to: { kind: 'string' },
  sort: { kind: 'string', default: '-QUEUED_AT' },
  size: { kind: 'int', default: 25 },
  after: { kind: 'string' },
  before: { kind: 'string' },
} as const;

type RunOrderField =
  'ALIAS' | 'CLUSTER_NAME' | 'ENGINE' | 'EXIT_CODE' | 'FINISHED_AT' | 'GROUP_NAME' | 'OWNER' | 'QUEUED_AT' | 'RUN_ID' | 'STARTED_AT' | 'STATUS';

/** A datetime-local value (browser time) as an ISO instant; '' stays unset. */
function instant(local: string): string | null {
  if (!local) return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function RunsPage() {
  const [f, set] = useUrlFilters(RUN_FILTER_SPECS);
  const sort = parseSort(f.sort);
  const size = Math.min(Math.max(f.size, 1), 500);
  const variables = useMemo(
    () => ({
      filter: {
        statuses: f.status.length ? (f.status as RunStatus[]) : null,
        alias: f.alias || null,
        owner: f.owner || null,
        clusterName: f.cluster || null,
        engine: f.engine || null,
        queuedAfter: instant(f.from),
        queuedBefore: instant(f.to),
      },
      orderBy: sort ? { field: sort.field as RunOrderField, direction: sort.direction } : null,
      ...(f.before ? { last: size, before: f.before } : { first: size, after: f.after || null }),
    }),
    [f.status.join(), f.alias, f.owner, f.cluster, f.engine, f.from, f.to, sort?.field, sort?.direction, size, f.after, f.before],
  );
  const [result, reexecute] = useQuery({ query: RunsQuery, variables });
  const [clusters] = useQuery({ query: ClustersQuery });
  const refetch = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute]);
  useLiveRefetch(f.owner ? { owner: f.owner } : null, refetch);
  const conn = result.data?.runs;
  const toggleStatus = (s: string) => set({ status: f.status.includes(s) ? f.status.filter((x) => x !== s) : [...f.status, s] }, { push: true });

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <span className="live-dot" title="Updates live">
          live
        </span>
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="status-filter">
          <legend>Status</legend>
          {ALL_STATUSES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={f.status.includes(s)} onChange={() => toggleStatus(s)} /> {s}
            </label>
          ))}
          <button type="button" className="link" onClick={() => set({ status: [...ALL_STATUSES] }, { push: true })}>
            All
          </button>
          <button type="button" className="link" onClick={() => set({ status: ACTIVE }, { push: true })}>
            Active
          </button>
        </fieldset>
        <label>
          Task alias
          <input type="search" value={f.alias} onChange={(e) => set({ alias: e.target.value })} />
        </label>
        <label>
          Owner
          <input type="search" value={f.owner} onChange={(e) => set({ owner: e.target.value })} />
        </label>
        <label>
          Cluster
          <select value={f.cluster} onChange={(e) => set({ cluster: e.target.value }, { push: true })}>
            <option value="">Any cluster</option>
            {clusters.data?.clusters.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Engine
          <select value={f.engine} onChange={(e) => set({ engine: e.target.value }, { push: true })}>
            <option value="">Any engine</option>
            {ENGINES.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <label>
          Queued after
          <input type="datetime-local" value={f.from} onChange={(e) => set({ from: e.target.value })} />
        </label>
        <label>
          Queued before
          <input type="datetime-local" value={f.to} onChange={(e) => set({ to: e.target.value })} />
        </label>
      </form>
      {result.error && !conn ? (
        <ErrorState error={result.error} retry={refetch} />
      ) : !conn ? (
        <Loading what="runs" />
      ) : conn.edges.length === 0 ? (
        <Empty>
          {f.status.join() === ACTIVE.join() && !f.alias && !f.owner
            ? 'No active runs right now. Finished runs are under the STOPPED status.'
            : 'No run matches these filters.'}
        </Empty>
      ) : (
        <>
          <RunTable runs={conn.edges.map((e) => e.node)} sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
          <Pager pageInfo={conn.pageInfo} total={conn.totalCount} shown={conn.edges.length} onPage={(p) => set(p, { push: true })} />
        </>
      )}
    </section>
  );
}
