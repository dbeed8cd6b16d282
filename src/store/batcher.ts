// Group commit: items that arrive while a batch is being written wait, and go together in the
// next one. A busy process writes many items per round trip; an idle one adds no delay (the
// first item waits only for the current turn of the event loop to end). Used for new runs
// (store/runInserts.ts), status moves (domain/runUpdates.ts) and pushed-update reads.
export interface Batcher<I, O> {
  add(item: I): Promise<O>;
}

export function createBatcher<I, O>(opts: {
  /** Writes a batch; returns one result per item, in order. */
  write: (items: I[]) => Promise<O[]>;
  /** Items with the same key never share a batch: the later one waits for the next (in order). */
  key?: (item: I) => string;
  max?: number;
  /**
   * Batches in flight at once (default 1). While they all are, new items wait and leave
   * together in the next one. Above 1, items with the same key may be in flight together.
   */
  concurrency?: number;
}): Batcher<I, O> {
  const max = opts.max ?? 500;
  const concurrency = opts.concurrency ?? 1;
  type Entry = { item: I; resolve: (out: O) => void; reject: (err: unknown) => void };
  let pending: Entry[] = [];
  let inFlight = 0;
  let scheduled = false;

  async function writeBatch(batch: Entry[]): Promise<void> {
    try {
      const out = await opts.write(batch.map((e) => e.item));
      batch.forEach((e, i) => e.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One bad item must not fail the others: each is tried again on its own.
      await Promise.all(batch.map((e) => opts.write([e.item]).then(([out]) => e.resolve(out!), e.reject)));
    }
  }

  /** The next batch: up to `max` items in arrival order, at most one per key. */
  function take(): Entry[] {
    const batch: Entry[] = [];
    const later: Entry[] = [];
    const keys = new Set<string>();
    for (const e of pending) {
      const k = opts.key?.(e.item);
      if (batch.length >= max || (k !== undefined && keys.has(k))) later.push(e);
      else {
        batch.push(e);
        if (k !== undefined) keys.add(k);
      }
    }
    pending = later;
    return batch;
  }

  // After the I/O callbacks of this turn, so every item that got this far in it joins.
  function schedule(): void {
    if (scheduled || inFlight >= concurrency || pending.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void run();
    });
  }

  async function run(): Promise<void> {
    const batch = take();
    if (batch.length === 0) return;
    inFlight++;
    schedule();
    try {
      await writeBatch(batch);
    } finally {
      inFlight--;
      schedule();
    }
  }

  return {
    add(item) {
      return new Promise<O>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        schedule();
      });
    },
  };
}
