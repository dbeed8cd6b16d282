// Authorization of GraphQL operations before they run: every root field of the operation
// (Query, Mutation, Subscription) has a rule, and the caller's role must allow all of them.
// A field without a rule is refused, and the authorization matrix test fails on it. The
// services judge ownership again (whose run, whose definition).
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { GraphQLError } from 'graphql';
import { authorize, type Action, type Actor } from '../../domain/authorization.js';

export const GRAPHQL_RULES: Record<string, Action> = {
  'Query.health': 'public',
  'Query.__typename': 'public',
  'Query.__schema': 'read',
  'Query.__type': 'read',
  'Query.viewer': 'identity',
  'Query.cluster': 'read',
  'Query.clusters': 'read',
  'Query.run': 'read',
  'Query.runs': 'read',
  'Query.taskDefinition': 'read',
  'Query.taskDefinitions': 'read',
  'Query.template': 'read',
  'Query.templates': 'read',
  'Mutation.createTemplate': 'definition.create',
  'Mutation.executeTemplate': 'run.execute',
  'Query.node': 'read',
  'Query.nodes': 'read',
  'Mutation.__typename': 'public',
  'Mutation.createCluster': 'cluster.write',
  'Mutation.updateCluster': 'cluster.write',
  'Mutation.deleteCluster': 'cluster.write',
  'Mutation.createTaskDefinition': 'definition.create',
  'Mutation.updateTaskDefinition': 'definition.update',
  'Mutation.deleteTaskDefinition': 'definition.delete',
  'Mutation.executeTask': 'run.execute',
  'Mutation.stopRun': 'run.stop',
  'Subscription.runEvents': 'read',
  'Subscription.runLogs': 'read',
  'Subscription.runStatus': 'read',
};

const ROOT_NAME = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

function rootFields(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, out: Set<string>, seen = new Set<string>()): Set<string> {
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) out.add(sel.name.value);
    else if (sel.kind === Kind.INLINE_FRAGMENT) rootFields(sel.selectionSet, fragments, out, seen);
    else if (!seen.has(sel.name.value)) {
      seen.add(sel.name.value);
      const frag = fragments.get(sel.name.value);
      if (frag) rootFields(frag.selectionSet, fragments, out, seen);
    }
  }
  return out;
}

/** The first refusal for this operation, as a GraphQL error with code UNAUTHENTICATED or FORBIDDEN. */
export function refusal(document: DocumentNode, operationName: string | null | undefined, actor: Actor | null): GraphQLError | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  if (!op) return undefined; // graphql-js reports the missing operation itself
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  for (const field of rootFields(op.selectionSet, fragments, new Set())) {
    const key = `${ROOT_NAME[op.operation]}.${field}`;
    const action = GRAPHQL_RULES[key];
    if (!action) return createGraphQLError(`no authorization rule for ${key}`, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
    const d = authorize(actor, action);
    if (!d.allowed) {
      return createGraphQLError(`${key}: ${d.message}`, {
        extensions: { code: d.code, http: { status: d.status, headers: d.status === 401 ? { 'www-authenticate': 'Bearer realm="flotilla"' } : {} } },
      });
    }
  }
  return undefined;
}

export function useAuthorizeFields(): Plugin<{ actor: Actor | null }> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const err = refusal(args.document, args.operationName, (args.contextValue as { actor: Actor | null }).actor);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const err = refusal(args.document, args.operationName, (args.contextValue as { actor: Actor | null }).actor);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
  };
}
