// Adaptive resources through execute, on a real database: OOM-killed runs of the same
// definition and command in the last 3 days raise the next run's memory and cpu, the run says
// why, and `flotilla explain-resources` prints the same without running anything. Docker is
// enabled by name only (no workers run): runs stay QUEUED, and docker enforces limits, so it
// adapts; the local engine does not.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { runs, type TaskDefinitionRow } from '../../src/db/schema.js';
import { listenFetch, type HttpServer } from '../../src/httpServer.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun } from '../helpers/factories.js';

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const run = promisify(execFile);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ FLOTILLA_ENGINES: 'local,docker', FLOTILLA_ENGINE: 'local' });
});
afterAll(async () => {
  await t?.close();
});

async function oomRuns(def: TaskDefinitionRow, n: number, input: Record<string, unknown> = {}) {
  for (let i = 0; i < n; i++) {
    // Each asked for 512 MB / 256 (an override, so none was itself adapted).
    await createRun(t.services, {
      definition: def,
      input: { engine: 'docker', memory: 512, cpu: 256, ...input },
      status: 'STOPPED',
      exitCode: 137,
      exitReason: 'OOMKilled',
    });
  }
}

async function execute(def: TaskDefinitionRow, body: Record<string, unknown> = {}) {
  const res = await t.fetch(`/api/v6/task/${def.definitionId}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'ara' }, engine: 'docker', ...body } });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
}

describe('adaptive resources at execute', () => {
  it('two OOM-killed runs in 3 days: memory p99 × 1.75, cpu × 1.25; the run says why (REST and GraphQL)', async () => {
    const def = await createDefinition(t.services, { command: 'python big.py', memory: 512, cpu: 256 });
    const first = await execute(def);
    expect(first).toMatchObject({ memory: 512, cpu: 256, memory_limit: 512 });
    expect(first.resource_reason).toBe('memory 512 MB: the definition; cpu 256: the definition (no OOM-killed runs of this command in 3 days)');
    await oomRuns(def, 2);
    const next = await execute(def);
    expect(next).toMatchObject({ memory: 896, memory_limit: 896, cpu: 500, cpu_limit: 500 });
    expect(next.resource_reason).toBe(
      'memory 896 MB: 2 OOM-killed runs in 3 days, p99 512 MB × 1.75 (baseline 512 MB from the definition); cpu 500: 2 OOM-killed runs in 3 days, p99 256 × 1.25 (baseline 256 from the definition)',
    );
    const gql = await t.gql(`query($id: ID!) { run(runId: $id) { memory resourceReason } }`, { id: next.run_id });
    expect(gql.data.run).toEqual({ memory: 896, resourceReason: next.resource_reason });
  });

  it('an override wins; another command has its own history; the local engine does not adapt', async () => {
    const def = await createDefinition(t.services, { command: 'python big.py', memory: 512 });
    await oomRuns(def, 1);
    expect(await execute(def, { memory: 600, cpu: 300 })).toMatchObject({ memory: 600, cpu: 300 });
    expect(await execute(def, { command: 'python small.py' })).toMatchObject({ memory: 512, cpu: 256 });
    expect(await execute(def, { engine: 'local' })).toMatchObject({ memory: 512, cpu: 256 });
  });

  it('runs older than 3 days, runs of another definition, and a definition with adaptive_resource_allocation false are left out', async () => {
    const def = await createDefinition(t.services, { command: 'python big.py', memory: 512 });
    await oomRuns(def, 1);
    await t.database.db
      .update(runs)
      .set({ queuedAt: new Date(Date.now() - 4 * 24 * 3600 * 1000) })
      .where(eq(runs.definitionId, def.definitionId));
    expect(await execute(def)).toMatchObject({ memory: 512 });
    const other = await createDefinition(t.services, { command: 'python big.py', memory: 512 });
    await oomRuns(other, 3);
    expect(await execute(def)).toMatchObject({ memory: 512 });
    const off = await createDefinition(t.services, { command: 'python big.py', memory: 512, adaptiveResourceAllocation: false });
    await oomRuns(off, 2);
    expect(await execute(off)).toMatchObject({ memory: 512 });
  });

  it('GPU runs are not adapted', async () => {
    const def = await createDefinition(t.services, { command: 'python gpu.py', memory: 512, gpu: 1 });
    await oomRuns(def, 2);
    const r = await execute(def);
    expect(r).toMatchObject({ memory: 512, gpu: 1 });
    expect(r.resource_reason).toMatch(/\(GPU runs are not adapted\)$/);
  });

  it('templates adapt too, per rendered command', async () => {
    const created = await t.fetch('/api/v7/template', {
      method: 'POST',
      json: { template_name: `ara-${Date.now()}`, schema: { type: 'object' }, command_template: 'echo {{.n}}', defaults: { n: 1 }, image: 'alpine:3' },
    });
    const tpl = ((await created.json()) as any).template;
    const exec = async (n: number) =>
      (await (
        await t.fetch(`/api/v7/template/${tpl.template_id}/execute`, { method: 'PUT', json: { owner_id: 'ara', engine: 'docker', template_payload: { n } } })
      ).json()) as any;
    const a = await exec(1);
    await t.services.runUpdates.transition(a.run_id, 'PENDING', {}, 'test');
    await t.services.runUpdates.transition(a.run_id, 'RUNNING', { startedAt: new Date() }, 'test');
    await t.services.runUpdates.transition(a.run_id, 'STOPPED', { exitCode: 137, exitReason: 'OOMKilled', finishedAt: new Date() }, 'test');
    expect(await exec(1)).toMatchObject({ memory: 896 });
    expect(await exec(2)).toMatchObject({ memory: 512 });
  });
});

describe('flotilla explain-resources', () => {
  let server: HttpServer;
  beforeAll(async () => {
    server = await listenFetch(
      async (req) => {
        const u = new URL(req.url);
        return t.fetch(u.pathname + u.search, { method: req.method });
      },
      '127.0.0.1',
      0,
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('prints what a run would get and why, by id or alias, and runs nothing', async () => {
    const def = await createDefinition(t.services, { command: 'python big.py', memory: 512, cpu: 256 });
    await oomRuns(def, 2);
    const before = (await t.database.db.select().from(runs).where(eq(runs.definitionId, def.definitionId))).length;
    const byAlias = await run(process.execPath, [BIN, 'explain-resources', def.alias, '--engine', 'docker', '--url', server.url]);
    expect(byAlias.stdout).toBe(
      `${def.alias} (${def.definitionId}) on docker: cpu 500, memory 896 MB\n` +
        'memory 896 MB: 2 OOM-killed runs in 3 days, p99 512 MB × 1.75 (baseline 512 MB from the definition); cpu 500: 2 OOM-killed runs in 3 days, p99 256 × 1.25 (baseline 256 from the definition)\n',
    );
    const byId = await run(process.execPath, [BIN, 'explain-resources', def.definitionId, '--engine', 'docker', '--memory', '2048', '--url', server.url]);
    expect(byId.stdout).toMatch(/cpu 500, memory 2048 MB\nmemory 2048 MB: run override; cpu 500: 2 OOM-killed runs/);
    expect((await t.database.db.select().from(runs).where(eq(runs.definitionId, def.definitionId))).length).toBe(before);
    const missing = await run(process.execPath, [BIN, 'explain-resources', 'no-such-definition', '--url', server.url]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing).toMatchObject({ code: 2 });
    expect((missing as { stderr: string }).stderr).toMatch(/404: Definition with alias no-such-definition not found/);
  }, 60_000);
});
