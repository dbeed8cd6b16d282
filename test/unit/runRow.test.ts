// What a new run snapshots from its definition and the execute request (buildRunRow).
import { describe, expect, it } from 'vitest';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { buildRunRow, newRunId, type RunPlacement, type RunRequest } from '../../src/domain/runRow.js';
import { executableOfDefinition } from '../../src/domain/runService.js';

const definitionRow: TaskDefinitionRow = {
  definitionId: 'g-1',
  alias: 'a',
  groupName: 'g',
  image: 'alpine:3',
  command: 'echo hi',
  memory: 512,
  cpu: 256,
  gpu: null,
  ephemeralStorage: null,
  env: [
    { name: 'FROM_DEF', value: 'd' },
    { name: 'BOTH', value: 'def' },
    { name: 'FLOTILLA_RUN_ID', value: 'spoofed' },
  ],
  tags: [],
  ports: [],
  adaptiveResourceAllocation: null,
  requiresDocker: false,
  targetCluster: null,
  version: 3,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  archivedAt: null,
  createdBy: null,
  updatedBy: null,
};
const definition = executableOfDefinition(definitionRow);
const request: RunRequest = { owner: 'ann', runTags: { team: 'x' }, env: [{ name: 'BOTH', value: 'req' }], labels: {} };
const at: RunPlacement = { runId: 'local-abc', engine: 'local', clusterName: 'default', mode: 'dev', ownerIdVar: 'FLOTILLA_RUN_OWNER_ID', maxAttempts: 3 };

describe('buildRunRow', () => {
  it('queues attempt 1 of the definition version, owned by the requester', () => {
    expect(buildRunRow(definition, request, at)).toMatchObject({
      runId: 'local-abc',
      definitionId: 'g-1',
      definitionVersion: 3,
      status: 'QUEUED',
      attempt: 1,
      maxAttempts: 3,
      owner: 'ann',
      runTags: { team: 'x', owner_id: 'ann' },
      command: 'echo hi',
      cpu: 256,
      memory: 512,
      cpuLimit: 256,
      memoryLimit: 512,
    });
  });

  it('env: reserved first, then the definition (not reserved, not overridden), then the request', () => {
    expect(buildRunRow(definition, request, at).env).toEqual([
      { name: 'FLOTILLA_RUN_ID', value: 'local-abc' },
      { name: 'FLOTILLA_SERVER_MODE', value: 'dev' },
      { name: 'FLOTILLA_RUN_OWNER_ID', value: 'ann' },
      { name: 'AWS_ROLE_SESSION_NAME', value: 'local-abc' },
      { name: 'FROM_DEF', value: 'd' },
      { name: 'BOTH', value: 'req' },
    ]);
  });

  it('a GPU run is on-demand with the on-demand deadline; otherwise spot for two days', () => {
    expect(buildRunRow(definition, { ...request, gpu: 1, nodeLifecycle: 'spot' }, at)).toMatchObject({
      nodeLifecycle: 'ondemand',
      activeDeadlineSeconds: 604_800,
    });
    expect(buildRunRow(definition, request, at)).toMatchObject({ nodeLifecycle: 'spot', activeDeadlineSeconds: 172_800 });
    expect(buildRunRow(definition, { ...request, activeDeadlineSeconds: 60 }, at).activeDeadlineSeconds).toBe(60);
  });

  it('the command hash is the md5 of the command run, null without one', () => {
    expect(buildRunRow(definition, { ...request, command: 'true' }, at).commandHash).toBe('b326b5062b2f0e69046810717534cb09');
    expect(buildRunRow({ ...definition, command: null }, request, at)).toMatchObject({ command: null, commandHash: null });
  });
});

describe('newRunId', () => {
  it('is the engine, a dash and hex, 36 characters: a DNS label', () => {
    const id = newRunId('kubernetes');
    expect(id).toMatch(/^kubernetes-[0-9a-f]{25}$/);
    expect(id).toHaveLength(36);
  });
});
