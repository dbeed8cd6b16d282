// A stop survives the death of the API instance that made it (the stop intent): a child
// process stops a run through the run service and is SIGKILLed right after the commit,
// before it terminates anything; the worker's sweep carries the intent out. For every
// engine available here, the engine's job is gone within one sweep interval and the run's
// timeline records the engine's confirmation. Needs TEST_DATABASE_URL: the child and the
// test share the database (PGlite is one process).
//   docker: eval "$(scripts/ci/dockerd.sh start)"   ECS: eval "$(scripts/ci/moto.sh start)"
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { toEngineRun } from '../../src/domain/runUpdates.js';
import { createDockerEngine } from '../../src/engines/docker/index.js';
import { ecsSetup } from '../../src/engines/ecs/index.js';
import { createEngine } from '../../src/engines/registry.js';
import type { Engine } from '../../src/engines/types.js';
import { silentLogger } from '../../src/logger.js';
import { MOTO_URL, REGION, createCluster, defaultSubnet, forgetTasks, prepareMoto, uniqueName } from '../engines/ecsHelpers.js';
import { startFakeKube, writeKubeconfig, type FakeKube } from '../engines/fakeKube/server.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DATABASE_URL } from '../helpers/env.js';
import { uniqueAlias } from '../helpers/factories.js';
import { pidOfLocalRef, processGroupMembers } from '../helpers/processes.js';

const CHILD = fileURLToPath(new URL('../helpers/stopAndDie.ts', import.meta.url));
const SWEEP_MS = 1000;
const DOCKER_HOST = process.env.TEST_DOCKER_HOST || undefined;
const DOCKER_IMAGE = process.env.TEST_DOCKER_IMAGE || 'flotilla-test:latest';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: REGION, AWS_EC2_METADATA_DISABLED: 'true' };

if (!TEST_DATABASE_URL)
  console.warn('durableStop: skipped — the API instance is a child process and needs a shared Postgres; set TEST_DATABASE_URL (CI does).');

interface EngineCase {
  name: string;
  available: boolean;
  image: string;
  /** Whether the job is gone, when the engine's own reconcile cannot say it (a vanished local process reads as NEEDS_RETRY). */
  gone?(engineRef: string | null): boolean;
  /** Environment of the test's worker; `engine` is what it runs. */
  open(): Promise<{ env: Record<string, string>; engine: Engine; close(): Promise<void> }>;
}

const scratch = mkdtempSync(join(tmpdir(), 'flotilla-durable-stop-'));
let fake: FakeKube | undefined;
let ecsCluster: string | undefined;
const savedEnv: Record<string, string | undefined> = {};

const CASES: EngineCase[] = [
  {
    name: 'local',
    available: true,
    image: 'none',
    gone: (engineRef) => processGroupMembers(pidOfLocalRef(engineRef)).length === 0,
    async open() {
      const env = { FLOTILLA_ENGINES: 'local', FLOTILLA_ENGINE: 'local', FLOTILLA_LOCAL_WORKDIR: join(scratch, 'runs'), FLOTILLA_LOCAL_GRACE: '1s' };
      const engine = await createEngine('local', loadConfig(env, 'worker'), silentLogger);
      return { env, engine, close: () => engine.close() };
    },
  },
  {
    name: 'docker',
    available: Boolean(DOCKER_HOST),
    image: DOCKER_IMAGE,
    async open() {
      const env = { FLOTILLA_ENGINES: 'docker', FLOTILLA_ENGINE: 'docker', DOCKER_HOST: DOCKER_HOST! };
      // `sleep` as PID 1 ignores SIGTERM: a short grace period keeps the kill quick.
      const engine = createDockerEngine({ host: DOCKER_HOST, stopGraceSeconds: 1 }, { logger: silentLogger });
      return { env, engine, close: () => engine.close() };
    },
  },
  {
    name: 'kubernetes',
    available: true,
    image: 'busybox:1.36',
    async open() {
      fake = await startFakeKube({ stepMs: 30 });
      const kubeconfig = join(scratch, 'kubeconfig');
      writeKubeconfig(kubeconfig, [{ name: 'fake', server: fake.url }], 'fake');
      const env = { FLOTILLA_ENGINES: 'kubernetes', FLOTILLA_ENGINE: 'kubernetes', KUBECONFIG: kubeconfig };
      const engine = await createEngine('kubernetes', loadConfig(env, 'worker'), silentLogger);
      return {
        env,
        engine,
        async close() {
          await engine.close();
          await fake?.close();
        },
      };
    },
  },
  {
    name: 'ecs',
    available: Boolean(MOTO_URL),
    image: 'public.ecr.aws/docker/library/busybox:latest',
    async open() {
      for (const [k, v] of Object.entries(AWS_ENV)) {
        savedEnv[k] = process.env[k];
        process.env[k] = v;
      }
      await prepareMoto();
      ecsCluster = uniqueName('flotilla-durable-stop');
      await createCluster(ecsCluster);
      const env: Record<string, string> = {
        AWS_REGION: REGION,
        AWS_ENDPOINT_URL: MOTO_URL!,
        FLOTILLA_ENGINES: 'ecs',
        FLOTILLA_ENGINE: 'ecs',
        FLOTILLA_ECS_CLUSTER: ecsCluster,
        FLOTILLA_ECS_LAUNCH_TYPE: 'FARGATE',
        FLOTILLA_ECS_SUBNETS: await defaultSubnet(),
        FLOTILLA_ECS_SECURITY_GROUPS: 'sg-flotilla-test',
        FLOTILLA_ECS_LOG_GROUP: `/flotilla/${ecsCluster}`,
        FLOTILLA_ECS_EVENTS_QUEUE: uniqueName('flotilla-durable-stop-events'),
      };
      const setup = await ecsSetup(loadConfig(env, 'worker').ecs);
      env.FLOTILLA_ECS_EVENTS_QUEUE = setup.queueUrl;
      const engine = await createEngine('ecs', loadConfig(env, 'worker'), silentLogger);
      return {
        env,
        engine,
        async close() {
          await engine.close();
          if (ecsCluster) await forgetTasks(ecsCluster);
        },
      };
    },
  },
];

afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs the child API instance; resolves with the signal that ended it. */
function stopAndDie(databaseUrl: string, runId: string): Promise<{ signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, runId], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', reject);
    child.once('exit', (_code, signal) => resolve({ signal, output }));
  });
}

describe.skipIf(!TEST_DATABASE_URL)('a stop whose API instance dies right after the commit', () => {
  for (const c of CASES) {
    describe.skipIf(!c.available)(`${c.name} engine`, () => {
      let t: TestApp;
      let engine: Engine;
      let close: () => Promise<void>;

      beforeAll(async () => {
        const opened = await c.open();
        engine = opened.engine;
        close = opened.close;
        t = await createTestApp({ ...opened.env, WORKER_SWEEP_INTERVAL: `${SWEEP_MS}ms`, WORKER_STATUS_INTERVAL: '60s' }, { engines: [engine] });
        t.startWorkers(['submit', 'status', 'sweep']);
      });
      afterAll(async () => {
        await t?.close();
        await close?.();
      });

      /** What the engine itself says about the run: gone once missing or STOPPED. */
      async function onEngine(runId: string): Promise<string> {
        const [u] = await engine.reconcile([toEngineRun(await t.services.runs.get(runId))]);
        return !u ? 'unknown' : 'missing' in u ? 'missing' : u.status;
      }

      it('is carried out by the worker: the job is gone within one sweep interval, and the timeline says the engine confirmed', async () => {
        const def = await t.services.definitions.create({ alias: uniqueAlias(`durable-${c.name}`), image: c.image, command: 'sleep 300' });
        const run = await t.services.runs.execute({ definitionId: def.definitionId }, { owner: 'durable', engine: c.name });
        await expect
          .poll(
            async () => {
              const r = await t.services.runs.get(run.runId);
              return r.engineRef && (r.status === 'PENDING' || r.status === 'RUNNING') ? await onEngine(run.runId) : r.status;
            },
            { timeout: 30_000, interval: 100 },
          )
          .toMatch(/^(PENDING|RUNNING)$/);

        const child = await stopAndDie(t.database.url!, run.runId);
        expect(child.signal, child.output).toBe('SIGKILL');
        const diedAt = Date.now();
        const stopped = await t.services.runs.get(run.runId);
        // stopConfirmedAt may already be set: the sweep runs every SWEEP_MS and can carry the
        // stop out before this read (the child's exit takes a while to be seen under load).
        expect(stopped).toMatchObject({ status: 'STOPPED', exitReason: 'Task terminated by user' });
        expect(stopped.stopRequestedAt).toBeInstanceOf(Date);
        // The dead instance got no further than the commit (it has no engine, and would have
        // put a warning on the timeline had it tried to terminate).
        expect((await t.services.runs.events(run.runId)).filter((e) => e.kind === 'warning')).toEqual([]);

        // One sweep interval, plus what terminating takes on the engine (a grace period).
        const gone = async () => (c.gone ? c.gone(stopped.engineRef) : /^(missing|STOPPED)$/.test(await onEngine(run.runId)));
        await expect.poll(gone, { timeout: SWEEP_MS + 4000, interval: 50 }).toBe(true);
        expect(Date.now() - diedAt).toBeLessThan(SWEEP_MS + 4000);
        await expect.poll(async () => (await t.services.runs.get(run.runId)).stopConfirmedAt, { timeout: 5000 }).toBeInstanceOf(Date);
        const events = await t.services.runs.events(run.runId);
        expect(events.filter((e) => e.kind === 'stop').map((e) => e.reason)).toEqual([`stop confirmed by ${c.name}`]);
        expect((await t.services.runs.get(run.runId)).exitReason).toBe('Task terminated by user');
      }, 90_000);
    });
  }
});
