// The storability guard and the one path format (domain/validation.ts), and how each
// transport restates a domain issue in its own words.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { restPath, REST_WORDS } from '../../src/api/rest/fieldWords.js';
import { inArgument } from '../../src/api/graphql/fieldWords.js';
import { OWNER_MISSING, parseExecute } from '../../src/domain/runService.js';
import { assertStorable, fieldName, parseOrThrow, restate, storable, unstorableIssues } from '../../src/domain/validation.js';
import { TemplatePayloadError, ValidationError } from '../../src/errors.js';

const NUL = 'NUL characters';
const LONE = '\ud800';
const SURROGATE = 'unpaired UTF-16 surrogates (it is not valid Unicode)';

function thrown(call: () => unknown): ValidationError {
  try {
    call();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('no ValidationError');
}

describe('fieldName: one written form of a path', () => {
  it('joins keys with dots and puts indexes in brackets', () => {
    expect(fieldName(['env', 0, 'value'])).toBe('env[0].value');
    expect(fieldName(['tags', 1])).toBe('tags[1]');
    expect(fieldName(['runTags', 'team'])).toBe('runTags.team');
    expect(fieldName([])).toBe('');
  });

  it('renames keys, not indexes', () => {
    expect(fieldName(['ephemeralStorage', 0, 'a'], (k) => k.toUpperCase())).toBe('EPHEMERALSTORAGE[0].A');
  });
});

describe('unstorableIssues', () => {
  it('finds nothing in storable text, numbers, booleans and null', () => {
    expect(unstorableIssues({ a: 'x', b: [1, true, null], c: { d: 'é ✓ 😀' } })).toEqual([]);
  });

  it('names a NUL or a lone surrogate in a value by its path', () => {
    expect(unstorableIssues({ command: 'echo \u0000' })).toEqual([{ path: ['command'], message: `command must not contain ${NUL}`, unstorable: NUL }]);
    expect(unstorableIssues({ alias: `a${LONE}` })).toEqual([{ path: ['alias'], message: `alias must not contain ${SURROGATE}`, unstorable: SURROGATE }]);
  });

  it('walks nested arrays and objects, reporting every issue in document order', () => {
    const value = {
      env: [
        { name: 'A', value: 'ok' },
        { name: 'B', value: 'x\u0000' },
      ],
      tags: ['a', `b${LONE}`],
      config: { deep: { list: [['\u0000']] } },
    };
    expect(unstorableIssues(value).map((i) => [fieldName(i.path), i.message])).toEqual([
      ['env[1].value', `env[1].value must not contain ${NUL}`],
      ['tags[1]', `tags[1] must not contain ${SURROGATE}`],
      ['config.deep.list[0][0]', `config.deep.list[0][0] must not contain ${NUL}`],
    ]);
  });

  it('names an object whose keys cannot be stored, and still looks inside', () => {
    expect(unstorableIssues({ labels: { 'a\u0000': 'b\u0000' } })).toEqual([
      { path: ['labels'], message: `labels keys must not contain ${NUL}`, unstorable: NUL },
      { path: ['labels', 'a\u0000'], message: `labels.a\u0000 must not contain ${NUL}`, unstorable: NUL },
    ]);
    expect(unstorableIssues({ 'k\u0000': 1 })[0]!.message).toBe(`input keys must not contain ${NUL}`);
  });

  it('starts paths where it is told', () => {
    expect(unstorableIssues({ env: [{ value: '\u0000' }] }, ['filter'])[0]!.message).toBe(`filter.env[0].value must not contain ${NUL}`);
    expect(thrown(() => assertStorable('a\u0000', ['alias'])).message).toBe(`alias must not contain ${NUL}`);
    expect(() => assertStorable('fine', ['alias'])).not.toThrow();
  });

  it('walks a document nested far deeper than the stack would allow recursion', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const [issue] = unstorableIssues(deep);
    expect(issue!.path).toHaveLength(100_000);
  });
});

describe('storable(): the guard at the top of an input schema', () => {
  const schema = storable(z.object({ name: z.string({ error: 'name must be a string' }), tags: z.array(z.string()).default([]) }));

  it('refuses what cannot be stored, naming each field, with the reason kept on the issue', () => {
    const err = thrown(() => parseOrThrow(schema, { name: 'a\u0000', tags: ['ok', '\u0000'] }));
    expect(err.issues).toEqual([
      { path: ['name'], message: `name must not contain ${NUL}`, unstorable: NUL },
      { path: ['tags', 1], message: `tags[1] must not contain ${NUL}`, unstorable: NUL },
    ]);
  });

  it('runs after the field rules: a malformed input is told those first', () => {
    expect(thrown(() => parseOrThrow(schema, { name: 5, tags: ['\u0000'] })).issues).toEqual([{ path: ['name'], message: 'name must be a string' }]);
  });

  it('looks only at parsed fields: an unknown key is dropped, not judged', () => {
    expect(parseOrThrow(schema, { name: 'ok', other: '\u0000' })).toEqual({ name: 'ok', tags: [] });
  });
});

describe('the execute input speaks in domain names', () => {
  it('owner, activeDeadlineSeconds, runTags.team and env[0].value', () => {
    expect(thrown(() => parseExecute({ owner: ' ' })).issues).toEqual([{ path: ['owner'], message: OWNER_MISSING }]);
    expect(thrown(() => parseExecute({ owner: 'a', activeDeadlineSeconds: 0 })).message).toBe('activeDeadlineSeconds must be a positive integer');
    expect(thrown(() => parseExecute({ owner: 'a', runTags: { team: 5 } })).message).toBe('runTags.team must be a string');
    expect(thrown(() => parseExecute({ owner: 'a', env: [{ name: 'A', value: '\u0000' }] })).message).toBe(`env[0].value must not contain ${NUL}`);
  });
});

describe('transport words', () => {
  const domain = new ValidationError([
    { path: ['activeDeadlineSeconds'], message: 'activeDeadlineSeconds must be a positive integer' },
    { path: ['env', 0, 'value'], message: `env[0].value must not contain ${NUL}`, unstorable: NUL },
    { path: ['runTags', 'myTag'], message: 'runTags.myTag must be a string' },
    { path: ['owner'], message: `owner must not contain ${NUL}`, unstorable: NUL },
    { path: ['allowedTiers', 1], message: 'allowedTiers[1]: must not be empty' },
    { path: ['alias'], message: 'alias must be specified' },
    { path: ['templateName'], message: 'templateName must be specified' },
    { path: ['owner'], message: OWNER_MISSING },
    { path: [], message: 'request body must be a JSON object' },
  ]);

  it('REST: snake_case top-level names, the caller’s own keys untouched, the classic phrasings', () => {
    expect(restPath(['runTags', 'myTag'])).toEqual(['run_tags', 'myTag']);
    expect(restPath(['owner'])).toEqual(['run_tags', 'owner_id']);
    expect(restPath(['payload', 'modelName'])).toEqual(['template_payload', 'modelName']);
    expect(restate(domain, REST_WORDS).issues.map((i) => i.message)).toEqual([
      'active_deadline_seconds must be a positive integer',
      `env[0].value must not contain ${NUL}`,
      'run_tags.myTag must be a string',
      `run_tags.owner_id must not contain ${NUL}`,
      'allowed_tiers[1]: must not be empty',
      'string [alias] must be specified',
      'string [template_name] must be specified',
      'run_tags must exist in body and contain [owner_id]',
      'request body must be a JSON object',
    ]);
  });

  it('REST words are a fixed point: restating twice changes nothing', () => {
    const once = restate(domain, REST_WORDS);
    expect(restate(once, REST_WORDS).issues).toEqual(once.issues);
  });

  it('GraphQL: each field under the argument that carried it; an argument of its own keeps its path', async () => {
    const err = await inArgument('input', () => Promise.reject(domain)).catch((e: unknown) => e as ValidationError);
    expect(err.issues.slice(0, 3)).toEqual([
      { path: ['input', 'activeDeadlineSeconds'], message: 'input.activeDeadlineSeconds must be a positive integer' },
      { path: ['input', 'env', 0, 'value'], message: `input.env[0].value must not contain ${NUL}`, unstorable: NUL },
      { path: ['input', 'runTags', 'myTag'], message: 'input.runTags.myTag must be a string' },
    ]);
    expect(err.issues.at(-1)).toEqual({ path: [], message: 'request body must be a JSON object' });
    const payload = new TemplatePayloadError([{ path: ['payload', 'n'], message: 'payload.n: must be <= 10' }]);
    const kept = await inArgument('input', () => Promise.reject(payload), ['payload']).catch((e: unknown) => e);
    expect(kept).toBeInstanceOf(TemplatePayloadError);
    expect((kept as ValidationError).issues).toEqual(payload.issues);
  });
});
