import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/store/batcher.js';

describe('createBatcher (group commit)', () => {
  it('puts what arrives while a batch is written into the next one, and answers each caller with its own result', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const b = createBatcher({
      write: async (items: number[]) => {
        batches.push(items);
        if (batches.length === 1) await held;
        return items.map((i) => i * 10);
      },
    });
    const first = b.add(1);
    await new Promise((r) => setImmediate(r));
    const rest = [b.add(2), b.add(3), b.add(4)];
    release();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('never puts two items with the same key in one batch, and keeps their order', async () => {
    const batches: string[][] = [];
    const b = createBatcher({ write: async (items: string[]) => (batches.push(items), items), key: (s) => s.split(':')[0]! });
    await Promise.all([b.add('a:1'), b.add('b:1'), b.add('a:2'), b.add('a:3')]);
    expect(batches).toEqual([['a:1', 'b:1'], ['a:2'], ['a:3']]);
  });

  it('splits at max', async () => {
    const sizes: number[] = [];
    const b = createBatcher({ write: async (items: number[]) => (sizes.push(items.length), items), max: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => b.add(i)));
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('a failing batch is retried item by item: only the bad item fails', async () => {
    const b = createBatcher({
      write: async (items: number[]) => {
        if (items.includes(13)) throw new Error('bad 13');
        return items;
      },
    });
    const results = await Promise.allSettled([b.add(1), b.add(13), b.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('bad 13'));
  });
});
