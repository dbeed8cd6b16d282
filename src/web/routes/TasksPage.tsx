import { useMemo } from 'react';
import { Link } from 'react-router';
import { useQuery } from 'urql';
import { TaskChoicesQuery, TasksQuery } from '../graphql/tasks.js';
import { useUrlFilters } from '../components/useUrlFilters.js';
import { parseSort } from '../lib/urlFilters.js';
import { formatMemory, formatTime } from '../lib/format.js';
import { Empty, ErrorState, Loading } from '../components/States.js';
import { Pager } from '../components/Pager.js';
import { SortHeader } from '../components/SortHeader.js';
import { useViewer } from '../components/AuthGate.js';

const SPECS = {
  alias: { kind: 'string' },
  group: { kind: 'string' },
  image: { kind: 'string' },
  sort: { kind: 'string', default: 'ALIAS' },
  size: { kind: 'int', default: 25 },
  after: { kind: 'string' },
  before: { kind: 'string' },
} as const;

type TaskOrderField = 'ALIAS' | 'CREATED_AT' | 'GROUP_NAME' | 'IMAGE' | 'MEMORY';

export function TasksPage() {
  const viewer = useViewer();
  const [f, set] = useUrlFilters(SPECS);
  const sort = parseSort(f.sort);
  const size = Math.min(Math.max(f.size, 1), 500);
  const variables = useMemo(
    () => ({
      filter: { alias: f.alias || null, groupNames: f.group ? [f.group] : null, image: f.image || null },
      orderBy: sort ? { field: sort.field as TaskOrderField, direction: sort.direction } : null,
      ...(f.before ? { last: size, before: f.before } : { first: size, after: f.after || null }),
    }),
    [f.alias, f.group, f.image, sort?.field, sort?.direction, size, f.after, f.before],
  );
  const [result, reexecute] = useQuery({ query: TasksQuery, variables });
  const [choices] = useQuery({ query: TaskChoicesQuery });
  const groups = useMemo(() => [...new Set(choices.data?.taskDefinitions.edges.map((e) => e.node.groupName) ?? [])].sort(), [choices.data]);
  const conn = result.data?.taskDefinitions;

  return (
    <section>
      <div className="page-head">
        <h1>Tasks</h1>
        {viewer.can('definition.create') && (
          <Link className="button primary" to="/tasks/create">
            New task
          </Link>
        )}
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Alias
          <input type="search" value={f.alias} placeholder="Search by alias" onChange={(e) => set({ alias: e.target.value })} />
        </label>
        <label>
          Group
          <select value={f.group} onChange={(e) => set({ group: e.target.value }, { push: true })}>
            <option value="">All groups</option>
            {groups.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label>
          Image
          <input type="search" value={f.image} placeholder="Image contains" onChange={(e) => set({ image: e.target.value })} />
        </label>
      </form>
      {result.error && !conn ? (
        <ErrorState error={result.error} retry={() => reexecute({ requestPolicy: 'network-only' })} />
      ) : !conn ? (
        <Loading what="tasks" />
      ) : conn.edges.length === 0 ? (
        <Empty>
          {f.alias || f.group || f.image ? (
            'No task matches these filters.'
          ) : (
            <>
              No tasks yet. <Link to="/tasks/create">Define your first task</Link>: an image and a command, for example <code>alpine</code> and{' '}
              <code>echo hello $FLOTILLA_RUN_OWNER_ID</code>.
            </>
          )}
        </Empty>
      ) : (
        <>
          <table className="table">
            <thead>
              <tr>
                <SortHeader label="Alias" field="ALIAS" sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
                <SortHeader label="Group" field="GROUP_NAME" sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
                <SortHeader label="Image" field="IMAGE" sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
                <SortHeader label="Memory" field="MEMORY" sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
                <SortHeader label="Created" field="CREATED_AT" sort={f.sort} onSort={(s) => set({ sort: s }, { push: true })} />
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node }) => (
                <tr key={node.definitionId}>
                  <td>
                    <Link to={`/tasks/${encodeURIComponent(node.definitionId)}`}>{node.alias}</Link>
                  </td>
                  <td>{node.groupName}</td>
                  <td className="mono">{node.image}</td>
                  <td>{formatMemory(node.memory)}</td>
                  <td>{formatTime(node.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager pageInfo={conn.pageInfo} total={conn.totalCount} shown={conn.edges.length} onPage={(p) => set(p, { push: true })} />
        </>
      )}
    </section>
  );
}
