import { useCallback, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { DeleteTaskMutation, TaskQuery, TaskRunCountQuery, TaskRunsQuery } from '../graphql/tasks.js';
import { ErrorState, Empty, Loading, NotFound } from '../components/States.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { RunTable } from '../components/RunTable.js';
import { useUrlFilters } from '../components/useUrlFilters.js';
import { useLiveRefetch } from '../components/useLiveRefetch.js';
import { formatCpu, formatMemory, formatTime } from '../lib/format.js';
import { ALL_STATUSES } from './RunsPage.js';
import { useViewer } from '../components/AuthGate.js';
import { EnvTable } from '../components/EnvTable.js';

const SPECS = { status: { kind: 'list' }, more: { kind: 'int', default: 25 } } as const;
type RunStatus = (typeof ALL_STATUSES)[number];

export function TaskPage() {
  const { definitionId = '' } = useParams();
  const navigate = useNavigate();
  const [f, set] = useUrlFilters(SPECS);
  const [task, reexecTask] = useQuery({ query: TaskQuery, variables: { id: definitionId } });
  const runVars = useMemo(
    () => ({ id: definitionId, first: Math.min(f.more, 500), filter: { statuses: f.status.length ? (f.status as RunStatus[]) : null } }),
    [definitionId, f.more, f.status.join()],
  );
  const [runs, reexecRuns] = useQuery({ query: TaskRunsQuery, variables: runVars });
  const refetchRuns = useCallback(() => reexecRuns({ requestPolicy: 'network-only' }), [reexecRuns]);
  useLiveRefetch({ definitionId }, refetchRuns);
  const [confirming, setConfirming] = useState(false);
  const [count] = useQuery({ query: TaskRunCountQuery, variables: { id: definitionId }, pause: !confirming, requestPolicy: 'network-only' });
  const [deletion, deleteTask] = useMutation(DeleteTaskMutation);
  const viewer = useViewer();
  const [deleteError, setDeleteError] = useState('');

  if (task.error && !task.data) return <ErrorState error={task.error} retry={() => reexecTask({ requestPolicy: 'network-only' })} />;
  if (!task.data) return <Loading what="task" />;
  const t = task.data.taskDefinition;
  if (!t) return <NotFound what="task" id={definitionId} />;
  const conn = runs.data?.taskDefinition?.runs;
  const runCount = count.data?.taskDefinition?.runs.totalCount;

  const onDelete = async () => {
    const res = await deleteTask({ id: t.definitionId });
    const out = res.data?.deleteTaskDefinition;
    if (out?.__typename === 'DeleteTaskDefinitionSuccess') void navigate('/tasks', { replace: true });
    else setDeleteError(out && 'message' in out ? out.message : (res.error?.message ?? 'Delete failed'));
  };

  return (
    <section>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> /
      </p>
      <div className="page-head">
        <h1>{t.alias}</h1>
        <div className="actions">
          {viewer.can('run.execute') && (
            <Link className="button primary" to={`/tasks/${encodeURIComponent(t.definitionId)}/execute`}>
              Run
            </Link>
          )}
          {viewer.can('definition.update') && (
            <Link className="button" to={`/tasks/${encodeURIComponent(t.definitionId)}/update`}>
              Edit
            </Link>
          )}
          {viewer.can('definition.create') && (
            <Link className="button" to={`/tasks/${encodeURIComponent(t.definitionId)}/copy`}>
              Copy
            </Link>
          )}
          {viewer.can('definition.delete') && (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Delete
            </button>
          )}
        </div>
      </div>
      <dl className="fields">
        <dt>Definition id</dt>
        <dd className="mono">{t.definitionId}</dd>
        <dt>Group</dt>
        <dd>{t.groupName}</dd>
        <dt>Image</dt>
        <dd className="mono">{t.image}</dd>
        <dt>Command</dt>
        <dd>{t.command ? <pre className="code">{t.command}</pre> : <em>image entrypoint</em>}</dd>
        <dt>CPU</dt>
        <dd>{formatCpu(t.cpu)}</dd>
        <dt>Memory</dt>
        <dd>{formatMemory(t.memory)}</dd>
        <dt>GPU</dt>
        <dd>{t.gpu ?? '—'}</dd>
        <dt>Ephemeral storage</dt>
        <dd>{formatMemory(t.ephemeralStorage)}</dd>
        <dt>Target cluster</dt>
        <dd>{t.targetCluster ?? '—'}</dd>
        <dt>Ports</dt>
        <dd>{t.ports.length ? t.ports.join(', ') : '—'}</dd>
        <dt>Requires Docker</dt>
        <dd>{t.requiresDocker ? 'yes' : 'no'}</dd>
        <dt>Adaptive resources</dt>
        <dd>{t.adaptiveResourceAllocation ? 'yes' : 'no'}</dd>
        <dt>Tags</dt>
        <dd>
          {t.tags.length
            ? t.tags.map((tag) => (
                <span key={tag} className="tag">
                  {tag}
                </span>
              ))
            : '—'}
        </dd>
        <dt>Env</dt>
        <dd>{t.env.length ? <EnvTable env={t.env} /> : '—'}</dd>
        <dt>Version</dt>
        <dd>
          {t.version}, last updated {formatTime(t.updatedAt)} (created {formatTime(t.createdAt)})
        </dd>
      </dl>
      <h2>Runs</h2>
      <fieldset className="status-filter">
        <legend>Status</legend>
        {ALL_STATUSES.map((s) => (
          <label key={s} className="check">
            <input
              type="checkbox"
              checked={f.status.includes(s)}
              onChange={() => set({ status: f.status.includes(s) ? f.status.filter((x) => x !== s) : [...f.status, s] }, { push: true })}
            />{' '}
            {s}
          </label>
        ))}
      </fieldset>
      {runs.error && !conn ? (
        <ErrorState error={runs.error} retry={refetchRuns} />
      ) : !conn ? (
        <Loading what="runs" />
      ) : conn.edges.length === 0 ? (
        <Empty>{f.status.length ? 'No run of this task has these statuses.' : 'This task has not run yet. Press Run to start it.'}</Empty>
      ) : (
        <>
          <RunTable runs={conn.edges.map((e) => e.node)} showAlias={false} />
          {conn.pageInfo.hasNextPage && (
            <button type="button" onClick={() => set({ more: f.more + 25 })}>
              Show more ({conn.totalCount - conn.edges.length} older)
            </button>
          )}
        </>
      )}
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title={`Delete ${t.alias}?`}
        confirmLabel="Delete task"
        busy={deletion.fetching || runCount === undefined}
        onConfirm={() => void onDelete()}
      >
        <p>
          {runCount === undefined
            ? 'Counting its runs…'
            : runCount === 0
              ? 'It has no runs.'
              : `Its ${runCount} run${runCount === 1 ? ' stays' : 's stay'} readable by run id.`}{' '}
          The task is archived: it leaves the task list and its alias becomes free. A task with unfinished runs cannot be deleted until they stop.
        </p>
        {deleteError && <p className="field-error">{deleteError}</p>}
      </ConfirmDialog>
    </section>
  );
}
