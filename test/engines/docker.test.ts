// The docker engine against a real dockerd. CI starts a private one:
//   eval "$(scripts/ci/dockerd.sh start)"   → TEST_DOCKER_HOST, TEST_DOCKER_IMAGE
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCreateBody, containerName } from '../../src/engines/docker/createBody.js';
import { createDockerEngine, isDockerAvailable, type DockerEngineConfig } from '../../src/engines/docker/index.js';
import type { Engine, EngineRun, LogChunk, StatusUpdate } from '../../src/engines/types.js';
import { collectLogs, engineConformance, makeEngineRun, waitForEnd } from './conformance.js';

const HOST = process.env.TEST_DOCKER_HOST || undefined;
const IMAGE = process.env.TEST_DOCKER_IMAGE || 'flotilla-test:latest';
const START = 'eval "$(scripts/ci/dockerd.sh start)"';

if (!HOST) {
  if (process.env.CI) {
    throw new Error(`TEST_DOCKER_HOST is not set, but CI is: the docker engine tests must run in CI. Start the private daemon first: ${START}`);
  }
  console.warn(`docker engine tests skipped: TEST_DOCKER_HOST is not set (no Docker daemon to test against). To run them: ${START}`);
}

// Runs that need no network; the CI daemon has no bridge anyway. `sleep` as PID 1 ignores
// SIGTERM, so stop waits out the grace period: a short one keeps the tests fast.
const CONFIG: DockerEngineConfig = { host: HOST, networkMode: 'none', stopGraceSeconds: 1 };
const OWNER = 'docker-engine-test';

function dockerClient(): Docker {
  const socketPath = HOST!.replace(/^unix:\/\//, '');
  return HOST!.startsWith('unix://')
    ? new Docker({ socketPath, host: undefined })
    : new Docker({ host: new URL(HOST!).hostname, port: new URL(HOST!).port, socketPath: undefined });
}

async function removeTestContainers(docker: Docker, owner: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`owner=${owner}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

/** A tar holding one empty directory: an image without /bin/sh, whose containers cannot start. */
function tarWithEmptyDir(name: string): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => header.write(value.padEnd(length, '\0').slice(0, length), offset, 'latin1');
  field(name, 0, 100);
  field('0000755', 100, 8);
  field('0000000', 108, 8);
  field('0000000', 116, 8);
  field('00000000000', 124, 12);
  field(
    Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0'),
    136,
    12,
  );
  field('        ', 148, 8);
  field('5', 156, 1);
  field('ustar', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return Buffer.concat([header, Buffer.alloc(1024)]);
}

/** A unix-socket relay to the daemon whose connections a test can cut, as a flaky network would. */
async function startRelay(): Promise<{ host: string; cut(): void; close(): Promise<void> }> {
  const path = join(tmpdir(), `flotilla-docker-relay-${process.pid}-${Date.now()}.sock`);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(HOST!.replace(/^unix:\/\//, ''));
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const cut = () => {
    for (const s of open) s.destroy();
  };
  return {
    host: `unix://${path}`,
    cut,
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}

async function drain(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const data of stream) out += String(data);
  return out;
}

describe.skipIf(!HOST)('docker engine: shared behaviours', () => {
  engineConformance('docker', {
    setup: async () => createDockerEngine(CONFIG),
    teardown: async () => removeTestContainers(dockerClient(), 'conformance'),
    image: IMAGE,
    timeoutMs: 20_000,
  });
});

describe.skipIf(!HOST)('docker engine', () => {
  let engine: Engine;
  let docker: Docker;

  beforeAll(async () => {
    if (!(await isDockerAvailable(HOST, 3000))) {
      throw new Error(`TEST_DOCKER_HOST=${HOST} does not answer. Start the private daemon: ${START}`);
    }
    docker = dockerClient();
    engine = createDockerEngine(CONFIG);
  });
  afterAll(async () => {
    await engine?.close();
    if (docker) await removeTestContainers(docker, OWNER);
  });

  async function launch(command: string | null, extra: Partial<EngineRun> = {}) {
    const run = makeEngineRun('docker', { image: IMAGE, command, owner: OWNER, ...extra });
    const submitted = await engine.submit(run);
    run.engineRef = submitted.engineRef;
    run.status = submitted.status;
    return { run, submitted };
  }

  const text = (chunks: LogChunk[], stream?: 'stdout' | 'stderr') =>
    chunks
      .filter((c) => !stream || c.stream === stream)
      .map((c) => c.text)
      .join('');

  it('runs hello world with the image shell, with the labels, env and limits of the run', async () => {
    const { run, submitted } = await launch('echo "hello from $GREETING"', { env: [{ name: 'GREETING', value: 'docker' }], cpu: 512, memory: 600 });
    expect(submitted.engineRef).toBe(containerName(run.runId));
    expect(['RUNNING', 'STOPPED']).toContain(submitted.status);
    const end = await waitForEnd(engine, run);
    expect(end).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'Exited successfully', granted: { cpu: 512, memory: 600 } });
    expect(end.startedAt).toBeInstanceOf(Date);
    expect(end.finishedAt).toBeInstanceOf(Date);
    expect(text(await collectLogs(engine, run), 'stdout')).toBe('hello from docker\n');

    const info = await docker.getContainer(containerName(run.runId)).inspect();
    expect(info.Config.Labels).toMatchObject({ 'flotilla-run-id': run.runId, 'flotilla-definition-id': run.definitionId, owner: OWNER });
    expect(info.HostConfig.Memory).toBe(600 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
  });

  it('reports a non-zero exit code, with stderr kept apart from stdout', async () => {
    const { run } = await launch('echo to-out; echo to-err >&2; exit 7');
    const end = await waitForEnd(engine, run);
    expect(end).toMatchObject({ status: 'STOPPED', exitCode: 7, exitReason: 'Error' });
    const logs = await collectLogs(engine, run);
    expect(text(logs, 'stdout')).toBe('to-out\n');
    expect(text(logs, 'stderr')).toBe('to-err\n');
  });

  it('reports a memory limit exceeded as 137 OOMKilled', async () => {
    // The engine applies the run's (already clamped) memory as is; 16 MB fills in a moment.
    const { run } = await launch('x=0123456789; while true; do x="$x$x"; done', { memory: 16 });
    const end = await waitForEnd(engine, run);
    expect(end).toMatchObject({ status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled' });
  });

  it('asks for a retry when the image cannot be pulled, and leaves no container', async () => {
    const image = `flotilla-test-missing-${Date.now()}:does-not-exist`;
    const { run, submitted } = await launch('echo never', { image });
    expect(submitted.status).toBe('NEEDS_RETRY');
    expect(submitted.exitReason).toMatch(/^CannotPullContainerError: ./);
    expect(submitted.exitCode ?? null).toBeNull();
    expect(await engine.reconcile([run])).toEqual([{ runId: run.runId, missing: true }]);
  });

  it('asks for a retry when the container cannot start, on every attempt', async () => {
    const stream = (await docker.importImage(Readable.from([tarWithEmptyDir('etc/')]) as unknown as NodeJS.ReadableStream, {
      repo: 'flotilla-test-noshell',
      tag: 'latest',
    })) as NodeJS.ReadableStream;
    await drain(stream);
    const { run, submitted } = await launch('echo never', { image: 'flotilla-test-noshell:latest' });
    expect(submitted.status).toBe('NEEDS_RETRY');
    expect(submitted.exitReason).toMatch(/^CannotStartContainerError: .*\/bin\/sh/);
    const again = await engine.submit({ ...run, attempt: 2 });
    expect(again.status).toBe('NEEDS_RETRY');
    expect(await docker.listContainers({ all: true, filters: { label: [`flotilla-run-id=${run.runId}`] } })).toEqual([]);
  });

  it('asks for a retry when the daemon cannot create or start the container', async () => {
    // An unknown network is refused at create by newer daemons and at start by 20.10.
    const broken = createDockerEngine({ ...CONFIG, networkMode: 'flotilla-no-such-network' });
    try {
      const run = makeEngineRun('docker', { image: IMAGE, owner: OWNER });
      const submitted = await broken.submit(run);
      expect(submitted.status).toBe('NEEDS_RETRY');
      expect(submitted.exitReason).toMatch(/^Cannot(Create|Start)ContainerError: .*flotilla-no-such-network/);
    } finally {
      await broken.close();
    }
  });

  it('submits twice, or after a worker died between create and start, into one container', async () => {
    const { run, submitted } = await launch('sleep 30');
    const again = await engine.submit(run);
    expect(again.engineRef).toBe(submitted.engineRef);
    const byLabel = () => docker.listContainers({ all: true, filters: { label: [`flotilla-run-id=${run.runId}`] } });
    expect(await byLabel()).toHaveLength(1);
    await engine.terminate(run, 'test cleanup');

    // The first worker created the container and died before starting it.
    const orphan = makeEngineRun('docker', { image: IMAGE, owner: OWNER, command: 'echo started by the second worker' });
    await docker.createContainer(buildCreateBody(orphan, { networkMode: 'none', stopGraceSeconds: 1 }));
    const resumed = await engine.submit(orphan);
    expect(['RUNNING', 'STOPPED']).toContain(resumed.status);
    expect(await waitForEnd(engine, orphan)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    expect(await docker.listContainers({ all: true, filters: { label: [`flotilla-run-id=${orphan.runId}`] } })).toHaveLength(1);
  });

  it('stops a run with a grace period, removes it, and is fine when it is already gone', async () => {
    const { run } = await launch('sleep 600');
    const started = Date.now();
    await engine.terminate(run, 'Task terminated by user');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await engine.reconcile([run])).toEqual([{ runId: run.runId, missing: true }]);
    await engine.terminate(run, 'Task terminated by user');
  });

  it('resumes logs after a restart of the collector without a duplicate or a lost line', async () => {
    const { run } = await launch('for i in $(seq 1 40); do echo "line $i"; if [ $((i % 10)) = 0 ]; then echo "mark $i" >&2; fi; sleep 0.02; done');
    // The first collector reads part of the output while the run is going, then dies.
    const first: LogChunk[] = [];
    const ac = new AbortController();
    for await (const chunk of engine.logs(run, null, ac.signal)) {
      first.push(chunk);
      if (text(first).split('\n').length > 10) break;
    }
    ac.abort();
    const end = await waitForEnd(engine, run);
    expect(end.exitCode).toBe(0);
    // The next one starts from the last stored cursor.
    const rest = await collectLogs(engine, run, first.at(-1)!.cursor);
    const all = [...first, ...rest];
    expect(text(all, 'stdout')).toBe(Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(text(all, 'stderr')).toBe('mark 10\nmark 20\nmark 30\nmark 40\n');
    for (const c of all) expect(c.text.endsWith('\n')).toBe(true);
  });

  it('pushes status changes from the event stream', async () => {
    const updates: StatusUpdate[] = [];
    const stop = engine.watch!((u) => updates.push(u));
    try {
      const { run } = await launch('sleep 0.3; exit 4');
      const deadline = Date.now() + 15_000;
      while (!updates.some((u) => u.runId === run.runId && u.status === 'STOPPED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const mine = updates.filter((u) => u.runId === run.runId);
      expect(mine.find((u) => u.status === 'STOPPED')).toMatchObject({ exitCode: 4, exitReason: 'Error' });
      expect(mine.flatMap((u) => u.events ?? []).map((e) => e.reason)).toEqual(expect.arrayContaining(['Started', 'Died']));
    } finally {
      await stop();
    }
  });

  it('reconnects the event stream and the log stream when the connection drops', async () => {
    if (!HOST!.startsWith('unix://')) return;
    const relay = await startRelay();
    const flaky = createDockerEngine({ ...CONFIG, host: relay.host });
    const updates: StatusUpdate[] = [];
    const stop = flaky.watch!((u) => updates.push(u));
    const stoppedRun = (id: string) => updates.some((u) => u.runId === id && u.status === 'STOPPED');
    const until = async (ok: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      const { run: writer } = await launch('for i in $(seq 1 30); do echo "line $i"; sleep 0.05; done');
      const chunks: LogChunk[] = [];
      const ac = new AbortController();
      const reading = (async () => {
        for await (const chunk of flaky.logs(writer, null, ac.signal)) {
          chunks.push(chunk);
          // Cut every connection (the event stream and this log stream) mid-run, once.
          if (chunks.length === 3) relay.cut();
        }
      })();
      // The run ends while the event stream is down or reconnecting: its events are replayed.
      await until(() => chunks.length >= 3);
      const { run: during } = await launch('exit 5');
      await reading;
      expect(text(chunks)).toBe(Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join(''));
      await until(() => stoppedRun(during.runId) && stoppedRun(writer.runId));
      expect(updates.find((u) => u.runId === during.runId && u.status === 'STOPPED')).toMatchObject({ exitCode: 5 });
    } finally {
      await stop();
      await flaky.close();
      await relay.close();
    }
  });

  it('releases a finished container after its logs are collected, but never a running one', async () => {
    const running = await launch('sleep 30');
    await engine.release!(running.run);
    expect((await engine.reconcile([running.run]))[0]).toMatchObject({ status: 'RUNNING' });
    await engine.terminate(running.run, 'test cleanup');

    const { run } = await launch('echo done');
    await waitForEnd(engine, run);
    expect(text(await collectLogs(engine, run))).toBe('done\n');
    await engine.release!(run);
    expect(await engine.reconcile([run])).toEqual([{ runId: run.runId, missing: true }]);
  });

  it('tells whether a daemon answers', async () => {
    expect(await isDockerAvailable(HOST)).toBe(true);
    expect(await isDockerAvailable('unix:///tmp/flotilla-no-such-docker.sock', 500)).toBe(false);
  });

  it('describes itself as the docker cluster', async () => {
    expect((await engine.describe()).clusters).toEqual(['docker']);
  });
});
