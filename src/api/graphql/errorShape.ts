// One error shape on every transport (HTTP, SSE, WebSocket): a GraphQL error with a message
// and `extensions.code` (one of the ErrorCode enum values), never Yoga's internal
// `extensions.http`, and never a bare HTTP status a client library turns into
// "NetworkError: Server responded with 400".
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { ErrorCodeName } from './schema/enums.js';

type AnyError = GraphQLError | GraphQLFormattedError;

/** The code an error without one gets, from what produced it. */
function inferCode(error: AnyError): ErrorCodeName {
  const message = error.message;
  if (message.startsWith('Syntax Error')) return 'GRAPHQL_PARSE_FAILED';
  if (message === 'Unexpected error.') return 'INTERNAL_SERVER_ERROR';
  // Variable coercion (wrong type, missing required variable) happens before execution.
  if (/^Variable "\$/.test(message) || /^Argument "/.test(message)) return 'BAD_USER_INPUT';
  const http = (error.extensions as { http?: { status?: number } } | undefined)?.http;
  if (http?.status === 400 && !error.path) {
    // Yoga's request checks: no query, bad params, a mutation over GET.
    return /^(Must provide|Expected params|Unexpected parameter|Invalid|Can only perform)/.test(message) ? 'BAD_REQUEST' : 'GRAPHQL_VALIDATION_FAILED';
  }
  if (http?.status === 405) return 'BAD_REQUEST';
  if (!error.path) return 'GRAPHQL_VALIDATION_FAILED';
  return 'INTERNAL_SERVER_ERROR';
}

/** The error as the client sees it: a code always, `http` never. */
export function formatError(error: AnyError, codeOverride?: ErrorCodeName): GraphQLFormattedError {
  const json: GraphQLFormattedError = error instanceof GraphQLError || 'toJSON' in error ? (error as GraphQLError).toJSON() : error;
  const { http: _http, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
  const code = codeOverride ?? (typeof extensions.code === 'string' ? extensions.code : inferCode(error));
  return { ...json, extensions: { ...extensions, code } };
}

/** The same error, still a GraphQLError (Yoga's processors expect one), with its code added. */
function withCode(error: GraphQLError, keepHttp: boolean): GraphQLError {
  const extensions = error.extensions as Record<string, unknown>;
  const code = typeof extensions.code === 'string' ? extensions.code : inferCode(error);
  const { http, ...rest } = extensions;
  return createGraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: { ...rest, code, ...(keepHttp && http ? { http } : {}) },
  });
}

function acceptsEventStream(request: Request): boolean {
  return (request.headers.get('accept') ?? '').includes('text/event-stream');
}

const jsonProcessor = (result: unknown, fetchAPI: { Response: typeof Response }) =>
  new fetchAPI.Response(JSON.stringify(result), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });

/**
 * Over HTTP and SSE: every error gets a code. For SSE the errors travel in the stream with
 * status 200 (an SSE client reports only the status of a 4xx, not its body). A
 * subscription asked for with a non-streaming Accept header is a GraphQL error saying which
 * transport to use, not an empty 406.
 */
export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ request, result, setResult, resultProcessor, setResultProcessor }) {
      if (Symbol.asyncIterator in (result as object)) {
        if (resultProcessor) return;
        const iterator = result as AsyncIterable<unknown> & { return?: () => Promise<unknown> };
        void iterator.return?.();
        setResult({
          errors: [
            createGraphQLError(
              'A subscription needs a streaming transport: POST with "Accept: text/event-stream" (SSE, e.g. graphql-sse) or use the WebSocket protocol graphql-transport-ws (e.g. graphql-ws) on the same path',
              { extensions: { code: 'BAD_REQUEST' } },
            ),
          ],
        });
        setResultProcessor(jsonProcessor as never, 'application/json');
        return;
      }
      const errors = (result as { errors?: readonly GraphQLError[] }).errors;
      if (!errors?.length) return;
      const keepHttp = !acceptsEventStream(request);
      setResult({ ...(result as object), errors: errors.map((e) => withCode(e, keepHttp)) } as never);
    },
  };
}
