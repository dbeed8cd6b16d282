// Closed sets of values the API returns, as enums so clients get them typed (codegen) and
// checked. Stored values are lowercase strings; the GraphQL names are their UPPER_CASE forms.
import type { EngineName } from '../../../config.js';
import { builder } from '../builder.js';

export const LogStreamEnum = builder.enumType('LogStream', {
  description: 'Which output stream of the container a log chunk was written to.',
  values: {
    STDOUT: { value: 'stdout', description: 'Standard output.' },
    STDERR: { value: 'stderr', description: 'Standard error.' },
  } as const,
});

export const EngineEnum = builder.enumType('Engine', {
  description: 'What launches a run and where it executes.',
  values: {
    LOCAL: { value: 'local', description: 'A process on the worker host (development and tests).' },
    DOCKER: { value: 'docker', description: 'A container on a Docker daemon.' },
    KUBERNETES: { value: 'kubernetes', description: 'A Kubernetes Job (EKS included).' },
    ECS: { value: 'ecs', description: 'An Amazon ECS task.' },
    // One value per engine in config.ts ENGINE_NAMES: a new engine fails to compile until it has one here.
  } as const satisfies { [E in EngineName as Uppercase<E>]: { value: E; description: string } },
});

/** A stored engine name as the enum value; `eks` is the classic name for kubernetes. */
export function engineOf(stored: string): EngineName {
  return stored === 'eks' ? 'kubernetes' : (stored as EngineName);
}

export type RunEventKindName = 'status' | 'engine' | 'warning' | 'stop' | 'other';

export const RunEventKindEnum = builder.enumType('RunEventKind', {
  description: 'What a timeline entry records.',
  values: {
    STATUS: { value: 'status', description: 'A status transition: fromStatus → toStatus, with the reason.' },
    ENGINE: { value: 'engine', description: 'Something the engine reported (image pulled, scheduled, OOMKilled…); see detail.' },
    WARNING: { value: 'warning', description: 'Something went wrong without changing the status (e.g. a failed terminate).' },
    STOP: { value: 'stop', description: "The engine confirmed that a stopped run's job is gone (the stop intent was carried out)." },
    OTHER: { value: 'other', description: 'A kind this server version has no name for; read reason and detail.' },
  } as const,
});

const KNOWN_KINDS = new Set<string>(['status', 'engine', 'warning', 'stop']);

export function eventKindOf(stored: string): RunEventKindName {
  return KNOWN_KINDS.has(stored) ? (stored as RunEventKindName) : 'other';
}

/**
 * Every code an error carries: `code` of the typed mutation errors (NOT_FOUND, VALIDATION,
 * CONFLICT) and `extensions.code` of errors in the `errors` list on every transport.
 */
export const ERROR_CODES = {
  NOT_FOUND: 'The object named in the arguments does not exist.',
  VALIDATION: 'An input field is invalid; `fields` says which and what to send.',
  CONFLICT: 'The change conflicts with the current state (a duplicate alias, a cluster in maintenance…).',
  BAD_USER_INPUT: 'An argument or variable is invalid (wrong type, out of range, not a cursor of this list…).',
  GRAPHQL_PARSE_FAILED: 'The document is not valid GraphQL syntax.',
  GRAPHQL_VALIDATION_FAILED: 'The document does not match the schema (unknown field, missing argument…).',
  BAD_REQUEST: 'The request itself is unusable (no query, a subscription over a transport that cannot stream it…).',
  PERSISTED_QUERY_NOT_FOUND: 'The hash or documentId is not a registered operation.',
  PERSISTED_QUERY_ONLY: 'This server accepts registered (persisted) operations only.',
  INTERNAL_SERVER_ERROR: 'Something failed on the server; the message is masked and the server log has the details.',
  UNAUTHENTICATED: 'No credential, or one that does not check out: sign in (Authorization: Bearer …).',
  FORBIDDEN: "The caller's role or ownership does not allow this operation.",
  QUERY_LIMIT_EXCEEDED: 'The document is over a limit (tokens, aliases, depth, directives or cost); `extensions.limit` says which.',
  TOO_MANY_SUBSCRIPTIONS: 'This WebSocket connection already has as many subscriptions as allowed; complete one first.',
} as const;

export type ErrorCodeName = keyof typeof ERROR_CODES;

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Machine-readable error codes: Error.code of typed results and extensions.code in the errors list.',
  values: Object.fromEntries(Object.entries(ERROR_CODES).map(([name, description]) => [name, { value: name, description }])) as Record<
    ErrorCodeName,
    { value: ErrorCodeName; description: string }
  >,
});
