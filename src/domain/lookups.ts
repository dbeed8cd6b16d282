// What an execute reads before it builds its run: the definition and the registry row of the
// run's cluster. Executes of the same task repeat that read, so a serve process keeps the last
// one per (task, requested cluster) and builds the next run from it. It is never trusted
// blindly: the run's insert stores it only if the definition is still at the version read and
// live, and the cluster row is unchanged (store/runInserts.ts), in the same statement. A
// change made anywhere, by any process, fails that check; the execute then reads again and
// builds the run from what it finds, as the first execute did.
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ExecuteLookup } from '../store/definitions.js';

/** Raised by a guarded launch whose insert found the definition or the cluster changed. */
export class StaleLookup extends Error {
  constructor() {
    super('the definition or cluster changed since it was read');
  }
}

/** An execute's refusal: raised before its run is stored, so the execute may decide again. */
export function isRefusal(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof ConflictError || err instanceof NotFoundError;
}

/** Entries kept at most; the least recently used goes first. */
const MAX_ENTRIES = 512;

export function lookupKey(target: { definitionId?: string; alias?: string }, requestedCluster: string | undefined): string {
  return JSON.stringify([target.alias !== undefined ? 'alias' : 'id', target.alias ?? target.definitionId ?? '', requestedCluster ?? '']);
}

export interface LookupCache {
  get(key: string): ExecuteLookup | undefined;
  set(key: string, found: ExecuteLookup): void;
  delete(key: string): void;
}

export function createLookupCache(max = MAX_ENTRIES): LookupCache {
  const entries = new Map<string, ExecuteLookup>();
  return {
    get(key) {
      const found = entries.get(key);
      if (found) {
        // Map order is insertion order: re-inserting marks it the most recently used.
        entries.delete(key);
        entries.set(key, found);
      }
      return found;
    },
    set(key, found) {
      entries.delete(key);
      entries.set(key, found);
      if (entries.size > max) entries.delete(entries.keys().next().value!);
    },
    delete(key) {
      entries.delete(key);
    },
  };
}
