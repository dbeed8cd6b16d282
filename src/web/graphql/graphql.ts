// Typed GraphQL documents: gql.tada reads the types from graphql-env.d.ts, which
// `npm run web:types` generates from the repository's schema.graphql.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.js';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown };
  // Fragments only share field lists here; the console reads them unmasked.
  disableMasking: true;
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';
