// The cluster registry over GraphQL: clusters / cluster(name), create / update / delete with
// typed errors, and executeTask's routing failures as typed results. The app has the local
// engine only, so `local` is the cluster an engine describes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local' });
});
afterAll(async () => {
  await t?.close();
});

const CLUSTER_FIELDS = 'name engine status allowedTiers capabilities region namespace config updatedAt registered';
const RESULT_FIELDS = `
  __typename
  ... on Error { message code }
  ... on ValidationError { fields { path message } }`;

const LIST = `{ clusters { ${CLUSTER_FIELDS} } }`;
const ONE = `query($name: String!) { cluster(name: $name) { ${CLUSTER_FIELDS} } }`;
const CREATE = `mutation($input: CreateClusterInput!) {
  createCluster(input: $input) { ${RESULT_FIELDS} ... on CreateClusterSuccess { cluster { ${CLUSTER_FIELDS} } } }
}`;
const UPDATE = `mutation($name: String!, $input: UpdateClusterInput!) {
  updateCluster(name: $name, input: $input) { ${RESULT_FIELDS} ... on UpdateClusterSuccess { cluster { ${CLUSTER_FIELDS} } } }
}`;
const DELETE = `mutation($name: String!) {
  deleteCluster(name: $name) { ${RESULT_FIELDS} ... on DeleteClusterSuccess { deletedName } }
}`;
const EXECUTE = `mutation($definitionId: ID!, $input: ExecuteInput!) {
  executeTask(definitionId: $definitionId, input: $input) { ${RESULT_FIELDS} ... on ExecuteTaskSuccess { run { runId clusterName engine tier } } }
}`;

async function gql(query: string, variables?: Record<string, unknown>) {
  const res = await t.gql(query, variables);
  expect(res.errors).toBeUndefined();
  return res.data;
}

describe('clusters and cluster(name)', () => {
  it('lists what the enabled engines describe; cluster(name) finds it, null for an unknown name', async () => {
    const { clusters } = await gql(LIST);
    expect(clusters).toEqual([
      {
        name: 'local',
        engine: 'LOCAL',
        status: 'ACTIVE',
        allowedTiers: [],
        capabilities: expect.arrayContaining(['bash']),
        region: null,
        namespace: null,
        config: {},
        updatedAt: null,
        registered: false,
      },
    ]);
    expect((await gql(ONE, { name: 'local' })).cluster).toEqual(clusters[0]);
    expect((await gql(ONE, { name: 'nope' })).cluster).toBeNull();
    expect((await gql(ONE, { name: 'nul\u0000' })).cluster).toBeNull();
  });
});

describe('createCluster', () => {
  it('registers a cluster; it is listed and found by name', async () => {
    const { createCluster } = await gql(CREATE, {
      input: {
        name: 'gql-east',
        engine: 'eks',
        status: 'MAINTENANCE',
        allowedTiers: ['prod'],
        capabilities: ['gpu'],
        region: 'us-east-1',
        namespace: 'jobs',
        config: { context: 'east' },
      },
    });
    expect(createCluster).toEqual({
      __typename: 'CreateClusterSuccess',
      cluster: {
        name: 'gql-east',
        engine: 'KUBERNETES',
        status: 'MAINTENANCE',
        allowedTiers: ['prod'],
        capabilities: ['gpu'],
        region: 'us-east-1',
        namespace: 'jobs',
        config: { context: 'east' },
        updatedAt: expect.stringMatching(/Z$/),
        registered: true,
      },
    });
    expect((await gql(LIST)).clusters.map((c: any) => c.name)).toEqual(['gql-east', 'local']);
    expect((await gql(ONE, { name: 'gql-east' })).cluster).toEqual(createCluster.cluster);
  });

  it('null fields take the defaults', async () => {
    const { createCluster } = await gql(CREATE, { input: { name: 'gql-min', engine: 'local', status: null, allowedTiers: null, config: null, region: null } });
    expect(createCluster.cluster).toMatchObject({ status: 'ACTIVE', allowedTiers: [], config: {}, region: null });
  });

  it('a duplicate → ConflictError; invalid input → ValidationError with field paths', async () => {
    await gql(CREATE, { input: { name: 'gql-dup', engine: 'local' } });
    expect((await gql(CREATE, { input: { name: 'gql-dup', engine: 'local' } })).createCluster).toEqual({
      __typename: 'ConflictError',
      message: 'Cluster gql-dup already exists',
      code: 'CONFLICT',
    });
    expect((await gql(CREATE, { input: { name: 'bad name!', engine: 'nomad', config: { context: 1 } } })).createCluster).toEqual({
      __typename: 'ValidationError',
      code: 'VALIDATION',
      message:
        'input.name must be 1-63 letters, digits, ".", "-" or "_", starting and ending with a letter or digit\ninput.engine nomad is unknown: use local, docker, kubernetes, ecs (or eks)',
      fields: [
        { path: ['input', 'name'], message: 'input.name must be 1-63 letters, digits, ".", "-" or "_", starting and ending with a letter or digit' },
        { path: ['input', 'engine'], message: 'input.engine nomad is unknown: use local, docker, kubernetes, ecs (or eks)' },
      ],
    });
    expect((await gql(CREATE, { input: { name: 'gql-ctx', engine: 'kubernetes', config: { context: 1 } } })).createCluster).toMatchObject({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'config', 'context'], message: 'input.config.context must be the name of a kubeconfig context (a non-empty string)' }],
    });
    expect((await gql(CREATE, { input: { name: 'gql-cfg', engine: 'local', config: 'text' } })).createCluster).toMatchObject({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'config'], message: 'input.config must be a JSON object' }],
    });
  });
});

describe('updateCluster and deleteCluster', () => {
  it('update changes the fields given; null clears region but leaves status alone', async () => {
    await gql(CREATE, { input: { name: 'gql-upd', engine: 'local', region: 'eu-west-1', capabilities: ['a'] } });
    const { updateCluster } = await gql(UPDATE, { name: 'gql-upd', input: { status: 'OFFLINE', region: null, capabilities: ['b', 'c'] } });
    expect(updateCluster).toMatchObject({
      __typename: 'UpdateClusterSuccess',
      cluster: { status: 'OFFLINE', region: null, capabilities: ['b', 'c'], registered: true },
    });
    const again = await gql(UPDATE, { name: 'gql-upd', input: { status: null } });
    expect(again.updateCluster.cluster.status).toBe('OFFLINE');
  });

  it('update of an engine-described cluster registers it; of an unknown one is NotFoundError', async () => {
    const { updateCluster } = await gql(UPDATE, { name: 'local', input: { allowedTiers: ['dev'] } });
    expect(updateCluster).toMatchObject({
      __typename: 'UpdateClusterSuccess',
      cluster: { name: 'local', engine: 'LOCAL', allowedTiers: ['dev'], registered: true },
    });
    expect((await gql(UPDATE, { name: 'nope', input: { status: 'ACTIVE' } })).updateCluster).toEqual({
      __typename: 'NotFoundError',
      message: 'Cluster nope not found',
      code: 'NOT_FOUND',
    });
    expect((await gql(DELETE, { name: 'local' })).deleteCluster).toEqual({ __typename: 'DeleteClusterSuccess', deletedName: 'local' });
    expect((await gql(ONE, { name: 'local' })).cluster).toMatchObject({ registered: false, allowedTiers: [] });
  });

  it('delete: the name back; unknown → NotFoundError; engine-described → ConflictError', async () => {
    await gql(CREATE, { input: { name: 'gql-del', engine: 'local' } });
    expect((await gql(DELETE, { name: 'gql-del' })).deleteCluster).toEqual({ __typename: 'DeleteClusterSuccess', deletedName: 'gql-del' });
    expect((await gql(DELETE, { name: 'gql-del' })).deleteCluster).toMatchObject({ __typename: 'NotFoundError', message: 'Cluster gql-del not found' });
    expect((await gql(DELETE, { name: 'nul\u0000' })).deleteCluster).toMatchObject({ __typename: 'NotFoundError' });
    expect((await gql(DELETE, { name: 'local' })).deleteCluster).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
  });
});

describe('executeTask routing errors are typed results', () => {
  it('unknown cluster → ValidationError on cluster; maintenance → ConflictError; tier → ValidationError on tier', async () => {
    const def = await createDefinition(t.services);
    const execute = (input: Record<string, unknown>) => gql(EXECUTE, { definitionId: def.definitionId, input: { owner: 'gql', ...input } });

    expect((await execute({ cluster: 'nowhere' })).executeTask).toMatchObject({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'cluster'], message: expect.stringMatching(/^input\.cluster nowhere is unknown/) }],
    });

    await gql(CREATE, { input: { name: 'gql-maint', engine: 'local', status: 'MAINTENANCE' } });
    expect((await execute({ cluster: 'gql-maint' })).executeTask).toEqual({
      __typename: 'ConflictError',
      code: 'CONFLICT',
      message: 'cluster gql-maint is in maintenance: it takes no new runs until it is active again; choose another cluster',
    });

    await gql(CREATE, { input: { name: 'gql-tier', engine: 'local', allowedTiers: ['prod'] } });
    expect((await execute({ cluster: 'gql-tier', tier: 'dev' })).executeTask).toMatchObject({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'tier'], message: 'input.tier dev is not allowed on cluster gql-tier; allowed tiers: prod' }],
    });
    expect((await execute({ cluster: 'gql-tier', tier: 'prod' })).executeTask).toMatchObject({
      __typename: 'ExecuteTaskSuccess',
      run: { clusterName: 'gql-tier', engine: 'LOCAL', tier: 'prod' },
    });
  });
});
