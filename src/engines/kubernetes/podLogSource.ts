// Where a run's log is to be read: the run's current pod, found in the watch cache when the
// engine is watching (no request), otherwise with one read of the Job and one pod list.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { ClusterClient } from './cluster.js';
import { CONTAINER_NAME, RUN_ID_LABEL, sanitizeLabelValue } from './jobManifest.js';
import type { LogSource, PodLocation } from './logs.js';
import { isJobFinished, podBelongsTo, toDate } from './status.js';
import type { PodEntry, Tracker } from './tracker.js';

const createdAt = (pod: V1Pod) => toDate(pod.metadata?.creationTimestamp)?.getTime() ?? 0;

/** The newest of a run's pods that its current Job made. */
export function newestPod(pods: V1Pod[], job: V1Job | undefined): V1Pod | undefined {
  let best: V1Pod | undefined;
  for (const pod of pods) if (podBelongsTo(pod, job) && (!best || createdAt(pod) >= createdAt(best))) best = pod;
  return best;
}

export function createPodLogSource(runId: string, namespace: string, client: ClusterClient, tracker: Tracker | undefined): LogSource {
  return {
    async locate(): Promise<PodLocation> {
      let job = tracker?.job(runId);
      let entry: PodEntry | undefined = job ? tracker?.pod(runId) : undefined;
      if (!job) {
        job = await client.readJob(runId, namespace);
        if (!job) return { kind: 'gone' };
        const pods = await client.listPods(namespace, `${RUN_ID_LABEL}=${sanitizeLabelValue(runId)}`);
        const newest = newestPod(pods.items, job);
        entry = newest ? { pod: newest, deleted: false } : undefined;
      }
      if (!entry) return isJobFinished(job) ? { kind: 'gone' } : { kind: 'waiting' };
      if (entry.deleted) return { kind: 'gone' };
      const container = entry.pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
      if (container?.state?.running || container?.state?.terminated) return { kind: 'ready', podName: entry.pod.metadata!.name!, namespace };
      const phase = entry.pod.status?.phase;
      // A pod that ended without its container ever starting has no log to read.
      if (phase === 'Succeeded' || phase === 'Failed' || isJobFinished(job)) return { kind: 'gone' };
      return { kind: 'waiting' };
    },
    stream: (path, query, signal) => client.stream(path, query, signal),
    async finished(podName, podNamespace) {
      // Asked of the API rather than the watch cache: the cache may lag the end of the stream.
      const pod = await client.readPod(podName, podNamespace);
      if (!pod) return true;
      const container = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
      return Boolean(container?.state?.terminated) || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    },
  };
}
