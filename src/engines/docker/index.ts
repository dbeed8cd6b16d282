// The docker engine (docs/engines.md "docker"): one container per run on one daemon.
import type Docker from 'dockerode';
import { PermanentEngineError, RetryableEngineError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Engine, EngineDescription, EngineEvent, EngineRun, LogChunk, MissingRun, StatusUpdate, SubmitResult } from '../types.js';
import { connectDocker, type DockerConnection } from './connection.js';
import { LABEL_ATTEMPT, LABEL_RUN_ID, buildCreateBody, containerName, imageReference } from './createBody.js';
import { watchContainerEvents } from './events.js';
import { followContainerLogs } from './logStream.js';
import { containerStatus, eventFromDocker, failureOutcome, type ContainerFacts, type DockerFailure } from './status.js';
import { ndjson } from '../io.js';

export { isDockerAvailable } from './connection.js';

export interface DockerEngineConfig {
  /** Daemon address in DOCKER_HOST form (`unix:///…`, `tcp://host:2375`); default the local socket. */
  host?: string;
  /** `HostConfig.NetworkMode` for run containers; default the daemon's (bridge). */
  networkMode?: string;
  /** Seconds between SIGTERM and SIGKILL when a run is terminated (default 10). */
  stopGraceSeconds?: number;
  /** How long pulling an image may take before the attempt is retried (default 10 minutes). */
  pullTimeoutMs?: number;
  /** Timeout for each ordinary API call (default 30 s). */
  requestTimeoutMs?: number;
}

interface HttpError {
  statusCode?: number;
  json?: { message?: string } | null;
}

const statusOf = (err: unknown) => (err as HttpError)?.statusCode;

/** The daemon's own message when it gave one, else the client's. */
function daemonMessage(err: unknown): string {
  const json = (err as HttpError)?.json;
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message;
  return errorMessage(err);
}

/** Runs a few async calls at a time: reconcile may be asked about hundreds of runs. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

class DockerEngine implements Engine {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  private readonly stopWatches = new Set<() => Promise<void>>();
  private readonly grace: number;
  private readonly pullTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly config: DockerEngineConfig,
    private readonly conn: DockerConnection,
    private readonly logger?: Logger,
  ) {
    this.docker = conn.docker;
    this.grace = config.stopGraceSeconds ?? 10;
    this.pullTimeoutMs = config.pullTimeoutMs ?? 10 * 60_000;
    this.requestTimeoutMs = config.requestTimeoutMs ?? 30_000;
  }

  private timeout(extraMs = 0): AbortSignal {
    return AbortSignal.timeout(this.requestTimeoutMs + extraMs);
  }

  /** A failure as the engine contract wants it: thrown for the worker, or a NEEDS_RETRY result. */
  private outcome(f: DockerFailure, engineRef: string, events: EngineEvent[]): SubmitResult {
    const out = failureOutcome(f);
    switch (out.status) {
      case 'NEEDS_RETRY':
        return { engineRef, status: 'NEEDS_RETRY', exitReason: out.exitReason, events };
      case 'PERMANENT':
        throw new PermanentEngineError(out.message);
      case 'RETRYABLE':
        throw new RetryableEngineError(out.message);
    }
  }

  /** Anything without an HTTP status is the daemon not answering: worth another try. */
  private unreachable(err: unknown, what: string): RetryableEngineError {
    return new RetryableEngineError(`Docker daemon at ${this.conn.address}: ${what} failed: ${daemonMessage(err)}`, { cause: err });
  }

  private async inspect(name: string): Promise<(ContainerFacts & Docker.ContainerInspectInfo) | null> {
    try {
      return await this.docker.getContainer(name).inspect({ abortSignal: this.timeout() });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw this.unreachable(err, `inspecting ${name}`);
    }
  }

  private async remove(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).remove({ force: true, v: true, abortSignal: this.timeout() } as Docker.ContainerRemoveOptions);
    } catch (err) {
      // 404: already gone; 409: another caller is removing it.
      if (statusOf(err) === 404 || statusOf(err) === 409) return;
      throw this.unreachable(err, `removing ${name}`);
    }
  }

  /** Pulls the image unless the daemon has it. Returns the failure instead of throwing. */
  private async ensureImage(image: string, events: EngineEvent[]): Promise<DockerFailure | null> {
    try {
      await this.docker.getImage(image).inspect();
      return null;
    } catch (err) {
      if (statusOf(err) === 400) return { kind: 'invalid', message: daemonMessage(err) };
      if (statusOf(err) !== 404) return { kind: 'unreachable', message: `Docker daemon at ${this.conn.address}: ${daemonMessage(err)}` };
    }
    const started = Date.now();
    try {
      const stream = (await this.docker.createImage({
        ...imageReference(image),
        abortSignal: AbortSignal.timeout(this.pullTimeoutMs),
      })) as NodeJS.ReadableStream;
      // Errors after the pull started arrive as {"error": …} lines in a 200 response.
      for await (const progress of ndjson<{ error?: string }>(stream)) {
        if (progress.error) return { kind: 'pull', message: progress.error };
      }
    } catch (err) {
      const code = statusOf(err);
      if (code === 400) return { kind: 'invalid', message: daemonMessage(err) };
      if (code !== undefined) return { kind: 'pull', message: daemonMessage(err) };
      if ((err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError') {
        return { kind: 'pull', message: `pulling ${image} took longer than ${Math.round(this.pullTimeoutMs / 1000)} s` };
      }
      return { kind: 'unreachable', message: `Docker daemon at ${this.conn.address}: pulling ${image} failed: ${daemonMessage(err)}` };
    }
    events.push({ at: new Date(), eventType: 'Normal', reason: 'Pulled', message: `Pulled image ${image} in ${((Date.now() - started) / 1000).toFixed(1)} s` });
    return null;
  }

  async submit(run: EngineRun): Promise<SubmitResult> {
    const name = containerName(run.runId);
    const events: EngineEvent[] = [];
    let info = await this.inspect(name);
    if (info && Number(info.Config?.Labels?.[LABEL_ATTEMPT] ?? 0) < run.attempt) {
      // Left by an earlier attempt that failed before its command ran: start afresh.
      await this.remove(name);
      info = null;
    }
    if (!info) {
      const pullFailure = await this.ensureImage(run.image, events);
      if (pullFailure) return this.outcome(pullFailure, name, events);
      try {
        await this.docker.createContainer({
          ...buildCreateBody(run, { networkMode: this.config.networkMode, stopGraceSeconds: this.grace }),
          abortSignal: this.timeout(),
        });
        events.push({ at: new Date(), eventType: 'Normal', reason: 'Created', message: `Created container ${name}`, sourceObject: `container/${name}` });
      } catch (err) {
        const code = statusOf(err);
        // 409: a concurrent submit of the same run created it first — use that one.
        if (code === 400) return this.outcome({ kind: 'invalid', message: daemonMessage(err) }, name, events);
        if (code === undefined) throw this.unreachable(err, `creating ${name}`);
        if (code !== 409) return this.outcome({ kind: 'create', message: daemonMessage(err) }, name, events);
      }
      info = await this.inspect(name);
      if (!info) return this.outcome({ kind: 'create', message: `container ${name} vanished right after it was created` }, name, events);
    }
    let startError: string | undefined;
    if (info.State.Status === 'created' && !info.State.Error) {
      try {
        await this.docker.getContainer(name).start({ abortSignal: this.timeout() });
      } catch (err) {
        const code = statusOf(err);
        if (code === undefined) throw this.unreachable(err, `starting ${name}`);
        // 304: already started by a concurrent submit.
        if (code !== 304) startError = daemonMessage(err);
      }
      info = (await this.inspect(name)) ?? info;
    }
    // The daemon usually records a failed start in State.Error; if it did not, its answer to
    // the start request is the reason, or the run would wait as PENDING for ever.
    const update = containerStatus(run.runId, info);
    const failed = startError && update.status === 'PENDING' ? this.outcome({ kind: 'start', message: startError }, name, events) : null;
    if (failed || update.status === 'NEEDS_RETRY') {
      // Nothing ran, so nothing is lost; the next attempt creates the container again.
      await this.remove(name).catch((err) => this.logger?.warn({ err, runId: run.runId }, 'could not remove a container that failed to start'));
    }
    if (failed) return failed;
    return {
      engineRef: name,
      status: update.status,
      podName: name,
      ...(update.startedAt ? { startedAt: update.startedAt } : {}),
      ...(update.finishedAt ? { finishedAt: update.finishedAt } : {}),
      ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
      ...(update.exitReason !== undefined ? { exitReason: update.exitReason } : {}),
      events,
    };
  }

  async reconcile(runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]> {
    return mapLimit(runs, 8, async (run) => {
      const info = await this.inspect(containerName(run.runId));
      if (!info) return { runId: run.runId, missing: true as const };
      return containerStatus(run.runId, info);
    });
  }

  watch(onUpdate: (update: StatusUpdate) => void): () => Promise<void> {
    const stop = watchContainerEvents(
      this.docker,
      async (event) => {
        const runId = event.Actor?.Attributes?.[LABEL_RUN_ID];
        const id = event.Actor?.ID;
        if (!runId || !id) return;
        const info = await this.inspect(id);
        if (!info) return;
        const update = containerStatus(runId, info);
        const timeline = eventFromDocker(event);
        onUpdate(timeline ? { ...update, events: [timeline] } : update);
      },
      this.logger,
    );
    const stopAndForget = async () => {
      this.stopWatches.delete(stopAndForget);
      await stop();
    };
    this.stopWatches.add(stopAndForget);
    return stopAndForget;
  }

  logs(run: EngineRun, cursor: string | null, signal: AbortSignal): AsyncIterable<LogChunk> {
    return followContainerLogs(this.docker, containerName(run.runId), cursor, signal);
  }

  async terminate(run: EngineRun, reason: string): Promise<void> {
    const name = containerName(run.runId);
    try {
      await this.docker.getContainer(name).stop({ t: this.grace, abortSignal: this.timeout(this.grace * 1000) } as Docker.ContainerStopOptions);
    } catch (err) {
      // 304: already stopped; 404: already gone.
      const code = statusOf(err);
      if (code === undefined) throw this.unreachable(err, `stopping ${name}`);
      if (code !== 304 && code !== 404) throw new RetryableEngineError(`stopping ${name}: ${daemonMessage(err)}`, { cause: err });
    }
    this.logger?.info({ runId: run.runId, reason }, 'docker container stopped');
    await this.remove(name);
  }

  async release(run: EngineRun): Promise<void> {
    const name = containerName(run.runId);
    const info = await this.inspect(name);
    // Only a finished container: release must never end a run that is still going.
    if (!info || info.State.Running || (info.State.Status === 'created' && !info.State.Error)) return;
    await this.remove(name);
  }

  async describe(): Promise<EngineDescription> {
    return { clusters: ['docker'], capabilities: ['memory-limit', 'cpu-limit', 'logs-follow', 'events-watch'] };
  }

  async close(): Promise<void> {
    await Promise.all([...this.stopWatches].map((stop) => stop()));
    this.conn.close();
  }
}

export function createDockerEngine(config: DockerEngineConfig = {}, deps: { logger?: Logger } = {}): Engine {
  return new DockerEngine(config, connectDocker(config.host), deps.logger);
}
