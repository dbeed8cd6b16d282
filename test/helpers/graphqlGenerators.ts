// fast-check generators for bad GraphQL requests, driven by the schema itself: a valid
// operation is built for every root field (variables from the argument types, a selection
// from the return type), then arguments, variables, the document and the HTTP request
// around it are mutated. A field added to the schema is covered without editing this file.
import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import {
  applyObjectMutation,
  Entries,
  junkValue,
  nastyString,
  objectMutation,
  RawJson,
  Ref,
  toJsonText,
  typedMutation,
  type ObjectMutation,
} from './generators.js';

// ---- valid values from input types ----

/** A value for one input position, or undefined to let the type decide. */
export type Hint = (parent: string, name: string) => fc.Arbitrary<unknown> | undefined;

export function validValue(type: GraphQLInputType, parent: string, name: string, hint: Hint): fc.Arbitrary<unknown> {
  const hinted = hint(parent, name);
  if (hinted) return hinted;
  if (isNonNullType(type)) return validValue(type.ofType, parent, name, hint);
  if (isListType(type)) return fc.array(validValue(type.ofType as GraphQLInputType, parent, name, hint), { maxLength: 2 });
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => v.name));
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) {
      const value = validValue(f.type, type.name, f.name, hint);
      record[f.name] = isNonNullType(f.type) ? value : fc.option(value, { nil: undefined, freq: 2 });
    }
    return fc.record(record).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
  }
  switch (type.name) {
    case 'Int':
      return fc.integer({ min: 0, max: 100 });
    case 'Float':
      return fc.double({ min: 0, max: 100, noNaN: true });
    case 'Boolean':
      return fc.boolean();
    case 'DateTime':
      return fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'JSON':
      return fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/), { maxKeys: 2 });
    default:
      return fc.stringMatching(/^[a-z0-9]{1,12}$/);
  }
}

/** Valid arguments of a root field: required ones always, optional ones sometimes. */
export function validArgs(field: GraphQLField<unknown, unknown>, parent: string, hint: Hint): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const a of field.args) {
    const value = validValue(a.type, parent, a.name, hint);
    record[a.name] = isNonNullType(a.type) ? value : fc.option(value, { nil: undefined, freq: 2 });
  }
  return fc.record(record).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

// ---- literals and selections ----

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A GraphQL literal for `value`; `type` (when known) prints enum values bare. */
export function literal(value: unknown, type?: GraphQLInputType): string {
  const named = type ? getNamedType(type) : undefined;
  const inner = type && isNonNullType(type) ? type.ofType : type;
  if (value instanceof Ref) throw new Error(`unresolved ${value.toString()}`);
  if (value instanceof RawJson) return value.text;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return named && isEnumType(named) && NAME.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : String(value).replace('-', '');
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, inner && isListType(inner) ? (inner.ofType as GraphQLInputType) : undefined)).join(', ')}]`;
  const entries = value instanceof Entries ? value.entries : Object.entries(value as object);
  const fields = named && isInputObjectType(named) ? named.getFields() : {};
  return `{${entries.map(([k, v]) => `${k}: ${literal(v, fields[k]?.type)}`).join(', ')}}`;
}

/** A field with arguments inside a selection (Run.logs, TaskDefinition.runs), for junk nested arguments. */
export interface NestedArgSite {
  type: string;
  field: string;
  args: readonly GraphQLArgument[];
}

/**
 * The selection for a return type: leaf fields, and objects down to `maxDepth`; every union
 * member gets an inline fragment. `argsFor` may add arguments to a field that takes some.
 */
export function selection(type: GraphQLOutputType, argsFor: (site: NestedArgSite) => string, depth = 0, maxDepth = 3): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (isUnionType(named)) {
    return `{ __typename ${named
      .getTypes()
      .map((m) => `... on ${m.name} ${selection(m, argsFor, depth, maxDepth)}`)
      .join(' ')} }`;
  }
  if (!isObjectType(named) && !isInterfaceType(named)) return '';
  const parts: string[] = [];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const fieldType = getNamedType(f.type);
    const args = f.args.length ? argsFor({ type: named.name, field: f.name, args: f.args }) : '';
    if (isLeafType(fieldType)) parts.push(f.name + args);
    else if (depth + 1 < maxDepth && !isInterfaceType(named)) {
      const sub = selection(f.type, argsFor, depth + 1, maxDepth);
      if (sub) parts.push(`${f.name}${args} ${sub}`);
    }
  }
  return parts.length ? `{ __typename ${parts.join(' ')} }` : '{ __typename }';
}

/** Every field with arguments the selection of `type` would include. */
export function nestedArgSites(type: GraphQLOutputType): NestedArgSite[] {
  const sites: NestedArgSite[] = [];
  selection(type, (site) => {
    sites.push(site);
    return '';
  });
  return sites;
}

// ---- mutations ----

export type GqlMutation =
  | { kind: 'argJunk'; at: number; value: unknown; inline: boolean }
  | { kind: 'argNested'; at: number; m: ObjectMutation; inline: boolean }
  | { kind: 'dropArg'; at: number }
  | { kind: 'nullArg'; at: number }
  | { kind: 'wrongVarType'; at: number; typeName: string }
  | { kind: 'unknownArg'; name: string; value: unknown }
  | { kind: 'undeclaredVar'; at: number }
  | { kind: 'extraVar'; name: string; value: unknown }
  | { kind: 'varsJunk'; value: unknown }
  | { kind: 'nestedArg'; at: number; arg: number; value: unknown }
  | { kind: 'truncate'; fraction: number }
  | { kind: 'unknownField'; name: string }
  | { kind: 'noSelection' }
  | { kind: 'fragment'; style: number }
  | { kind: 'twoOperations' }
  | { kind: 'operationName'; name: string }
  | { kind: 'transport'; style: number; text: string };

const TYPE_NAMES = [
  'Int',
  'Int!',
  'String',
  'String!',
  'ID!',
  '[String!]',
  'Boolean',
  'JSON',
  'DateTime',
  'RunStatus',
  'Nope',
  'CreateTaskDefinitionInput!',
  '[[Int]]',
  'Float',
];

export const gqlMutation: fc.Arbitrary<GqlMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('argJunk' as const), at: fc.nat(), value: junkValue, inline: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('argNested' as const), at: fc.nat(), m: objectMutation, inline: fc.boolean() }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('argNested' as const), at: fc.nat(), m: typedMutation, inline: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dropArg' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('nullArg' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrongVarType' as const), at: fc.nat(), typeName: fc.constantFrom(...TYPE_NAMES) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('unknownArg' as const), name: fc.constantFrom('nope', 'ID', 'limit', 'input2', '_'), value: junkValue }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('undeclaredVar' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('extraVar' as const), name: fc.oneof(nastyString, fc.constantFrom('input', 'id')), value: junkValue }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('varsJunk' as const), value: junkValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('nestedArg' as const), at: fc.nat(), arg: fc.nat(), value: junkValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknownField' as const), name: fc.constantFrom('nope', '__schema', 'id', 'password') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noSelection' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fragment' as const), style: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('twoOperations' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('operationName' as const), name: fc.oneof(nastyString, fc.constant('Op')) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transport' as const),
      style: fc.nat(6),
      text: fc.oneof(nastyString, fc.constantFrom('{', '[]', 'null', '{"query":1}', '{"query":null}', '{"variables":"x"}')),
    }),
  },
);

export interface GqlHttpRequest {
  method: 'GET' | 'POST';
  /** Path and query string under the app. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Argument and input-field names the mutations touched. */
  blame: string[];
}

interface ArgState {
  name: string;
  typeText: string;
  type?: GraphQLInputType;
  value: unknown;
  mode: 'var' | 'inline' | 'omit' | 'undeclared';
}

/** The HTTP request for one operation on `field` of `root` with `args` (refs resolved) and the mutations applied. */
export function buildGqlRequest(
  root: 'query' | 'mutation',
  field: GraphQLField<unknown, unknown>,
  args: Record<string, unknown>,
  inlineArgs: boolean,
  mutations: readonly GqlMutation[],
): GqlHttpRequest {
  const state: ArgState[] = field.args.map((a) => ({
    name: a.name,
    typeText: String(a.type),
    type: a.type,
    value: args[a.name],
    mode: a.name in args ? (inlineArgs ? 'inline' : 'var') : 'omit',
  }));
  const blame: string[] = [];
  let variables: unknown;
  const extraVars: [string, unknown][] = [];
  const nestedArgs = new Map<string, string>();
  const sites = nestedArgSites(field.type);
  const doc = { truncate: undefined as number | undefined, unknownField: '', noSelection: false, fragment: -1, twoOps: false, opName: 'Op' };
  let transport: { style: number; text: string } | undefined;
  const pick = (at: number) => (state.length ? state[at % state.length] : undefined);

  for (const m of mutations) {
    switch (m.kind) {
      case 'argJunk':
      case 'argNested': {
        const s = pick(m.at);
        if (!s) break;
        blame.push(s.name);
        if (m.kind === 'argJunk') s.value = m.value;
        else {
          const r = applyObjectMutation(s.value, m.m);
          s.value = r.value;
          blame.push(...r.blame);
        }
        s.mode = m.inline ? 'inline' : 'var';
        break;
      }
      case 'dropArg':
      case 'nullArg':
      case 'undeclaredVar': {
        const s = pick(m.at);
        if (!s) break;
        blame.push(s.name);
        if (m.kind === 'dropArg') s.mode = 'omit';
        else if (m.kind === 'nullArg') s.value = null;
        else s.mode = 'undeclared';
        if (m.kind === 'nullArg' && s.mode === 'omit') s.mode = 'var';
        break;
      }
      case 'wrongVarType': {
        const s = pick(m.at);
        if (!s) break;
        blame.push(s.name);
        s.typeText = m.typeName;
        s.type = undefined;
        if (s.mode === 'omit' || s.mode === 'inline') s.mode = 'var';
        break;
      }
      case 'unknownArg':
        state.push({ name: m.name, typeText: 'String', value: m.value, mode: 'inline' });
        blame.push(m.name);
        break;
      case 'extraVar':
        extraVars.push([m.name, m.value]);
        break;
      case 'varsJunk':
        variables = m.value;
        blame.push('variables');
        break;
      case 'nestedArg': {
        const site = sites.length ? sites[m.at % sites.length]! : undefined;
        if (!site) break;
        const arg = site.args[m.arg % site.args.length]!;
        nestedArgs.set(`${site.type}.${site.field}`, `(${arg.name}: ${literal(m.value, arg.type)})`);
        blame.push(arg.name);
        break;
      }
      case 'truncate':
        doc.truncate = m.fraction;
        break;
      case 'unknownField':
        doc.unknownField = m.name;
        break;
      case 'noSelection':
        doc.noSelection = true;
        break;
      case 'fragment':
        doc.fragment = m.style;
        break;
      case 'twoOperations':
        doc.twoOps = true;
        break;
      case 'operationName':
        doc.opName = m.name;
        break;
      case 'transport':
        transport = m;
        break;
    }
  }

  const decls = state.filter((s) => s.mode === 'var').map((s) => `$${s.name}: ${s.typeText}`);
  const argText = state
    .filter((s) => s.mode !== 'omit')
    .map((s) => `${s.name}: ${s.mode === 'inline' ? literal(s.value, s.type) : `$${s.name}`}`)
    .join(', ');
  const sel = doc.noSelection ? '' : selection(field.type, (site) => nestedArgs.get(`${site.type}.${site.field}`) ?? '');
  const rootType = root === 'query' ? 'Query' : 'Mutation';
  let body = `${field.name}${argText ? `(${argText})` : ''} ${sel}`;
  if (doc.unknownField) body += ` ${doc.unknownField}`;
  let fragments = '';
  switch (doc.fragment) {
    case 0: // the whole selection through a named fragment: valid
      fragments = ` fragment F on ${rootType} { ${body} }`;
      body = '...F';
      break;
    case 1:
      body += ' ...Missing';
      break;
    case 2: // a fragment on the other root type: cannot be spread here
      fragments = ` fragment F on ${root === 'query' ? 'Mutation' : 'Query'} { __typename }`;
      body += ' ...F';
      break;
    case 3:
      fragments = ' fragment Unused on Query { health }';
      break;
    case 4:
      fragments = ` fragment A on ${rootType} { ...B } fragment B on ${rootType} { ...A }`;
      body += ' ...A';
      break;
  }
  let query = `${root} Op${decls.length ? `(${decls.join(', ')})` : ''} { ${body} }${fragments}`;
  if (doc.twoOps) query += ` ${root} Other { __typename }`;
  if (doc.truncate !== undefined) query = query.slice(0, Math.floor(query.length * doc.truncate));

  if (variables === undefined) {
    const entries: [string, unknown][] = state.filter((s) => s.mode === 'var' && s.value !== undefined).map((s) => [s.name, s.value]);
    variables = new Entries([...entries, ...extraVars]);
  }
  const payload = new Entries([
    ['query', query],
    ['variables', variables],
    ...(doc.opName === 'Op' ? [] : ([['operationName', doc.opName]] as [string, unknown][])),
  ]);
  // The CSRF header goes on every request: this test is about input, and Yoga's CSRF
  // prevention (a 403 for text/plain and header-less GET) is covered by the front-door test.
  const request: GqlHttpRequest = {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', 'x-graphql-yoga-csrf': '1' },
    body: toJsonText(payload),
    blame,
  };
  if (transport) {
    blame.push('query', 'body', 'json', 'variables', 'content-type');
    switch (transport.style) {
      case 0:
        request.body = transport.text;
        break;
      case 1: // GET carries the operation in the query string (Yoga refuses mutations over GET)
        return {
          method: 'GET',
          path: `/graphql?${new URLSearchParams({ query, variables: toJsonText(variables) })}`,
          headers: { 'x-graphql-yoga-csrf': '1' },
          blame,
        };
      case 2:
        request.headers['content-type'] = 'text/plain';
        break;
      case 3:
        request.body = toJsonText(
          new Entries([
            ['query', transport.text],
            ['variables', variables],
          ]),
        );
        break;
      case 4:
        request.headers['content-type'] = 'application/graphql';
        request.body = query;
        break;
      case 5:
        request.headers.accept = transport.text.replace(/[^\x20-\x7e]/g, '') || 'text/html';
        break;
      case 6:
        request.body = toJsonText(
          new Entries([
            ['query', query],
            ['variables', variables],
            ['extensions', transport.text],
          ]),
        );
        break;
    }
  }
  return request;
}
