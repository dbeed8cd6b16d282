// Classic engine names and substitutes: the classic UI asks for `eks` (default) or `ecs`;
// where that engine is not enabled and the operator allows it (FLOTILLA_ENGINE_SUBSTITUTES,
// on by default in dev only), another engine runs the job and the run records both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runs, type TaskDefinitionRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';

/** What the classic UI's run form sends with its defaults. */
const CLASSIC_BODY = {
  cluster: 'default',
  node_lifecycle: 'spot',
  engine: 'eks',
  cpu: 512,
  memory: 512,
  env: [],
  run_tags: { OWNER_ID: 'flotilla-ui' },
};

let t: TestApp;
let plain: TestApp;
let def: TaskDefinitionRow;

beforeAll(async () => {
  [t, plain] = await Promise.all([createTestApp({ FLOTILLA_ENGINE_SUBSTITUTES: 'eks:local,ecs:local' }), createTestApp()]);
  def = await createDefinition(t.services, { command: 'echo hi' });
});
afterAll(async () => {
  await Promise.all([t?.close(), plain?.close()]);
});

async function execute(app: TestApp, body: unknown, id = def.definitionId) {
  const res = await app.fetch(`/api/v6/task/${id}/execute`, { method: 'PUT', json: body });
  return { status: res.status, body: (await res.json()) as any };
}

describe('engine substitutes', () => {
  it("the classic UI's default run form body runs on the substitute; the run records eks as kubernetes and local as used", async () => {
    const { status, body } = await execute(t, CLASSIC_BODY);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      engine: 'local',
      engine_requested: 'kubernetes',
      cluster: 'default',
      node_lifecycle: 'spot',
      status: 'QUEUED',
      user: 'flotilla-ui',
    });
    expect(body.run_id).toMatch(/^local-/);
    // Both read back, over REST and GraphQL.
    const again = await t.fetch(`/api/v6/history/${body.run_id}`);
    expect(await again.json()).toMatchObject({ engine: 'local', engine_requested: 'kubernetes' });
    const gql = await t.gql(`query($id: ID!) { run(runId: $id) { engine engineRequested } }`, { id: body.run_id });
    expect(gql.errors).toBeUndefined();
    expect(gql.data.run).toEqual({ engine: 'LOCAL', engineRequested: 'KUBERNETES' });
    // The timeline says what happened.
    const events = await t.services.runs.events(body.run_id);
    expect(events[0]!.detail).toMatchObject({ engine: 'local', engine_requested: 'kubernetes' });
    expect(JSON.stringify(events[0]!.detail.notes)).toMatch(/engine kubernetes is not enabled here; ran on its substitute local/);
  });

  it('ecs too; a cluster the substitute does not know is recorded and ignored, not refused', async () => {
    const { status, body } = await execute(t, { ...CLASSIC_BODY, engine: 'ecs', cluster: 'flotilla-ecs-prod', node_lifecycle: 'ondemand' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ engine: 'local', engine_requested: 'ecs', cluster: 'flotilla-ecs-prod', node_lifecycle: 'ondemand' });
    const events = await t.services.runs.events(body.run_id);
    expect(JSON.stringify(events[0]!.detail.notes)).toMatch(/cluster flotilla-ecs-prod recorded, not used by engine local/);
  });

  it('a request for an enabled engine, or none, is not a substitution: engine_requested is absent or the same', async () => {
    const none = await execute(t, { run_tags: { owner_id: 'a' } });
    expect(none.status).toBe(200);
    expect(none.body.engine).toBe('local');
    expect(none.body).not.toHaveProperty('engine_requested');
    const local = await execute(t, { run_tags: { owner_id: 'a' }, engine: 'local' });
    expect(local.body).toMatchObject({ engine: 'local', engine_requested: 'local' });
  });

  it('a cluster registered for the substitute keeps its rules (maintenance → 409)', async () => {
    const name = `sub-maint-${Math.random().toString(16).slice(2, 8)}`;
    expect((await t.fetch('/api/v6/clusters', { method: 'POST', json: { name, engine: 'local', status: 'maintenance' } })).status).toBe(200);
    const { status, body } = await execute(t, { ...CLASSIC_BODY, cluster: name });
    expect(status).toBe(409);
    expect(body.error).toMatch(new RegExp(`^cluster ${name} is in maintenance`));
  });

  it('node_lifecycle is still checked (spot or ondemand)', async () => {
    const { status, body } = await execute(t, { ...CLASSIC_BODY, node_lifecycle: 'reserved' });
    expect(status).toBe(400);
    expect(body.error).toBe('node_lifecycle must be spot or ondemand');
  });

  it('without substitutes, eks is refused with the way to allow it; nothing is written', async () => {
    const before = (await plain.database.db.select({ n: count() }).from(runs))[0]!.n;
    const d = await createDefinition(plain.services, { command: 'echo hi' });
    const { status, body } = await execute(plain, CLASSIC_BODY, d.definitionId);
    expect(status).toBe(400);
    expect(body.error).toBe('engine eks is not enabled here; enabled: local (or let another engine run it: FLOTILLA_ENGINE_SUBSTITUTES=eks:local)');
    expect((await plain.database.db.select({ n: count() }).from(runs))[0]!.n).toBe(before);
  });
});

describe('FLOTILLA_ENGINE_SUBSTITUTES config', () => {
  it('on by default in dev only, never silently in serve or worker', () => {
    expect(loadConfig({}, 'dev').engineSubstitutes).toEqual({ kubernetes: 'local', ecs: 'local' });
    expect(loadConfig({}, 'serve').engineSubstitutes).toEqual({});
    expect(loadConfig({}, 'worker').engineSubstitutes).toEqual({});
    expect(loadConfig({ FLOTILLA_ENGINE_SUBSTITUTES: '' }, 'dev').engineSubstitutes).toEqual({});
  });

  it('parses classic names; a pair to itself is dropped', () => {
    expect(loadConfig({ FLOTILLA_ENGINE_SUBSTITUTES: 'EKS:docker, ecs:local, local:local' }, 'serve').engineSubstitutes).toEqual({
      kubernetes: 'docker',
      ecs: 'local',
    });
  });

  it('junk names the variable and the fix', () => {
    for (const value of ['eks', 'eks:nomad', 'eks:local:docker', 'fargate:local']) {
      expect(() => loadConfig({ FLOTILLA_ENGINE_SUBSTITUTES: value }, 'serve')).toThrow(ConfigError);
      expect(() => loadConfig({ FLOTILLA_ENGINE_SUBSTITUTES: value }, 'serve')).toThrow(/FLOTILLA_ENGINE_SUBSTITUTES=.*must be requested:substitute/);
    }
  });
});
