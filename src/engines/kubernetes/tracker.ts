// Push status for one cluster: one watch on Jobs, one on pods (both selected by the
// `flotilla-run-id` label) and one on pod events, whatever the number of runs. Each watch
// resumes from its last resourceVersion when the stream ends, and lists afresh when the API
// answers 410 Gone (the version fell out of the server's window).
import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { errorMessage } from '../../errors.js';
import { abortableSleep } from '../io.js';
import { httpStatusOf } from './apiErrors.js';
import type { ClusterClient, Listed } from './cluster.js';
import { RUN_ID_LABEL } from './jobManifest.js';
import { podBelongsTo, runIdOfPodName, toDate } from './status.js';

export interface TrackerOptions {
  client: ClusterClient;
  namespace: string;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Server-side watch timeout; the watch is reopened from its resourceVersion after it. */
  watchTimeoutSeconds: number;
  /** First delay before reopening a failed watch; doubles up to 30 s. */
  restartDelayMs: number;
  /** Something about this run's Job or pods changed. */
  onChange(runId: string): void;
  onPodEvent(runId: string, event: CoreV1Event): void;
}

export interface PodEntry {
  pod: V1Pod;
  deleted: boolean;
}

type Kind = 'jobs' | 'pods' | 'events';

export interface Tracker {
  job(runId: string): V1Job | undefined;
  /** The run's newest pod; a deleted pod's last known state is kept while its Job lives. */
  pod(runId: string): PodEntry | undefined;
  /** True once every watch has listed at least once. */
  synced(): boolean;
  stop(): Promise<void>;
}

function runIdOfJob(job: V1Job): string | undefined {
  return job.metadata?.name;
}

function runIdOfPod(pod: V1Pod): string | undefined {
  const labels = pod.metadata?.labels ?? {};
  return labels['batch.kubernetes.io/job-name'] ?? labels['job-name'] ?? (pod.metadata?.name ? runIdOfPodName(pod.metadata.name) : undefined);
}

const created = (p: V1Pod) => toDate(p.metadata?.creationTimestamp)?.getTime() ?? 0;

export function createTracker(opts: TrackerOptions): Tracker {
  const { client, namespace, logger } = opts;
  const jobs = new Map<string, V1Job>();
  const pods = new Map<string, Map<string, PodEntry>>();
  const listed = new Set<Kind>();
  const controllers = new Set<AbortController>();
  /** Aborted on stop: ends the waits between watch attempts. */
  const stopping = new AbortController();
  let stopped = false;

  function applyJob(type: string, job: V1Job): void {
    const runId = runIdOfJob(job);
    if (!runId) return;
    if (type === 'DELETED') {
      jobs.delete(runId);
      // Pods of a deleted Job are deleted with it; their last states are no longer needed.
      for (const [name, entry] of pods.get(runId) ?? []) if (entry.deleted) pods.get(runId)!.delete(name);
      if (pods.get(runId)?.size === 0) pods.delete(runId);
    } else {
      jobs.set(runId, job);
    }
    opts.onChange(runId);
  }

  function applyPod(type: string, pod: V1Pod): void {
    const runId = runIdOfPod(pod);
    const name = pod.metadata?.name;
    if (!runId || !name) return;
    let entries = pods.get(runId);
    if (type === 'DELETED' && !jobs.has(runId)) {
      entries?.delete(name);
      if (entries?.size === 0) pods.delete(runId);
      return;
    }
    if (!entries) pods.set(runId, (entries = new Map()));
    entries.set(name, { pod, deleted: type === 'DELETED' });
    opts.onChange(runId);
  }

  function applyEvent(type: string, event: CoreV1Event): void {
    if (type === 'DELETED' || event.involvedObject?.kind !== 'Pod' || !event.involvedObject.name) return;
    opts.onPodEvent(runIdOfPodName(event.involvedObject.name), event);
  }

  /** After a fresh list, whatever the cache holds that the list lacks was deleted meanwhile. */
  function replaceJobs(items: V1Job[]): void {
    const present = new Set(items.map(runIdOfJob));
    for (const [runId, job] of [...jobs]) if (!present.has(runId)) applyJob('DELETED', job);
    for (const job of items) applyJob('MODIFIED', job);
  }

  function replacePods(items: V1Pod[]): void {
    const present = new Set(items.map((p) => p.metadata?.name));
    for (const entries of [...pods.values()]) {
      for (const entry of [...entries.values()]) if (!entry.deleted && !present.has(entry.pod.metadata?.name)) applyPod('DELETED', entry.pod);
    }
    for (const pod of items) applyPod('MODIFIED', pod);
  }

  const sleep = (ms: number) => abortableSleep(ms, stopping.signal);

  async function loop<T>(
    kind: Kind,
    path: string,
    params: Record<string, string>,
    list: () => Promise<Listed<T>>,
    apply: (type: string, obj: T) => void,
    replace: (items: T[]) => void,
  ): Promise<void> {
    let resourceVersion = '';
    let mustList = true;
    let delay = opts.restartDelayMs;
    while (!stopped) {
      try {
        if (mustList) {
          const fresh = await list();
          if (stopped) return;
          replace(fresh.items);
          resourceVersion = fresh.resourceVersion;
          mustList = false;
          listed.add(kind);
        }
        const result = await new Promise<{ err: unknown; gone: boolean; events: number }>((resolve) => {
          let gone = false;
          let events = 0;
          let controller: AbortController | undefined;
          client
            .watch(
              path,
              { ...params, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: opts.watchTimeoutSeconds },
              (type, obj) => {
                const object = obj as { metadata?: { resourceVersion?: string }; code?: number };
                if (type === 'ERROR') {
                  // The API reports an expired resourceVersion as an ERROR event with a 410 Status.
                  if (object?.code === 410) gone = true;
                  controller?.abort();
                  return;
                }
                events += 1;
                if (object?.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
                if (type !== 'BOOKMARK') apply(type, obj as T);
              },
              (err) => {
                if (controller) controllers.delete(controller);
                resolve({ err, gone, events });
              },
            )
            .then((c) => {
              controller = c;
              controllers.add(c);
              if (stopped) c.abort();
            })
            .catch((err: unknown) => resolve({ err, gone, events }));
        });
        if (stopped) return;
        if (result.gone || httpStatusOf(result.err) === 410) {
          logger.info({ cluster: client.name, kind }, 'watch resourceVersion expired; listing afresh');
          mustList = true;
          continue;
        }
        if (result.err) throw result.err;
        // A clean end (server timeout or a dropped connection) resumes at once.
        delay = opts.restartDelayMs;
        if (result.events === 0) await sleep(delay);
      } catch (err) {
        if (stopped) return;
        logger.warn({ cluster: client.name, kind, err: errorMessage(err), retryInMs: delay }, 'watch failed; reopening');
        await sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  const base = `/namespaces/${encodeURIComponent(namespace)}`;
  const loops = [
    loop<V1Job>('jobs', `/apis/batch/v1${base}/jobs`, { labelSelector: RUN_ID_LABEL }, () => client.listJobs(namespace), applyJob, replaceJobs),
    loop<V1Pod>('pods', `/api/v1${base}/pods`, { labelSelector: RUN_ID_LABEL }, () => client.listPods(namespace), applyPod, replacePods),
    loop<CoreV1Event>(
      'events',
      `/api/v1${base}/events`,
      { fieldSelector: 'involvedObject.kind=Pod' },
      () => client.listPodEvents(namespace),
      applyEvent,
      (items) => items.forEach((e) => applyEvent('ADDED', e)),
    ),
  ];

  return {
    job: (runId) => jobs.get(runId),
    pod(runId) {
      const job = jobs.get(runId);
      const entries = [...(pods.get(runId)?.values() ?? [])].filter((e) => podBelongsTo(e.pod, job));
      entries.sort((a, b) => created(b.pod) - created(a.pod));
      return entries[0];
    },
    synced: () => listed.size === 3,
    async stop() {
      stopped = true;
      for (const c of controllers) c.abort();
      stopping.abort();
      await Promise.allSettled(loops);
    },
  };
}
