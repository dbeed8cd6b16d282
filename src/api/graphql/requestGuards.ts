// Yoga plugins that turn two kinds of bad request into client errors instead of worse:
// - Yoga chooses how to encode a result (JSON, SSE, multipart) only after executing the
//   operation, and answers 406 when the Accept header allows none of them. For a mutation
//   that means the change is made and the client is told it failed. Such a POST is refused
//   before anything runs, with the same rule Yoga applies afterwards.
// - graphql-js parses recursively: a document nested a few thousand levels deep (`[[[…]]]`)
//   overflows the stack, and Yoga masks the RangeError as an unexpected 500. It is a syntax
//   error the client made.
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** What Yoga can answer a query or mutation with (its SSE, multipart and regular result processors). */
const ANSWERABLE = ['text/event-stream', 'multipart/mixed', 'application/graphql-response+json', 'application/json'];

/** Yoga's reading of Accept: media types, dropping those with a charset other than utf-8; none means any. */
function acceptedMediaTypes(accept: string | null): string[] {
  const out: string[] = [];
  for (const part of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType, ...params] = part.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (mediaType !== undefined && charset === 'charset=utf-8') out.push(mediaType);
  }
  return out;
}

// `requested` may be a wildcard (any type, or any subtype of one); `offered` never is.
function matches(requested: string, offered: string): boolean {
  const [type, sub] = requested.split('/');
  const [offeredType, offeredSub] = offered.split('/');
  return (type === '*' || type === offeredType) && (sub === '*' || sub === offeredSub);
}

export function isAnswerable(accept: string | null): boolean {
  return acceptedMediaTypes(accept).some((asked) => ANSWERABLE.some((offered) => matches(asked, offered)));
}

/**
 * Only POST: mutations are refused over GET anyway, and a browser's GET asks for text/html
 * to get GraphiQL.
 */
export function useRefuseUnanswerable(): Plugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method !== 'POST' || isAnswerable(request.headers.get('accept'))) return;
      endResponse(
        new Response(
          JSON.stringify({
            errors: [{ message: `Accept allows none of ${ANSWERABLE.join(', ')} (charset utf-8): nothing was run`, extensions: { code: 'BAD_REQUEST' } }],
          }),
          {
            status: 406,
            headers: { 'content-type': 'application/json; charset=utf-8', accept: ANSWERABLE.join(', ') },
          },
        ),
      );
    },
  };
}

export function useDeepDocumentIsSyntaxError(): Plugin {
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          throw createGraphQLError('Syntax Error: the document is nested too deeply to parse', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
        }
      });
    },
  };
}
