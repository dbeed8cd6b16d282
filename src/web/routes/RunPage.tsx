import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery, useSubscription } from 'urql';
import { RunQuery, RunStatusSubscription, StopRunMutation } from '../graphql/runs.js';
import { ErrorState, Loading, NotFound } from '../components/States.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { LogView } from '../components/LogView.js';
import { Timeline } from '../components/Timeline.js';
import { describeExit } from '../lib/exitReason.js';
import { formatCpu, formatDuration, formatMemory, formatTime } from '../lib/format.js';
import { useViewer } from '../components/AuthGate.js';
import { EnvTable } from '../components/EnvTable.js';

export function RunPage() {
  const viewer = useViewer();
  const { runId = '' } = useParams();
  const navigate = useNavigate();
  const [query, reexecute] = useQuery({ query: RunQuery, variables: { id: runId } });
  // The run as it is now, then after every change; completes after STOPPED.
  const [live] = useSubscription({ query: RunStatusSubscription, variables: { runId }, pause: !query.data?.run });
  const [stopping, stop] = useMutation(StopRunMutation);
  const [stopError, setStopError] = useState('');

  if (query.error && !query.data) return <ErrorState error={query.error} retry={() => reexecute({ requestPolicy: 'network-only' })} />;
  if (!query.data) return <Loading what="run" />;
  const fetched = query.data.run;
  if (!fetched) return <NotFound what="run" id={runId} />;
  const liveRun = live.data?.runStatus;
  // The subscription wins once it speaks, unless the query is newer (after a stop, say).
  const run = liveRun && liveRun.updatedAt >= fetched.updatedAt ? liveRun : fetched;
  const finished = run.status === 'STOPPED';

  const onStop = async () => {
    setStopError('');
    const res = await stop({ runId: run.runId });
    const out = res.data?.stopRun;
    if (out && out.__typename !== 'StopRunSuccess') setStopError('message' in out ? out.message : 'Stop failed');
    else if (!out) setStopError(res.error?.message ?? 'Stop failed');
    else reexecute({ requestPolicy: 'network-only' });
  };

  return (
    <section className="run-page">
      <p className="crumbs">
        <Link to="/runs">Runs</Link> / <Link to={`/tasks/${encodeURIComponent(run.definitionId)}`}>{run.alias}</Link> /
      </p>
      <div className="page-head">
        <h1>
          <span className="mono">{run.runId}</span>
        </h1>
        <StatusBadge status={run.status} exitCode={run.exitCode} />
        <span className="spacer" />
        <div className="actions">
          {!finished && viewer.can('run.stop') && (viewer.role === 'admin' || viewer.ownerId === null || viewer.ownerId === run.owner) && (
            <button type="button" className="danger" disabled={stopping.fetching} onClick={() => void onStop()}>
              Stop
            </button>
          )}
          {viewer.can('run.execute') && (
            <button
              type="button"
              onClick={() => void navigate(`/tasks/${encodeURIComponent(run.definitionId)}/execute?fromRun=${encodeURIComponent(run.runId)}`)}
            >
              Retry
            </button>
          )}
        </div>
      </div>
      {stopError && (
        <div className="banner banner-error" role="alert">
          {stopError}
        </div>
      )}
      <p className="outcome" data-testid="outcome">
        {finished
          ? describeExit(run.exitCode, run.exitReason)
          : run.status === 'RUNNING'
            ? `Running for ${formatDuration(run.startedAt, null)}`
            : run.status === 'NEEDS_RETRY'
              ? `Waiting to retry (attempt ${run.attempt} of ${run.maxAttempts})${run.lastError ? `: ${run.lastError}` : ''}`
              : `${run.status === 'QUEUED' ? 'Waiting for a worker' : 'Starting'} since ${formatTime(run.queuedAt)}`}
      </p>
      <div className="run-grid">
        <dl className="fields">
          <dt>Task</dt>
          <dd>
            <Link to={`/tasks/${encodeURIComponent(run.definitionId)}`}>{run.alias}</Link> (version {run.definitionVersion})
          </dd>
          <dt>Owner</dt>
          <dd>{run.owner}</dd>
          <dt>Image</dt>
          <dd className="mono">{run.image}</dd>
          <dt>Command</dt>
          <dd>{run.command ? <pre className="code">{run.command}</pre> : <em>image entrypoint</em>}</dd>
          <dt>Queued / started / finished</dt>
          <dd>
            {formatTime(run.queuedAt)} / {formatTime(run.startedAt)} / {formatTime(run.finishedAt)}
          </dd>
          <dt>Duration</dt>
          <dd>{formatDuration(run.startedAt, run.finishedAt)}</dd>
        </dl>
        <dl className="fields">
          <dt>Engine / cluster</dt>
          <dd>
            {run.engine.toLowerCase()} / {run.clusterName}
            {run.namespace ? ` (namespace ${run.namespace})` : ''}
            {run.engineRequested && run.engineRequested !== run.engine ? ` — asked for ${run.engineRequested.toLowerCase()}, ran on its substitute` : ''}
          </dd>
          <dt>Engine reference</dt>
          <dd className="mono">{[run.engineRef, run.podName, run.instanceId, run.instanceDnsName].filter(Boolean).join(' · ') || '—'}</dd>
          <dt>CPU requested / limit</dt>
          <dd>
            {formatCpu(run.cpu)} / {formatCpu(run.cpuLimit)}
          </dd>
          <dt>Memory requested / limit</dt>
          <dd>
            {formatMemory(run.memory)} / {formatMemory(run.memoryLimit)}
          </dd>
          {run.resourceReason && (
            <>
              <dt>Why these resources</dt>
              <dd className="resource-reason">{run.resourceReason}</dd>
            </>
          )}
          {(run.maxMemoryUsed != null || run.maxCpuUsed != null) && (
            <>
              <dt>Peak use</dt>
              <dd>
                {formatMemory(run.maxMemoryUsed)} · {formatCpu(run.maxCpuUsed)}
              </dd>
            </>
          )}
          <dt>GPU · storage</dt>
          <dd>
            {run.gpu ?? 0} · {formatMemory(run.ephemeralStorage)}
          </dd>
          <dt>Lifecycle · deadline</dt>
          <dd>
            {run.nodeLifecycle} · {run.activeDeadlineSeconds ? `${run.activeDeadlineSeconds}s` : '—'}
          </dd>
          <dt>Attempt</dt>
          <dd>
            {run.attempt} of {run.maxAttempts}
          </dd>
        </dl>
      </div>
      <details className="env-details">
        <summary>Environment ({run.env.length})</summary>
        <EnvTable env={run.env} />
      </details>
      <h2>Logs</h2>
      <LogView runId={run.runId} running={run.status === 'RUNNING'} />
      <h2>Timeline</h2>
      <Timeline events={run.events} />
    </section>
  );
}
