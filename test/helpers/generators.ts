// fast-check generators for bad-input tests: junk JSON values, mutations of valid request
// bodies and query strings, odd path parameters, and the plumbing that applies them.
//
// Generated plans are data, independent of database state: references to fixtures
// (`Ref`) are resolved, and mutations applied, when a request is about to be sent. That
// keeps the arbitraries pure (so a seed reproduces them) while the fixtures they point at
// may be deleted and re-created between requests.
import fc from 'fast-check';

/** A value resolved when the request is sent (a fixture id, a fresh alias, …). */
export class Ref {
  constructor(readonly kind: string) {}
  toString(): string {
    return `<${this.kind}>`;
  }
}

/** JSON text emitted verbatim where a value goes (numbers JSON.stringify cannot write, deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text.length > 80 ? `${this.text.slice(0, 60)}…(${this.text.length} chars)` : this.text;
  }
}

/** An object whose keys may repeat (JSON text allows it; a JS object cannot hold it). */
export class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}

// ---- junk values ----

const NASTY_STRINGS = [
  '',
  ' ',
  '\t\n',
  '0',
  '-1',
  '1.5',
  '1e309',
  '-0',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'undefined',
  'true',
  'false',
  '[]',
  '{}',
  '0x10',
  '1_000',
  '١٢٣',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\ud83d',
  '😀',
  'e\u0301',
  '\u202eevil',
  '\r\n',
  '%00',
  '%',
  '_',
  '\\',
  '../..',
  "'; drop table runs; --",
  '<script>',
  'ALIAS',
  'QUEUED',
  'spot',
  'local',
  '2024-02-30T00:00:00Z',
  '2024-05-01T12:00:00',
  'A|B',
  '|',
  '\uFEFF',
];

const oddChar = fc.constantFrom('\u0000', '\ud800', '\udc00', '\ud83d\ude00', 'é', 'a', ' ', '\n', '"', '\\', '%', '|', '=', '&', '/', '\u202e');

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: oddChar, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  // Very long: above every length limit (1024, 4096, 255) and big enough to notice copies.
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'é'.repeat(n)) },
);

const nastyNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, -0, 0.5, 1e-7, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 53, 2 ** 53 + 2, 1e21, Number.MAX_VALUE, -Number.MAX_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '1.0', '-0.0', '5e-324').map((t) => new RawJson(t)),
);

/** Nested 10–20,000 deep: arrays or objects, as raw text so building it costs nothing. */
const deepValue: fc.Arbitrary<unknown> = fc
  .tuple(fc.integer({ min: 10, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) => new RawJson(arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

const smallJunk: fc.Arbitrary<unknown> = fc.oneof(nastyString, nastyNumber, fc.boolean(), fc.constant(null));

/** Anything a client could send where a typed value was expected. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 3, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(smallJunk, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(nastyString, fc.constantFrom('name', 'value', 'owner_id')), smallJunk, { maxKeys: 4 }) },
  { weight: 1, arbitrary: deepValue },
);

// ---- serialising ----

/** JSON text of a value that may hold Entries and RawJson (duplicate keys, raw numbers). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof Entries) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (value instanceof Ref) throw new Error(`unresolved ${value.toString()}`);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : toJsonText(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Replaces every Ref in `value` by `resolve(ref)`, copying objects (Entries included). */
export function resolveRefs(value: unknown, resolve: (ref: Ref) => unknown): unknown {
  if (value instanceof Ref) return resolve(value);
  if (value instanceof RawJson) return value;
  if (value instanceof Entries) return new Entries(value.entries.map(([k, v]) => [k, resolveRefs(v, resolve)]));
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, resolve));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, resolve)]));
  }
  return value;
}

// ---- mutations of an object (a request body, a GraphQL input object) ----

/**
 * One change to an object. Indices are taken modulo the number of keys when applied, so a
 * mutation is generated without knowing the object it will change.
 */
export type ObjectMutation =
  | { kind: 'drop'; at: number }
  | { kind: 'renameCase'; at: number; style: number }
  | { kind: 'renameTypo'; at: number; style: number }
  | { kind: 'duplicate'; at: number; style: number; value: unknown }
  | { kind: 'wrongType'; at: number; value: unknown }
  | { kind: 'nested'; at: number; inner: ObjectMutation }
  | { kind: 'addKnown'; at: number; value: unknown }
  | { kind: 'addUnknown'; key: string; value: unknown }
  | { kind: 'taint'; at: number; char: string; where: number }
  | { kind: 'sameType'; at: number; text: string; int: number };

/** Values of the expected JSON type that a schema may still refuse (or a column not hold). */
const EDGE_INTS = [-1, 0, 1, -2147483648, 2147483647, 2147483648, 65535, 65536, 1e6, 9007199254740991, -9007199254740991];

/** Characters a database or a parser may choke on, put into an otherwise valid string or key. */
const TAINTS = ['\u0000', '\ud800', '\udfff', '\ud83d', '\uffff', '\ufeff', '\u202e', '%', "'", '"', '\\', '\n'];

export const objectMutation: fc.Arbitrary<ObjectMutation> = fc.letrec<{ m: ObjectMutation }>((tie) => ({
  m: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('renameCase' as const), at: fc.nat(), style: fc.nat(2) }),
    fc.record({ kind: fc.constant('renameTypo' as const), at: fc.nat(), style: fc.nat(3) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), style: fc.nat(2), value: junkValue }),
    fc.record({ kind: fc.constant('wrongType' as const), at: fc.nat(), value: junkValue }),
    fc.record({ kind: fc.constant('wrongType' as const), at: fc.nat(), value: junkValue }),
    fc.record({ kind: fc.constant('nested' as const), at: fc.nat(), inner: tie('m') }),
    fc.record({ kind: fc.constant('addKnown' as const), at: fc.nat(), value: junkValue }),
    fc.record({
      kind: fc.constant('addUnknown' as const),
      key: fc.oneof(nastyString, fc.constantFrom('__proto__', 'constructor', 'runTags')),
      value: junkValue,
    }),
    fc.record({ kind: fc.constant('taint' as const), at: fc.nat(), char: fc.constantFrom(...TAINTS), where: fc.nat() }),
    fc.record({ kind: fc.constant('taint' as const), at: fc.nat(), char: fc.constantFrom(...TAINTS), where: fc.nat() }),
    fc.record({ kind: fc.constant('sameType' as const), at: fc.nat(), text: nastyString, int: fc.constantFrom(...EDGE_INTS) }),
    fc.record({ kind: fc.constant('sameType' as const), at: fc.nat(), text: nastyString, int: fc.constantFrom(...EDGE_INTS) }),
  ),
})).m;

/**
 * Changes that keep the JSON type (a string stays a string): what gets past a type system
 * such as GraphQL's to the domain's own validation.
 */
export const typedMutation: fc.Arbitrary<ObjectMutation> = fc.letrec<{ m: ObjectMutation }>((tie) => ({
  m: fc.oneof(
    { depthSize: 'small' },
    fc.record({ kind: fc.constant('sameType' as const), at: fc.nat(), text: nastyString, int: fc.constantFrom(...EDGE_INTS) }),
    fc.record({ kind: fc.constant('taint' as const), at: fc.nat(), char: fc.constantFrom(...TAINTS), where: fc.nat() }),
    fc.record({ kind: fc.constant('nested' as const), at: fc.nat(), inner: tie('m') }),
  ),
})).m;

function caseVariant(key: string, style: number): string {
  if (style === 0) return key.toUpperCase();
  if (style === 1) return key.charAt(0).toUpperCase() + key.slice(1);
  return [...key].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
}

function typo(key: string, style: number): string {
  return [key + '_', key.slice(1), key.replace(/_/g, '-'), ` ${key}`][style % 4]!;
}

function asEntries(value: unknown): [string, unknown][] | undefined {
  if (value instanceof Entries) return value.entries.map(([k, v]) => [k, v]);
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RawJson)) return Object.entries(value);
  return undefined;
}

/**
 * Applies `m` to an object (or an array, whose elements are then the "keys"); returns the
 * new value and the names of what it changed (for the error-naming rule). `known` are keys
 * the target accepts, for `addKnown`.
 */
export function applyObjectMutation(value: unknown, m: ObjectMutation, known: readonly string[] = []): { value: unknown; blame: string[] } {
  if (Array.isArray(value)) {
    if (value.length === 0) return { value: [m.kind === 'addUnknown' || m.kind === 'addKnown' ? m.value : null], blame: [] };
    const i = ('at' in m ? m.at : 0) % value.length;
    const copy = [...value];
    if (m.kind === 'drop') copy.splice(i, 1);
    else if (m.kind === 'duplicate') copy.push(copy[i]);
    else if (m.kind === 'wrongType') copy[i] = m.value;
    else if (m.kind === 'nested' || m.kind === 'renameCase' || m.kind === 'renameTypo' || m.kind === 'taint' || m.kind === 'sameType') {
      const inner = applyObjectMutation(copy[i], m.kind === 'nested' ? m.inner : m, known);
      copy[i] = inner.value;
      return { value: copy, blame: inner.blame };
    } else copy.push(m.value);
    return { value: copy, blame: [] };
  }
  if (m.kind === 'taint' && typeof value === 'string') {
    const i = m.where % (value.length + 1);
    return { value: value.slice(0, i) + m.char + value.slice(i), blame: [] };
  }
  if (m.kind === 'sameType' && typeof value === 'string') return { value: m.text, blame: [] };
  if (m.kind === 'sameType' && typeof value === 'number') return { value: m.int, blame: [] };
  if (m.kind === 'sameType' && typeof value === 'boolean') return { value: !value, blame: [] };
  const entries = asEntries(value);
  if (!entries)
    return { value: m.kind === 'wrongType' || m.kind === 'addUnknown' || m.kind === 'addKnown' || m.kind === 'duplicate' ? m.value : value, blame: [] };
  if (m.kind === 'addUnknown') return { value: new Entries([...entries, [m.key, m.value]]), blame: [m.key] };
  if (m.kind === 'addKnown') {
    const key = known.length ? known[m.at % known.length]! : 'unknown_key';
    return { value: new Entries([...entries.filter(([k]) => k !== key), [key, m.value]]), blame: [key] };
  }
  if (entries.length === 0) return { value: new Entries([]), blame: [] };
  const i = m.at % entries.length;
  const [key, current] = entries[i]!;
  switch (m.kind) {
    case 'drop':
      entries.splice(i, 1);
      break;
    case 'renameCase':
      entries[i] = [caseVariant(key, m.style), current];
      break;
    case 'renameTypo':
      entries[i] = [typo(key, m.style), current];
      break;
    case 'duplicate':
      entries.push([caseVariant(key, m.style), m.value]);
      break;
    case 'wrongType':
      entries[i] = [key, m.value];
      break;
    case 'sameType': {
      const inner = applyObjectMutation(current, m, []);
      entries[i] = [key, inner.value];
      return { value: new Entries(entries), blame: [key, ...inner.blame] };
    }
    case 'taint': {
      // Into the value when there is one to taint, else into the key.
      if (typeof current === 'string' || asEntries(current) || Array.isArray(current)) {
        const inner = applyObjectMutation(current, m, []);
        entries[i] = [key, inner.value];
        return { value: new Entries(entries), blame: [key, ...inner.blame] };
      }
      const at = m.where % (key.length + 1);
      entries[i] = [key.slice(0, at) + m.char + key.slice(at), current];
      break;
    }
    case 'nested': {
      const inner = applyObjectMutation(current, m.inner, []);
      entries[i] = [key, inner.value];
      return { value: new Entries(entries), blame: [key, ...inner.blame] };
    }
  }
  return { value: new Entries(entries), blame: [key] };
}

// ---- whole bodies, content types, query strings, path parameters ----

export const invalidJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '{',
    '{"alias":',
    '{alias: 1}',
    "{'alias':'x'}",
    '{"alias":"x",}',
    'NaN',
    'undefined',
    '[1,2',
    '"str"',
    '123',
    'true',
    'null',
    '[]',
    '[{}]',
    '{"a":1}{"b":2}',
    '\uFEFF{}',
    '\u0000',
    '{"run_tags":{"owner_id":"x"}',
    '<xml/>',
    'a=1&b=2',
    '{"__proto__":{"alias":"x"}}',
    '{"constructor":{"prototype":{}}}',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => '['.repeat(n)),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
);

export const oddContentType: fc.Arbitrary<string> = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/xml',
  '*/*',
  '',
  'application/graphql',
);

/** Query keys the lists and the log route read, plus their near misses. */
export const QUERY_KEYS = [
  'limit',
  'offset',
  'sort_by',
  'order',
  'env',
  'status',
  'alias',
  'image',
  'group_name',
  'command',
  'definition_id',
  'memory',
  'cpu',
  'gpu',
  'target_cluster',
  'cluster_name',
  'engine',
  'exit_code',
  'exit_reason',
  'user',
  'node_lifecycle',
  'queued_at_since',
  'queued_at_until',
  'started_at_since',
  'started_at_until',
  'finished_at_since',
  'finished_at_until',
  'queued_at',
  '_since',
  '_until',
  'last_seen',
  'raw_text',
  'name',
  'LIMIT',
  'Sort_By',
] as const;

export const queryJunkValue: fc.Arbitrary<string> = fc.oneof(
  nastyString,
  fc.constantFrom(
    '-1',
    '1.5',
    '1e3',
    '99999999999999999999',
    ' 5',
    '5 ',
    '2147483648',
    '-2147483649',
    '0x1F',
    '2024-13-01T00:00:00Z',
    '2024-02-30T12:00:00Z',
    '2024-05-01T12:00:00',
    '2024-05-01T12:00:00+25:00',
    '2024-05-01T24:00:00Z',
    'yesterday',
    '0',
    '|',
    'A|',
    '|B',
    'A',
    'A|B|C',
    'ASC',
    'DESC',
    'random',
    'TRUE',
    'yes',
    'abc',
    'bG9jYWwtMTox',
  ),
);

export type QueryMutation =
  { kind: 'set'; key: string; value: string } | { kind: 'drop'; at: number } | { kind: 'duplicate'; at: number; value: string } | { kind: 'raw'; text: string };

export const queryMutation: fc.Arbitrary<QueryMutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      key: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, nastyString),
      value: queryJunkValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), value: queryJunkValue }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      text: fc.constantFrom(
        '&',
        '=',
        '%',
        '%zz',
        '&&&',
        '=x',
        'a=b=c',
        '%00=1',
        '+',
        'limit=%',
        'limit=1&limit=2',
        '%E0%A4%A',
        'offset=%ED%A0%80',
        'env=%00|x',
        '[]=1',
        'sort_by[]=alias',
      ),
    }),
  },
);

/** Applies `m` to query pairs; a `raw` piece is kept apart and appended unencoded. */
export function applyQueryMutation(pairs: [string, string][], raw: string[], m: QueryMutation): void {
  if (m.kind === 'set') {
    const i = pairs.findIndex(([k]) => k === m.key);
    if (i >= 0) pairs[i] = [m.key, m.value];
    else pairs.push([m.key, m.value]);
  } else if (m.kind === 'drop') {
    if (pairs.length) pairs.splice(m.at % pairs.length, 1);
  } else if (m.kind === 'duplicate') {
    if (pairs.length) pairs.push([pairs[m.at % pairs.length]![0], m.value]);
  } else raw.push(m.text);
}

export function queryText(pairs: [string, string][], raw: string[]): string {
  const encoded = new URLSearchParams(pairs).toString();
  const all = [encoded, ...raw].filter((s) => s !== '').join('&');
  return all ? `?${all}` : '';
}

/** How an odd path parameter is put into the URL. */
export type PathEncoding = 'component' | 'raw' | 'double';

export interface PathJunk {
  value: string;
  encoding: PathEncoding;
}

export const pathJunk: fc.Arbitrary<PathJunk> = fc.record({
  value: fc.oneof(
    fc.constantFrom(
      ' ',
      '.',
      '..',
      '%',
      '%25',
      '%2F',
      '%00',
      '\u0000',
      'a/b',
      'a?b',
      'a#b',
      '\ud800',
      '😀',
      'é',
      '\u202e',
      "'",
      '"',
      'null',
      '-1',
      'NaN',
      'alias',
      'history',
      'execute',
    ),
    nastyString.filter((s) => s.length > 0),
  ),
  encoding: fc.constantFrom<PathEncoding>('component', 'component', 'raw', 'double'),
});

/** encodeURIComponent, but lone surrogates become their (invalid) UTF-8 bytes instead of throwing. */
export function encodePathSegment(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff)
      out += `%${(0xe0 | (code >> 12)).toString(16).toUpperCase()}%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`;
    else out += encodeURIComponent(ch);
  }
  return out;
}

export function encodePath(junk: PathJunk): string {
  if (junk.encoding === 'raw') return junk.value;
  const once = encodePathSegment(junk.value);
  return junk.encoding === 'double' ? encodePathSegment(once) : once;
}

/**
 * Whether a path value can leave its segment (`/`, `..`, `?`, `#`; tabs and newlines are
 * dropped by the URL parser), so the request may reach another route.
 */
export function mayChangeRoute(junk: PathJunk): boolean {
  const inUrl = encodePath(junk).replace(/[\t\n\r]/g, '');
  return inUrl.trim() === '' || /^(\.|%2e){1,2}$/i.test(inUrl) || /[/?#\\]/.test(inUrl);
}

/** Lower-cased without `_`, `-` and spaces: `group_name`, `groupName` and `Group-Name` compare equal. */
export function normalizeName(s: string): string {
  return s.toLowerCase().replace(/[_\s-]/g, '');
}

/**
 * The error-naming rule: the message mentions one of the blamed `names` (compared by
 * normalizeName; a name shorter than three characters only counts bracketed, `[x]`, or
 * opening one of the messages, `% must not…`), or quotes one of the changed `values` (`[value]`, or the
 * value itself when it has three characters or more: "Definition with ID <value> not found").
 */
export function namesOneOf(message: string, names: readonly string[], values: readonly string[] = []): boolean {
  const m = normalizeName(message);
  const named = names.some((b) => {
    const n = normalizeName(b);
    if (n.length >= 3) return m.includes(n);
    const escaped = b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return message.includes(`[${b}]`) || new RegExp(`(^|\\n)${escaped}[\\s.:[]`).test(message);
  });
  return named || values.some((v) => message.includes(`[${v}]`) || (v.trim().length >= 3 && message.includes(v)));
}
