// Pure builders for what the Docker engine sends to the daemon: the container name, the
// create body and the image reference to pull. No I/O here, so unit tests pin the output.
import type { ContainerCreateOptions } from 'dockerode';
import type { EngineRun } from '../types.js';

export const LABEL_RUN_ID = 'flotilla-run-id';
export const LABEL_DEFINITION_ID = 'flotilla-definition-id';
export const LABEL_OWNER = 'owner';
/**
 * A retry of a run reuses its run id, so the container name repeats: the attempt label tells a
 * container left by an earlier (failed) attempt from the one this attempt created.
 */
export const LABEL_ATTEMPT = 'flotilla-attempt';

const MIB = 1024 * 1024;

export interface CreateBodyOptions {
  /** `HostConfig.NetworkMode`; undefined = the daemon's default network (bridge). */
  networkMode?: string;
  /** Seconds between SIGTERM and SIGKILL when the container is stopped. */
  stopGraceSeconds: number;
}

/** The container name is the idempotency key: creating it twice is a 409 from the daemon. */
export function containerName(runId: string): string {
  return `flotilla-${runId}`;
}

/**
 * Classic task commands are written for bash, but small images (busybox, alpine) only have
 * sh: use bash when the image has it, else /bin/sh. `exec` keeps the command's exit code and
 * makes it PID 1's direct replacement, so `docker stop` signals the command itself.
 */
export const SHELL_WRAPPER = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; else exec /bin/sh -c "$1"; fi';

export function buildCreateBody(run: EngineRun, opts: CreateBodyOptions): ContainerCreateOptions {
  const labels: Record<string, string> = {
    ...run.labels,
    [LABEL_RUN_ID]: run.runId,
    [LABEL_DEFINITION_ID]: run.definitionId,
    [LABEL_OWNER]: run.owner,
    [LABEL_ATTEMPT]: String(run.attempt),
  };
  const memoryBytes = run.memory * MIB;
  const body: ContainerCreateOptions = {
    name: containerName(run.runId),
    Image: run.image,
    Env: run.env.map((e) => `${e.name}=${e.value}`),
    Labels: labels,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    StopTimeout: opts.stopGraceSeconds,
    HostConfig: {
      Memory: memoryBytes,
      // Equal to Memory: no swap on top of the limit, so exceeding it is an OOM kill (137)
      // rather than a slow swap storm, the same as on Kubernetes and ECS.
      MemorySwap: memoryBytes,
      NanoCpus: Math.round((run.cpu / 1024) * 1e9),
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      // The container is removed by release() once its logs are collected, not on exit.
      AutoRemove: false,
      // No docker-init: with it, an image without /bin/sh would look like the command
      // exiting 127 instead of a start failure to retry. As on Kubernetes and ECS, a command
      // that ignores SIGTERM as PID 1 is killed when the stop grace period ends.
      ...(opts.networkMode !== undefined ? { NetworkMode: opts.networkMode } : {}),
      ...(run.gpu && run.gpu > 0 ? { DeviceRequests: [{ Driver: 'nvidia', Count: run.gpu, Capabilities: [['gpu']] }] } : {}),
    },
  };
  if (run.command !== null && run.command.trim() !== '') {
    // Entrypoint is replaced too: an image ENTRYPOINT would otherwise receive the shell as
    // its arguments. "$0" names the process in `ps`; "$1" is the command.
    body.Entrypoint = ['/bin/sh', '-c', SHELL_WRAPPER, 'flotilla-run', run.command];
    body.Cmd = [];
  }
  return body;
}

/**
 * `POST /images/create` parameters for an image string. Without a tag the daemon would pull
 * every tag of the repository, so the implicit `latest` is made explicit; a digest
 * (`repo@sha256:…`) travels in `tag`, as the API expects.
 */
export function imageReference(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  // A colon before the last slash belongs to a registry port (localhost:5000/app).
  if (colon > image.lastIndexOf('/')) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}
