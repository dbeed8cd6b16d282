// The fake's Job controller and kubelet in one: for every Job created it makes a pod, moves
// it through Pending → Running → Succeeded/Failed while the Job's command is interpreted
// (script.ts), writes the pod log with timestamps, records pod events, and updates the Job's
// status and conditions as the real controllers do. The label `flotilla-test-scenario` on a
// Job picks a failure to play instead (see README.md).
import { randomBytes } from 'node:crypto';
import { interpret, type Step } from './script.js';
import type { KubeObject, Store } from './store.js';

export const SCENARIO_LABEL = 'flotilla-test-scenario';
export type Scenario = 'script' | 'hold' | 'oom-killed' | 'image-pull-backoff' | 'create-container-config-error' | 'evicted' | 'node-lost' | 'pod-deleted';

export interface LogLine {
  ts: string;
  text: string;
}

export interface PodLog {
  lines: LogLine[];
  ended: boolean;
  listeners: Set<() => void>;
}

export interface KubeletOptions {
  store: Store;
  /** Delay between lifecycle steps (pod created, scheduled, started, Job updated). */
  stepMs: number;
  nodeName: string;
  /** Real seconds per scripted `sleep` second. */
  sleepScale: number;
}

/** Go's RFC3339Nano: trailing zeros of the fraction trimmed, as kubelets print log times. */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? '.' + frac : ''}Z`;
}

const isoSeconds = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

interface Lifecycle {
  cancelled: boolean;
  finished: boolean;
  podName?: string;
  wake?: () => void;
}

export function createKubelet(opts: KubeletOptions) {
  const { store } = opts;
  const logs = new Map<string, PodLog>();
  const lifecycles = new Map<string, Lifecycle>();
  const timers = new Set<NodeJS.Timeout>();
  let eventSeq = 0;
  const key = (ns: string, name: string) => `${ns}/${name}`;

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function wait(life: Lifecycle, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        life.wake = undefined;
        resolve();
      }, ms);
      timers.add(t);
      life.wake = () => {
        clearTimeout(t);
        timers.delete(t);
        resolve();
      };
    });
  }

  function podLog(ns: string, pod: string): PodLog {
    let log = logs.get(key(ns, pod));
    if (!log) logs.set(key(ns, pod), (log = { lines: [], ended: false, listeners: new Set() }));
    return log;
  }

  function appendLog(ns: string, pod: string, text: string, ts = rfc3339Nano(Date.now())): void {
    const log = podLog(ns, pod);
    for (const line of text.split('\n')) log.lines.push({ ts, text: line });
    log.listeners.forEach((l) => l());
  }

  function endLog(ns: string, pod: string): void {
    const log = podLog(ns, pod);
    log.ended = true;
    log.listeners.forEach((l) => l());
  }

  function event(pod: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const now = isoSeconds();
    store.create('Event', {
      metadata: { name: `${pod.metadata.name}.${(++eventSeq).toString(16).padStart(8, '0')}`, namespace: pod.metadata.namespace },
      involvedObject: { kind: 'Pod', name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid, apiVersion: 'v1' },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: opts.nodeName },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }

  const updatePod = (ns: string, name: string, mutate: (p: KubeObject & { status: Record<string, unknown> }) => void) =>
    store.update('Pod', ns, name, (o) => {
      o.status ??= {};
      mutate(o as KubeObject & { status: Record<string, unknown> });
    });
  const updateJobStatus = (ns: string, name: string, status: Record<string, unknown>) =>
    store.update('Job', ns, name, (o) => {
      o.status = { ...(o.status as object), ...status };
    });

  function containerStatus(image: string, state: Record<string, unknown>, ready = false) {
    return [{ name: 'main', image, imageID: '', ready, restartCount: 0, started: 'running' in state, state }];
  }

  async function play(job: KubeObject, life: Lifecycle): Promise<void> {
    const ns = job.metadata.namespace;
    const jobName = job.metadata.name;
    const spec = job.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: Record<string, unknown> }; activeDeadlineSeconds?: number };
    const container = ((spec.template.spec.containers as Record<string, unknown>[] | undefined) ?? [])[0] ?? {};
    const image = String(container.image ?? '');
    const scenario = (job.metadata.labels?.[SCENARIO_LABEL] ?? 'script') as Scenario;

    await wait(life, opts.stepMs);
    if (life.cancelled) return;
    const podName = `${jobName}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    life.podName = podName;
    const pod = store.create('Pod', {
      metadata: {
        name: podName,
        namespace: ns,
        labels: {
          ...(spec.template.metadata?.labels ?? {}),
          'batch.kubernetes.io/job-name': jobName,
          'job-name': jobName,
          'batch.kubernetes.io/controller-uid': job.metadata.uid!,
          'controller-uid': job.metadata.uid!,
        },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid, controller: true }],
      },
      spec: structuredClone(spec.template.spec),
      status: { phase: 'Pending', qosClass: 'Guaranteed' },
    });
    updateJobStatus(ns, jobName, { active: 1, startTime: isoSeconds() });
    if (spec.activeDeadlineSeconds) later(spec.activeDeadlineSeconds * 1000, () => deadlineExceeded(ns, jobName, life));

    await wait(life, opts.stepMs);
    if (life.cancelled) return;
    updatePod(ns, podName, (p) => {
      (p.spec as Record<string, unknown>).nodeName = opts.nodeName;
      p.status.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: isoSeconds() }];
      p.status.containerStatuses = containerStatus(image, { waiting: { reason: 'ContainerCreating' } });
    });
    event(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${podName} to ${opts.nodeName}`);
    event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);

    if (scenario === 'image-pull-backoff') {
      const message = `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`;
      updatePod(ns, podName, (p) => (p.status.containerStatuses = containerStatus(image, { waiting: { reason: 'ErrImagePull', message } })));
      event(pod, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`);
      await wait(life, opts.stepMs);
      if (life.cancelled) return;
      updatePod(
        ns,
        podName,
        (p) => (p.status.containerStatuses = containerStatus(image, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } })),
      );
      event(pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
      return;
    }
    if (scenario === 'create-container-config-error') {
      updatePod(
        ns,
        podName,
        (p) =>
          (p.status.containerStatuses = containerStatus(image, { waiting: { reason: 'CreateContainerConfigError', message: 'secret "missing" not found' } })),
      );
      event(pod, 'Warning', 'Failed', 'Error: secret "missing" not found');
      return;
    }

    await wait(life, opts.stepMs);
    if (life.cancelled) return;
    const startedAt = isoSeconds();
    event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}"`);
    event(pod, 'Normal', 'Created', 'Created container main');
    event(pod, 'Normal', 'Started', 'Started container main');
    podLog(ns, podName);
    updatePod(ns, podName, (p) => {
      p.status.phase = 'Running';
      p.status.startTime = startedAt;
      p.status.containerStatuses = containerStatus(image, { running: { startedAt } }, true);
    });
    updateJobStatus(ns, jobName, { ready: 1 });
    if (scenario === 'hold') return;

    const command = Array.isArray(container.command) ? String((container.command as string[]).at(-1)) : '';
    const env: Record<string, string> = { HOSTNAME: podName };
    for (const e of (container.env as { name: string; value?: string }[] | undefined) ?? []) env[e.name] = e.value ?? '';
    const { steps } = interpret(command, env);
    let exitCode = 0;
    // Output written between two sleeps is one burst with one timestamp, as a fast loop's
    // lines usually are on a real node; stamping each line by the clock would let a pause of
    // this process (GC, a loaded machine) split a burst at random.
    let burst: string | undefined;
    for (const step of steps as Step[]) {
      if (life.cancelled) return;
      if (step.kind === 'echo') appendLog(ns, podName, step.text, (burst ??= rfc3339Nano(Date.now())));
      else if (step.kind === 'sleep') {
        burst = undefined;
        await wait(life, step.seconds * 1000 * opts.sleepScale);
      } else exitCode = step.code;
    }
    if (life.cancelled) return;

    const finishedAt = isoSeconds();
    const terminated = (code: number, reason: string) => ({
      terminated: { exitCode: code, reason, startedAt, finishedAt, containerID: `containerd://${podName}` },
    });
    switch (scenario) {
      case 'oom-killed':
        finishPod(ns, podName, 'Failed', containerStatus(image, terminated(137, 'OOMKilled')));
        break;
      case 'evicted':
        finishPod(ns, podName, 'Failed', containerStatus(image, terminated(137, 'Error')), (p) => {
          p.status.reason = 'Evicted';
          p.status.message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi.';
          p.status.conditions = [
            { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: 'The node was low on resource: memory.' },
          ];
        });
        event(pod, 'Warning', 'Evicted', 'The node was low on resource: memory.');
        break;
      case 'node-lost':
        endLog(ns, podName);
        store.remove('Pod', ns, podName);
        break;
      default:
        finishPod(ns, podName, exitCode === 0 ? 'Succeeded' : 'Failed', containerStatus(image, terminated(exitCode, exitCode === 0 ? 'Completed' : 'Error')));
    }
    life.finished = true;

    await wait(life, opts.stepMs);
    if (life.cancelled) return;
    const now = isoSeconds();
    if (exitCode === 0 && (scenario === 'script' || scenario === 'pod-deleted')) {
      updateJobStatus(ns, jobName, {
        active: 0,
        ready: 0,
        succeeded: 1,
        completionTime: now,
        conditions: [
          {
            type: 'SuccessCriteriaMet',
            status: 'True',
            reason: 'CompletionsReached',
            message: 'Reached expected number of succeeded pods',
            lastTransitionTime: now,
          },
          { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastTransitionTime: now },
        ],
      });
    } else {
      updateJobStatus(ns, jobName, {
        active: 0,
        ready: 0,
        failed: 1,
        conditions: [
          { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now },
        ],
      });
    }
    if (scenario === 'pod-deleted') {
      endLog(ns, podName);
      store.remove('Pod', ns, podName);
      logs.delete(key(ns, podName));
    }
  }

  function finishPod(
    ns: string,
    podName: string,
    phase: string,
    statuses: unknown,
    extra?: (p: KubeObject & { status: Record<string, unknown> }) => void,
  ): void {
    updatePod(ns, podName, (p) => {
      p.status.phase = phase;
      p.status.containerStatuses = statuses;
      extra?.(p);
    });
    endLog(ns, podName);
  }

  function deadlineExceeded(ns: string, jobName: string, life: Lifecycle): void {
    if (life.cancelled || life.finished) return;
    life.cancelled = true;
    life.wake?.();
    const now = isoSeconds();
    // The Job controller marks the Job first, then removes its active pod.
    updateJobStatus(ns, jobName, {
      active: 0,
      failed: 1,
      conditions: [
        { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: now },
      ],
    });
    if (life.podName) killPod(ns, life.podName);
  }

  /** Graceful deletion: deletionTimestamp, container ends with SIGTERM's 143, then the pod goes. */
  function killPod(ns: string, podName: string): void {
    const pod = store.get('Pod', ns, podName);
    if (!pod) return;
    updatePod(ns, podName, (p) => {
      p.metadata.deletionTimestamp = isoSeconds();
      const statuses = p.status.containerStatuses as { state?: Record<string, unknown> }[] | undefined;
      const c = statuses?.[0];
      if (c?.state && 'running' in c.state) {
        const running = c.state.running as { startedAt?: string };
        c.state = { terminated: { exitCode: 143, reason: 'Error', startedAt: running.startedAt, finishedAt: isoSeconds() } };
        p.status.phase = 'Failed';
      }
    });
    endLog(ns, podName);
    later(opts.stepMs, () => {
      store.remove('Pod', ns, podName);
      logs.delete(key(ns, podName));
    });
  }

  const unsubscribe = store.subscribe((change) => {
    const { metadata } = change.object;
    const k = key(metadata.namespace, metadata.name);
    if (change.kind === 'Job' && change.type === 'ADDED') {
      const life: Lifecycle = { cancelled: false, finished: false };
      lifecycles.set(k, life);
      // After the current request has been answered, as a controller would.
      setImmediate(() => void play(change.object, life));
    } else if (change.kind === 'Job' && change.type === 'DELETED') {
      const life = lifecycles.get(k);
      lifecycles.delete(k);
      if (life) {
        life.cancelled = true;
        life.wake?.();
      }
      for (const pod of store.list('Pod', metadata.namespace, (p) => p.metadata.labels?.['job-name'] === metadata.name))
        killPod(metadata.namespace, pod.metadata.name);
    } else if (change.kind === 'Pod' && change.type === 'DELETED') {
      const log = logs.get(k);
      if (log && !log.ended) endLog(metadata.namespace, metadata.name);
      const jobName = metadata.labels?.['job-name'];
      const life = jobName ? lifecycles.get(key(metadata.namespace, jobName)) : undefined;
      if (life && !life.finished && !life.cancelled) {
        // A pod deleted under a running Job: the Job fails (backoffLimit 0).
        life.cancelled = true;
        life.wake?.();
        later(opts.stepMs, () =>
          updateJobStatus(metadata.namespace, jobName!, {
            active: 0,
            failed: 1,
            conditions: [
              {
                type: 'Failed',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
                lastTransitionTime: isoSeconds(),
              },
            ],
          }),
        );
      }
    }
  });

  return {
    log: (ns: string, pod: string): PodLog | undefined => logs.get(key(ns, pod)),
    close(): void {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const life of lifecycles.values()) {
        life.cancelled = true;
        life.wake?.();
      }
    },
  };
}

export type Kubelet = ReturnType<typeof createKubelet>;
