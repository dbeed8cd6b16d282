import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import type { Services } from '../../domain/services.js';
import type { EventBus } from '../../events/bus.js';

export interface GraphQLContext {
  services: Services;
  bus: EventBus;
  /** Per-request batch loaders (no N+1), created with the context in api/app.ts. */
  loaders: import('./loaders.js').Loaders;
  /**
   * Headers of the request (over WebSocket: of the upgrade request). `stopRun` reads the
   * stopper's e-mail from them, as REST does.
   */
  headers: Headers;
  /** Who is calling (null: no credential). Services decide with it (domain/authorization.ts). */
  actor: import('../../domain/authorization.js').Actor | null;
  /** FLOTILLA_AUTH, for the viewer query. */
  authMode?: string;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  Connection: { totalCount: number };
  DefaultFieldNullability: false;
}>({
  plugins: [ErrorsPlugin, RelayPlugin],
  defaultFieldNullability: false,
  relay: {
    // node/nodes and the Node interface are written in schema/node.ts (own id checks).
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    pageInfoTypeOptions: { description: 'Where a page sits in its list: whether more pages exist, and the cursors to ask for them.' },
    hasNextPageFieldOptions: { description: 'Another page follows (paging forward with first/after; with last/before: `before` was given).' },
    hasPreviousPageFieldOptions: { description: 'A page precedes (paging backward with last/before; with first/after: `after` was given).' },
    startCursorFieldOptions: { description: 'Cursor of the first edge; pass it as `before` for the previous page. Null on an empty page.' },
    endCursorFieldOptions: { description: 'Cursor of the last edge; pass it as `after` for the next page. Null on an empty page.' },
    cursorFieldOptions: { description: 'Opaque position of this item in the list (sort value and id): stable when rows are added or removed.' },
    nodeFieldOptions: { description: 'The item.' },
    edgesFieldOptions: { description: 'The items of this page, each with its cursor.' },
    pageInfoFieldOptions: { description: 'Cursors and whether more pages exist.' },
    firstArgOptions: { description: 'Page size from the start (after `after`); default 50, at most 500.' },
    lastArgOptions: { description: 'Page size from the end (before `before`), for paging backward; at most 500.' },
    afterArgOptions: { description: 'A cursor (endCursor of the previous page): the page starts after it.' },
    beforeArgOptions: { description: 'A cursor (startCursor of the next page): the page ends before it.' },
  },
  errors: { defaultTypes: [] },
});

builder.queryType({ description: 'Reads: runs, definitions, clusters, any object by global id.' });
builder.mutationType({ description: 'Changes; each returns a result union of its Success type and the typed errors.' });
