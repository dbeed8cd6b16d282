// graphql-eslint on the printed schema (`npm run lint:schema`, a CI step): the
// schema-recommended and Relay rule sets, with no findings. Where a rule does not fit, the
// override below says why.
import graphqlPlugin from '@graphql-eslint/eslint-plugin';

export default [
  {
    files: ['schema.graphql'],
    languageOptions: { parser: graphqlPlugin.parser, parserOptions: { graphQLConfig: { schema: 'schema.graphql' } } },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      ...graphqlPlugin.configs['flat/schema-recommended'].rules,
      ...graphqlPlugin.configs['flat/schema-relay'].rules,
      // Entities (Run, TaskDefinition, Cluster, RunEvent) implement Node and have exactly one
      // `id: ID!`. Values that are not refetchable on their own do not: mutation payloads
      // (*Success), typed errors (*Error), Relay's *Connection/*Edge/PageInfo, a run's log
      // chunks and pages (addressed by run and seq), env var pairs, and the Viewer (the caller
      // of this request, not a stored object).
      '@graphql-eslint/strict-id-in-types': [
        'error',
        {
          acceptedIdNames: ['id'],
          acceptedIdTypes: ['ID'],
          exceptions: {
            types: ['PageInfo', 'EnvVar', 'FieldError', 'RunLogChunk', 'RunLogPage', 'Viewer'],
            suffixes: ['Success', 'Error', 'Connection', 'Edge'],
          },
        },
      ],
      // Every unbounded list is a connection. The plain lists are small and bounded by
      // nature: a run's env and timeline, a cluster's tiers, the cluster registry, a log page
      // (at most 1000 chunks), the ids given to nodes(ids:).
      '@graphql-eslint/relay-edge-types': ['error', { listTypeCanWrapOnlyEdgeType: false, shouldImplementNode: true, withEdgeSuffix: true }],
      // Run.runId is the domain id named the same in REST (run_id), URLs, the CLI and every
      // argument (the README's id convention), and Run.runTags mirrors REST's run_tags.
      // Renaming them would break every client for a style rule.
      '@graphql-eslint/no-typename-prefix': 'off',
    },
  },
];
