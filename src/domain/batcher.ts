// Group commit: items that arrive while a batch is being written wait, and go together in the
// next one. A busy process writes many items per round trip; an idle one adds no delay (the
// first item waits only for the current turn of the event loop to end).
export interface Batcher<I, O> {
  add(item: I): Promise<O>;
}

export function createBatcher<I, O>(opts: {
  /** Writes a batch; returns one result per item, in order. */
  write: (items: I[]) => Promise<O[]>;
  /** Items with the same key never share a batch: the later one waits for the next (in order). */
  key?: (item: I) => string;
  max?: number;
}): Batcher<I, O> {
  const max = opts.max ?? 500;
  type Entry = { item: I; resolve: (out: O) => void; reject: (err: unknown) => void };
  let pending: Entry[] = [];
  let draining = false;

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

  async function drain(): Promise<void> {
    while (pending.length > 0) {
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
      await writeBatch(batch);
    }
    draining = false;
  }

  return {
    add(item) {
      return new Promise<O>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (draining) return;
        draining = true;
        setImmediate(() => void drain());
      });
    },
  };
}
