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
  relay: {},
  errors: { defaultTypes: [] },
});

builder.queryType({});
builder.mutationType({});
