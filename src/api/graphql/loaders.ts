import DataLoader from 'dataloader';
import type { Services } from '../../domain/services.js';

/** Batch loaders live for one request; resolvers use them instead of per-row queries. */
export function createLoaders(_services: Services) {
  return {} as Record<string, DataLoader<string, unknown>>;
}

export type Loaders = ReturnType<typeof createLoaders>;
