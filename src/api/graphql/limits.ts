// Bounded work per GraphQL request (GraphQL Armor's Envelop plugins): tokens are counted while
// parsing, aliases, depth, directives and cost in validation, all before anything executes.
// The token limit comes first: a document of 5,000 aliases is refused by the parser, before
// graphql-js's overlapping-fields validation (quadratic in the number of aliases) could run.
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';

export const GRAPHQL_LIMITS = {
  tokens: 4000,
  aliases: 30,
  depth: 12,
  directives: 50,
  // Armor's cost grows with depth, not with `first`; the console's and tests' deepest lists come to ~32,000.
  cost: 100_000,
} as const;

/** Armor's errors carry no code; ours do, so clients can tell a limit from a typo. */
const coded = (limit: keyof typeof GRAPHQL_LIMITS) => [
  (_ctx: unknown, err: GraphQLError) => {
    Object.assign(err.extensions as Record<string, unknown>, { code: 'QUERY_LIMIT_EXCEEDED', limit, max: GRAPHQL_LIMITS[limit] });
  },
];

export function graphqlLimitPlugins(): Plugin[] {
  const L = GRAPHQL_LIMITS;
  return [
    maxTokensPlugin({ n: L.tokens, onReject: coded('tokens') }),
    maxAliasesPlugin({ n: L.aliases, onReject: coded('aliases') }),
    maxDepthPlugin({ n: L.depth, onReject: coded('depth'), flattenFragments: true }),
    maxDirectivesPlugin({ n: L.directives, onReject: coded('directives') }),
    costLimitPlugin({ maxCost: L.cost, onReject: coded('cost') }),
  ] as Plugin[];
}
