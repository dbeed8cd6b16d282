// The definition rules the service enforces before anything reaches the database. The
// service gets a database that throws `ReachedStorage` on first touch: an input that gets
// that far passed validation, and no storage behaviour is imitated. What is stored (defaults,
// merges) is pinned in test/integration/store.definitions.test.ts on a real database.
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { createDefinitionService } from '../../src/domain/definitionService.js';
import { LIMITS } from '../../src/domain/resources.js';
import { ValidationError, type FieldIssue } from '../../src/errors.js';

class ReachedStorage extends Error {}
const tripwire = new Proxy(
  {},
  {
    get() {
      throw new ReachedStorage();
    },
  },
) as Db;
const service = createDefinitionService({ db: tripwire });

type Outcome = 'valid' | FieldIssue[];

async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call();
  } catch (err) {
    if (err instanceof ReachedStorage) return 'valid';
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
  throw new Error('the service returned without touching storage');
}

const base = { alias: 'job', image: 'alpine:3.20' };
const create = (input: unknown) => outcome(() => service.create(input));
const update = (input: unknown) => outcome(() => service.update('default-x', input));

/** The single issue an input produces. */
async function issueOf(input: unknown, run = create): Promise<FieldIssue> {
  const result = await run(input);
  expect(result).not.toBe('valid');
  expect(result).toHaveLength(1);
  return (result as FieldIssue[])[0]!;
}

describe('alias and image', () => {
  it.each(['alias', 'image'])('%s is required: absent, null, empty or blank', async (field) => {
    for (const value of [undefined, null, '', '   ']) {
      expect(await issueOf({ ...base, [field]: value })).toEqual({ path: [field], message: `${field} must be specified` });
    }
  });

  it('names every missing field, messages joined by newlines', async () => {
    const err = await service.create({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.path)).toEqual([['alias'], ['image']]);
    expect((err as ValidationError).message).toBe('alias must be specified\nimage must be specified');
  });

  it('rejects a non-string and anything over 1024 characters', async () => {
    expect(await issueOf({ ...base, alias: 42 })).toEqual({ path: ['alias'], message: 'alias must be a string' });
    expect(await issueOf({ ...base, image: 'i'.repeat(1025) })).toEqual({ path: ['image'], message: 'image must be at most 1024 characters' });
    expect(await create({ ...base, image: 'i'.repeat(1024) })).toBe('valid');
  });

  it('accepts surrounding whitespace (it is trimmed)', async () => {
    expect(await create({ alias: '  job  ', image: ' alpine ' })).toBe('valid');
  });
});

describe('group_name', () => {
  it('accepts letters, digits, "-" and "_" up to 255 characters, and may be omitted', async () => {
    expect(await create(base)).toBe('valid');
    expect(await create({ ...base, groupName: 'Team_a-1' })).toBe('valid');
    expect(await create({ ...base, groupName: 'g'.repeat(255) })).toBe('valid');
  });

  it.each([['has space'], ['dot.ted'], ['slash/'], [''], ['g'.repeat(256)], ['ünïcode']])('rejects %j', async (groupName) => {
    expect(await issueOf({ ...base, groupName })).toEqual({
      path: ['groupName'],
      message: 'groupName must be 1-255 letters, digits, "-" or "_"',
    });
  });

  it('rejects a non-string', async () => {
    expect(await issueOf({ ...base, groupName: 7 })).toEqual({ path: ['groupName'], message: 'groupName must be a string' });
  });
});

describe('env', () => {
  it('accepts name/value pairs, including empty values', async () => {
    expect(
      await create({
        ...base,
        env: [
          { name: 'A', value: '' },
          { name: 'lower_case.x', value: 'v=w' },
        ],
      }),
    ).toBe('valid');
  });

  // Messages about a list entry start with its location, so the client knows which entry.
  it('rejects an empty name or one containing "=", pointing at the entry', async () => {
    expect(
      await issueOf({
        ...base,
        env: [
          { name: 'OK', value: '1' },
          { name: '', value: 'x' },
        ],
      }),
    ).toEqual({
      path: ['env', 1, 'name'],
      message: 'env[1].name: env name must be a non-empty string without "="',
    });
    expect((await issueOf({ ...base, env: [{ name: 'A=B', value: 'x' }] })).path).toEqual(['env', 0, 'name']);
  });

  it('rejects values that are not strings, naming the fix', async () => {
    expect(await issueOf({ ...base, env: [{ name: 'N', value: 3 }] })).toEqual({
      path: ['env', 0, 'value'],
      message: 'env[0].value: env value must be a string (quote numbers and booleans)',
    });
  });

  it('rejects a non-array and entries that are not objects', async () => {
    expect(await issueOf({ ...base, env: { A: '1' } })).toEqual({ path: ['env'], message: 'env must be an array of {"name": "...", "value": "..."}' });
    expect(await issueOf({ ...base, env: ['A=1'] })).toEqual({
      path: ['env', 0],
      message: 'env[0]: env entries must be objects {"name": "...", "value": "..."}',
    });
  });
});

describe('resource integers', () => {
  const cases = [
    ['memory', 'memory', LIMITS.memory.max],
    ['cpu', 'cpu', LIMITS.cpu.max],
    ['gpu', 'gpu', LIMITS.gpu.max],
    ['ephemeralStorage', 'ephemeralStorage', LIMITS.ephemeralStorage.max],
  ] as const;

  it.each(cases)('%s accepts 0, the maximum and null', async (field, _name, max) => {
    for (const value of [0, max, null]) expect(await create({ ...base, [field]: value })).toBe('valid');
  });

  it.each(cases)('%s rejects below 0, above the maximum, fractions and strings', async (field, name, max) => {
    for (const value of [-1, max + 1, 1.5, '512', true]) {
      expect(await issueOf({ ...base, [field]: value })).toEqual({ path: [field], message: `${name} must be an integer between 0 and ${max}` });
    }
  });
});

describe('other fields', () => {
  it('ports are integers 1-65535', async () => {
    expect(await create({ ...base, ports: [1, 8080, 65535] })).toBe('valid');
    for (const port of [0, 65536, 80.5, '80']) {
      const issue = await issueOf({ ...base, ports: [port] });
      expect(issue.path).toEqual(['ports', 0]);
      expect(issue.message).toMatch(/^ports/);
    }
    expect((await issueOf({ ...base, ports: 80 })).message).toBe('ports must be an array of integers');
  });

  it('tags are strings', async () => {
    expect(await create({ ...base, tags: ['a', 'b'] })).toBe('valid');
    expect(await issueOf({ ...base, tags: ['a', 1] })).toEqual({ path: ['tags', 1], message: 'tags[1]: tags must be strings' });
    expect(await issueOf({ ...base, tags: 'a' })).toEqual({ path: ['tags'], message: 'tags must be an array of strings' });
  });

  it('booleans must be booleans, not strings', async () => {
    expect(await issueOf({ ...base, requiresDocker: 'true' })).toEqual({ path: ['requiresDocker'], message: 'requiresDocker must be true or false' });
    expect(await issueOf({ ...base, adaptiveResourceAllocation: 1 })).toEqual({
      path: ['adaptiveResourceAllocation'],
      message: 'adaptiveResourceAllocation must be true or false',
    });
    expect(await create({ ...base, requiresDocker: true, adaptiveResourceAllocation: null })).toBe('valid');
  });

  it('command and target cluster are strings or null', async () => {
    expect(await create({ ...base, command: null, targetCluster: null })).toBe('valid');
    expect(await issueOf({ ...base, command: ['echo'] })).toEqual({ path: ['command'], message: 'command must be a string' });
    expect(await issueOf({ ...base, targetCluster: 1 })).toEqual({ path: ['targetCluster'], message: 'targetCluster must be a string' });
  });

  it('reports every invalid field at once', async () => {
    const result = await create({ alias: '', image: 'x', memory: -5, env: [{ name: '', value: 'v' }], ports: [0] });
    expect((result as FieldIssue[]).map((i) => i.path.join('.')).sort()).toEqual(['alias', 'env.0.name', 'memory', 'ports.0']);
  });

  it('rejects input that is not an object', async () => {
    for (const input of [null, 'alias=x', [base]]) {
      const result = await create(input);
      expect(result).not.toBe('valid');
      expect((result as FieldIssue[])[0]!.path).toEqual([]);
    }
  });
});

describe('updates', () => {
  it('accept any subset of fields, including none', async () => {
    expect(await update({})).toBe('valid');
    expect(await update({ image: 'busybox' })).toBe('valid');
    expect(await update({ memory: null, command: null })).toBe('valid');
  });

  it('apply the same rules to the fields given', async () => {
    expect(await issueOf({ alias: '' }, update)).toEqual({ path: ['alias'], message: 'alias must be specified' });
    expect(await issueOf({ groupName: 'no spaces please' }, update)).toMatchObject({ path: ['groupName'] });
    expect(await issueOf({ cpu: LIMITS.cpu.max + 1 }, update)).toMatchObject({ path: ['cpu'] });
    expect(await issueOf({ env: [{ name: '', value: '' }] }, update)).toMatchObject({ path: ['env', 0, 'name'] });
  });

  it('do not let a required field be cleared with null', async () => {
    for (const field of ['alias', 'image', 'groupName', 'env', 'tags', 'ports', 'requiresDocker']) {
      expect((await issueOf({ [field]: null }, update)).path).toEqual([field]);
    }
  });
});
