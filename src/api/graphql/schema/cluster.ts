// The cluster registry: the Cluster type, `clusters` and `cluster(name)`, and the create /
// update / delete mutations with typed errors. All through services.clusters, as REST.
import { ValidationError } from '../../../errors.js';
import { CLUSTER_STATUSES, type ClusterStatus, type ClusterView } from '../../../domain/clusterService.js';
import { builder } from '../builder.js';
import { inArgument } from '../fieldWords.js';
import { mutationResult } from './errors.js';
import { NodeInterface, toGlobalId } from './node.js';
import { engineOf, EngineEnum } from './enums.js';

const STATUS_DESCRIPTIONS: Record<ClusterStatus, string> = {
  active: 'Takes new runs.',
  maintenance: 'Takes no new runs (executing on it is a conflict); runs already there go on.',
  offline: 'Takes no new runs; runs already there go on as far as the cluster lets them.',
};

export const ClusterStatusEnum = builder.enumType('ClusterStatus', {
  description: 'Whether a cluster takes new runs.',
  values: Object.fromEntries(CLUSTER_STATUSES.map((s) => [s.toUpperCase(), { value: s, description: STATUS_DESCRIPTIONS[s] }])) as Record<
    Uppercase<ClusterStatus>,
    { value: ClusterStatus; description: string }
  >,
});

export const ClusterRef = builder.objectRef<ClusterView>('Cluster').implement({
  description:
    'Where runs go: a registered cluster, or one an enabled engine provides from its own configuration (registered: false, e.g. the Kubernetes engine\'s "default").',
  interfaces: [NodeInterface],
  fields: (t) => ({
    id: t.id({
      description: 'Global id (opaque; for node(id:) and client caches). Use name in URLs and arguments.',
      resolve: (c) => toGlobalId('Cluster', c.name),
    }),
    name: t.exposeString('name', { description: "What runs name in `cluster` and definitions in `targetCluster`: the cluster's domain id." }),
    engine: t.field({ type: EngineEnum, description: 'The engine that runs it.', resolve: (c) => engineOf(c.engine) }),
    status: t.field({ type: ClusterStatusEnum, description: 'Whether it takes new runs.', resolve: (c) => c.status }),
    allowedTiers: t.exposeStringList('allowedTiers', { description: 'Empty: any tier; otherwise a run must name one of these tiers.' }),
    capabilities: t.exposeStringList('capabilities', { description: 'What it offers (e.g. gpu, bash), for matching runs to clusters.' }),
    region: t.exposeString('region', { nullable: true, description: 'Cloud region, where it applies.' }),
    namespace: t.exposeString('namespace', { nullable: true, description: 'Kubernetes namespace of its Jobs; null: FLOTILLA_K8S_NAMESPACE.' }),
    config: t.expose('config', { type: 'JSON', description: 'Engine settings, e.g. {"context": "<kubeconfig context>"} for kubernetes.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true, description: 'Last change in the registry; null for one an engine provides.' }),
    registered: t.exposeBoolean('registered', { description: 'False: not in the registry; an engine configuration provides it (update registers it).' }),
  }),
});

builder.queryField('clusters', (t) =>
  t.field({
    type: [ClusterRef],
    description: 'The registered clusters and those the enabled engines provide, by name.',
    resolve: (_root, _args, ctx) => ctx.services.clusters.list(),
  }),
);

builder.queryField('cluster', (t) =>
  t.field({
    type: ClusterRef,
    nullable: true,
    description: 'One cluster by name; null when there is none.',
    args: { name: t.arg.string({ required: true, description: 'The cluster name.' }) },
    resolve: async (_root, { name }, ctx) => (await ctx.services.clusters.find(name)) ?? null,
  }),
);

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

const clusterInputFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
  status: t.field({ type: ClusterStatusEnum }),
  allowedTiers: t.stringList(),
  capabilities: t.stringList(),
  region: t.string(),
  namespace: t.string(),
  config: t.field({ type: 'JSON', description: 'A JSON object; for kubernetes {"context": "<kubeconfig context>"}.' }),
});

const CreateClusterInput = builder.inputType('CreateClusterInput', {
  description: 'A new registry entry. Omitted fields: status ACTIVE, no tier rule, no capabilities, config {}.',
  fields: (t) => ({
    name: t.string({ required: true }),
    engine: t.string({ required: true, description: 'local, docker, kubernetes (or eks), ecs' }),
    ...clusterInputFields(t),
  }),
});

const UpdateClusterInput = builder.inputType('UpdateClusterInput', {
  description: 'Only the fields given change; lists and config are replaced whole; null clears region and namespace.',
  fields: (t) => ({
    engine: t.string(),
    ...clusterInputFields(t),
  }),
});

builder.mutationField('createCluster', (t) =>
  t.field({
    type: ClusterRef,
    args: { input: t.arg({ type: CreateClusterInput, required: true, description: 'The new cluster.' }) },
    errors: { ...mutationResult('CreateCluster', 'The cluster was registered'), dataField: { name: 'cluster' } },
    resolve: (_root, { input }, ctx) => {
      // null means "not given" in a create: the defaults apply.
      return inArgument('input', () => ctx.services.clusters.create(Object.fromEntries(Object.entries(input).filter(([, v]) => v != null)), ctx.actor));
    },
  }),
);

builder.mutationField('updateCluster', (t) =>
  t.field({
    type: ClusterRef,
    description: 'Changes a cluster; one an engine provides (registered: false) is registered with the change.',
    args: {
      name: t.arg.string({ required: true, description: 'The cluster name.' }),
      input: t.arg({ type: UpdateClusterInput, required: true, description: 'The fields to change.' }),
    },
    errors: { ...mutationResult('UpdateCluster', 'The cluster was changed'), dataField: { name: 'cluster' } },
    resolve: (_root, { name, input }, ctx) => {
      // null clears only what can be empty; for the other fields it means "unchanged".
      const changes = Object.fromEntries(Object.entries(input).filter(([k, v]) => v !== undefined && (v !== null || k === 'region' || k === 'namespace')));
      return inArgument('input', () => ctx.services.clusters.update(name, changes, ctx.actor));
    },
  }),
);

builder.mutationField('deleteCluster', (t) =>
  t.field({
    type: 'String',
    description: 'Removes a registry entry. Refused (ConflictError) while runs on it are unfinished, and for clusters an engine provides.',
    args: { name: t.arg.string({ required: true, description: 'The cluster name.' }) },
    errors: { ...mutationResult('DeleteCluster', 'The cluster was removed from the registry'), dataField: { name: 'deletedName' } },
    resolve: async (_root, { name }, ctx) => {
      if (name.trim() === '') throw new ValidationError([{ path: ['name'], message: 'name must not be empty' }]);
      await ctx.services.clusters.delete(name, ctx.actor);
      return name;
    },
  }),
);
