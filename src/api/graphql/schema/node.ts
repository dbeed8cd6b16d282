// Relay object identification: the Node interface, global ids, and `node(id:)` /
// `nodes(ids:)`, so Relay and normalized caches (Apollo, urql Graphcache) can refetch any
// run, definition, cluster or timeline entry by the `id` they already hold.
//
// A global id is base64("<Type>:<domain id>"), as Relay's examples and GitHub's older ids
// are. Clients must treat it as opaque; the domain ids (`runId`, `definitionId`, a cluster's
// `name`) are what URLs, REST and arguments use. Written by hand rather than with
// plugin-relay's `builder.node` so that a malformed id is a BAD_USER_INPUT error naming the
// argument, not a masked internal error.
import { builder, type GraphQLContext } from '../builder.js';
import { badInput } from './connection.js';

export const NODE_TYPES = ['Run', 'TaskDefinition', 'Cluster', 'RunEvent', 'Template'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export function toGlobalId(type: NodeType, id: string | number): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The type and domain id inside a global id, or undefined when it is not one of ours. */
export function parseGlobalId(globalId: string): { type: NodeType; id: string } | undefined {
  if (!BASE64.test(globalId) || globalId.length > 4096) return undefined;
  const text = Buffer.from(globalId, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 1) return undefined;
  const type = text.slice(0, colon) as NodeType;
  const id = text.slice(colon + 1);
  if (!NODE_TYPES.includes(type) || id === '' || text.includes('\uFFFD')) return undefined;
  if (type === 'RunEvent' && !/^[1-9]\d{0,15}$/.test(id)) return undefined;
  return { type, id };
}

/** A global id of one of `types`, or a BAD_USER_INPUT error naming `arg`. */
export function expectGlobalId<T extends NodeType>(globalId: string, arg: string, types: readonly T[]): { type: T; id: string } {
  const parsed = parseGlobalId(globalId);
  if (!parsed || !types.includes(parsed.type as T)) {
    throw badInput(
      `${arg} is not the id of a ${types.join(' or ')}; pass the \`id\` field of one (domain ids such as runId go in the runId/definitionId arguments)`,
    );
  }
  return parsed as { type: T; id: string };
}

export const NodeInterface = builder.interfaceRef<object>('Node').implement({
  description:
    'An object with a global id: refetch it with `node(id:)`. The id is opaque and stable; use the domain id fields (runId, definitionId, name) in URLs and arguments.',
  fields: (t) => ({
    id: t.id({ description: 'Global id (opaque), unique across types.', resolve: () => '' }),
  }),
  resolveType: (value) => {
    if ('seq' in value && 'kind' in value) return 'RunEvent';
    if ('runId' in value && 'queuedAt' in value) return 'Run';
    if ('definitionId' in value && 'version' in value) return 'TaskDefinition';
    if ('registered' in value) return 'Cluster';
    if ('templateId' in value) return 'Template';
    throw new Error('a Node of no known type');
  },
});

/** Loads each global id (null when absent); one statement per type however many ids. */
async function loadNodes(ids: readonly string[], arg: (i: number) => string, ctx: GraphQLContext): Promise<(object | null)[]> {
  const parsed = ids.map((id, i) => expectGlobalId(id, arg(i), NODE_TYPES));
  return Promise.all(
    parsed.map(({ type, id }) => {
      switch (type) {
        case 'Run':
          return ctx.loaders.runById.load(id);
        case 'TaskDefinition':
          return ctx.loaders.definitionById.load(id);
        case 'Cluster':
          return ctx.loaders.clusterByName.load(id);
        case 'RunEvent':
          return ctx.loaders.eventBySeq.load(Number(id));
        case 'Template':
          return ctx.services.templates.get(id).catch(() => null);
      }
    }),
  );
}

builder.queryField('node', (t) =>
  t.field({
    type: NodeInterface,
    nullable: true,
    description: 'Any object by its global id; null when it no longer exists.',
    args: { id: t.arg.id({ required: true, description: 'The `id` field of a Run, TaskDefinition, Cluster or RunEvent.' }) },
    resolve: async (_root, { id }, ctx) => (await loadNodes([String(id)], () => 'id', ctx))[0] ?? null,
  }),
);

builder.queryField('nodes', (t) =>
  t.field({
    type: [NodeInterface],
    nullable: { list: false, items: true },
    description: 'Objects by their global ids, in the order given; null for each that no longer exists. At most 500 ids.',
    args: { ids: t.arg.idList({ required: true, description: 'The `id` fields of Runs, TaskDefinitions, Clusters or RunEvents.' }) },
    resolve: async (_root, { ids }, ctx) => {
      if (ids.length > 500) throw badInput('ids takes at most 500 ids; ask in several requests');
      return (await loadNodes(ids.map(String), (i) => `ids[${i}]`, ctx)).map((n) => n ?? null);
    },
  }),
);

/**
 * The domain id given in `primary` (e.g. runId) or in the deprecated `legacy` argument
 * (`id`), which takes a domain id or, since `id` fields became global ids, a global id of
 * `type`. Undefined when neither is given.
 */
export function domainIdArg(values: { primary: unknown; legacy: unknown }, names: { primary: string; legacy: string }, type: NodeType): string | undefined {
  if (values.primary != null && values.legacy != null) {
    throw badInput(`give ${names.primary} only; ${names.legacy} is a deprecated name for it`);
  }
  if (values.primary != null) return String(values.primary);
  if (values.legacy == null) return undefined;
  const given = String(values.legacy);
  const parsed = parseGlobalId(given);
  return parsed?.type === type ? parsed.id : given;
}
