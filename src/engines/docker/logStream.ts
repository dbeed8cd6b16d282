// Following a container's log stream until the container has finished, reconnecting from
// the last cursor when the connection drops.
import type Docker from 'dockerode';
import type { LogChunk } from '../types.js';
import { FrameDecoder, LogAssembler, parseCursor, type LogCursor } from './logs.js';
import { abortableSleep } from '../io.js';

interface DockerHttpError {
  statusCode?: number;
}

const notFound = (err: unknown) => (err as DockerHttpError)?.statusCode === 404;

/** The container has not been started yet (or is between restarts): wait before reading. */
const WAIT_FOR_START_MS = 200;

/**
 * Opens `GET /containers/{name}/logs` as a stream. dockerode buffers the whole answer in
 * memory when `follow` is false, so the request is dialled directly to stream in both cases.
 */
function openLogStream(docker: Docker, name: string, follow: boolean, since: number | undefined, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(name)}/logs?`,
        method: 'GET',
        options: { follow, stdout: true, stderr: true, timestamps: true, ...(since !== undefined ? { since } : {}) },
        abortSignal: signal,
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      } as unknown as Parameters<Docker['modem']['dial']>[0],
      (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream)),
    );
  });
}

export async function* followContainerLogs(docker: Docker, name: string, start: string | null, signal: AbortSignal): AsyncGenerator<LogChunk> {
  let cursor: LogCursor | null = parseCursor(start);
  while (!signal.aborted) {
    let state: { Status: string; Running: boolean };
    try {
      state = (await docker.getContainer(name).inspect({ abortSignal: signal })).State;
    } catch (err) {
      // Removed: whatever it wrote went with it, and nothing more will come.
      if (notFound(err) || signal.aborted) return;
      throw err;
    }
    if (state.Status === 'created' || state.Status === 'restarting') {
      await abortableSleep(WAIT_FOR_START_MS, signal);
      continue;
    }
    // A running container is followed; once it has finished, one more read without follow
    // picks up anything the followed read did not deliver before the daemon closed it.
    const follow = state.Running;
    const assembler = new LogAssembler(cursor);
    const decoder = new FrameDecoder();
    let stream: NodeJS.ReadableStream;
    try {
      stream = await openLogStream(docker, name, follow, assembler.since, signal);
    } catch (err) {
      if (notFound(err) || signal.aborted) return;
      throw err;
    }
    try {
      for await (const data of stream) {
        for (const frame of decoder.push(data as Buffer)) assembler.push(frame);
        for (const chunk of assembler.take()) {
          cursor = parseCursor(chunk.cursor);
          yield chunk;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // The connection dropped mid-stream: go round again from the last cursor.
      if (!follow) throw err;
      await abortableSleep(WAIT_FOR_START_MS, signal);
      continue;
    }
    if (!follow) {
      yield* assembler.finish();
      return;
    }
  }
}
