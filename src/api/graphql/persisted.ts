// Persisted operations (FLOTILLA_GRAPHQL_PERSISTED):
//   off   (default) any operation text runs;
//   allow registered operations may also be sent by hash, any text still runs;
//   only  an allow-list for production: only registered operations run, by hash or as their
//         exact text (its hash is looked up), on every transport (HTTP, SSE and WebSocket).
// The registry is a JSON object { "<sha256 hex of the document text>": "<document text>" },
// read at start-up from dist/web/persisted-operations.json (the console's operations,
// written by its build) and from FLOTILLA_GRAPHQL_PERSISTED_FILE when set. A client sends
// `extensions.persistedQuery.sha256Hash` (Apollo's APQ shape, version 1) or `documentId`
// (GraphQL over HTTP; `sha256:<hex>` or the bare hex). Nothing is registered at run time.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import type { Config } from '../../config.js';

export const CONSOLE_MANIFEST = 'dist/web/persisted-operations.json';

export type PersistedMode = Config['graphqlPersisted']['mode'];

export interface PersistedOperations {
  mode: PersistedMode;
  /** How many operations are registered. */
  size: number;
  plugins: Plugin[];
  /**
   * The text to run for an operation's params, applying the mode (for the WebSocket, which
   * does not go through Yoga's request pipeline); throws the same GraphQL errors as HTTP.
   */
  resolveText(params: { query?: unknown; extensions?: unknown; documentId?: unknown }): string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function readManifest(path: string, into: Map<string, string>): void {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${path} must be a JSON object of "<sha256 hex>": "<operation text>"`);
  }
  for (const [hash, text] of Object.entries(parsed)) {
    if (typeof text !== 'string' || sha256(text) !== hash.toLowerCase()) {
      throw new Error(`${path}: the entry ${hash.slice(0, 16)}… is not the sha256 of its text; regenerate the file`);
    }
    into.set(hash.toLowerCase(), text);
  }
}

/** The hash a client sent, or null: APQ `extensions.persistedQuery.sha256Hash`, or `documentId`. */
export function persistedIdOf(params: { extensions?: unknown; documentId?: unknown }): string | null {
  const pq = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)?.persistedQuery;
  if (pq && typeof pq === 'object' && typeof pq.sha256Hash === 'string') return pq.sha256Hash.toLowerCase();
  if (typeof params.documentId === 'string') return params.documentId.replace(/^sha256:/, '').toLowerCase();
  return null;
}

const errors = {
  notFound: () =>
    createGraphQLError('The persisted operation is not registered on this server: send a hash from its persisted-operations.json', {
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    }),
  only: () =>
    createGraphQLError(
      'This server runs registered operations only (FLOTILLA_GRAPHQL_PERSISTED=only): send extensions.persistedQuery.sha256Hash or documentId',
      {
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      },
    ),
};

export function loadPersistedOperations(config: Config['graphqlPersisted'], cwd = process.cwd()): PersistedOperations {
  const registry = new Map<string, string>();
  if (config.mode !== 'off') {
    const consoleManifest = resolve(cwd, CONSOLE_MANIFEST);
    if (existsSync(consoleManifest)) readManifest(consoleManifest, registry);
    if (config.extraFile) readManifest(resolve(cwd, config.extraFile), registry);
  }
  const mode = config.mode;

  const resolveText: PersistedOperations['resolveText'] = (params) => {
    const id = persistedIdOf(params);
    if (typeof params.query === 'string' && params.query !== '') {
      if (mode === 'only' && !registry.has(sha256(params.query))) throw errors.only();
      return params.query;
    }
    if (id === null) {
      if (mode === 'only') throw errors.only();
      return typeof params.query === 'string' ? params.query : '';
    }
    const text = registry.get(id);
    if (text === undefined) throw errors.notFound();
    return text;
  };

  if (mode === 'off') return { mode, size: 0, plugins: [], resolveText: (p) => (typeof p.query === 'string' ? p.query : '') };

  // Text of a registered operation counts as registered in `only` mode: Apollo's APQ link
  // sends the text along with the hash when the server asks for it.
  const textIsRegistered: Plugin = {
    onParams({ params, setParams }) {
      if (mode !== 'only' || typeof params.query !== 'string') return;
      const hash = sha256(params.query);
      if (registry.has(hash)) {
        const { query: _query, ...rest } = params;
        setParams({ ...rest, extensions: { ...(params.extensions ?? {}), persistedQuery: { version: 1, sha256Hash: hash } } } as GraphQLParams);
      }
    },
  };
  return {
    mode,
    size: registry.size,
    resolveText,
    plugins: [
      textIsRegistered,
      usePersistedOperations({
        allowArbitraryOperations: mode === 'allow',
        extractPersistedOperationId: (params) => persistedIdOf(params as GraphQLParams & { documentId?: unknown }),
        getPersistedOperation: (key) => registry.get(key) ?? null,
        customErrors: { notFound: errors.notFound, persistedQueryOnly: errors.only, keyNotFound: errors.only },
      }),
    ],
  };
}
