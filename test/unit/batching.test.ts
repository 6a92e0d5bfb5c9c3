import { Batcher, perKey } from '../../src/batching.js';

/** A run function whose calls the test releases by hand. */
function controlled<I>() {
  const calls: Array<{ items: I[]; release(): void; fail(err: unknown): void }> = [];
  const run = (items: I[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ items, release: () => resolve(items.map((i) => `ok:${String(i)}`)), fail: reject });
    });
  return { calls, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends the first call at once and gathers the ones made while it runs', async () => {
    const { calls, run } = controlled<number>();
    const b = new Batcher(run, { maxInFlight: 1, maxItems: 10 });
    const first = b.submit(1);
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    const rest = [2, 3, 4].map((n) => b.submit(n));
    expect(calls).toHaveLength(1);
    calls[0]!.release();
    expect(await first).toBe('ok:1');
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]!.release();
    expect(await Promise.all(rest)).toEqual(['ok:2', 'ok:3', 'ok:4']);
  });

  it('runs up to maxInFlight batches and caps their size by count and weight', async () => {
    const { calls, run } = controlled<number>();
    const b = new Batcher(run, { maxInFlight: 2, maxItems: 3, weigh: (n) => n, maxWeight: 10 });
    const all = [1, 2, 1, 1, 1, 1, 9, 9, 20].map((n) => b.submit(n));
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[0]!.release();
    await tick();
    expect(calls[2]!.items).toEqual([1, 1, 1]); // count cap
    calls[1]!.release();
    await tick();
    expect(calls[3]!.items).toEqual([1, 9]); // weight cap: 1 + 9 + 9 > 10
    calls[2]!.release();
    await tick();
    expect(calls[4]!.items).toEqual([9]);
    calls[3]!.release();
    await tick();
    expect(calls[5]!.items).toEqual([20]); // heavier than the cap alone: still sent
    calls[4]!.release();
    calls[5]!.release();
    expect(await Promise.all(all)).toHaveLength(9);
  });

  it('retries a failed batch item by item when allowed, so only the culprit fails', async () => {
    let batches = 0;
    const b = new Batcher<number, number>(
      async (items) => {
        batches++;
        if (items.includes(13)) throw new Error('unlucky');
        return items.map((i) => i * 2);
      },
      { maxInFlight: 1, maxItems: 10, retryAlone: (err) => (err as Error).message === 'unlucky' },
    );
    const results = await Promise.allSettled([1, 2, 13, 4].map((n) => b.submit(n)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([2, 4, 'failed', 8]);
    expect(batches).toBe(5); // [1], [2, 13, 4] failing, then 2, 13, 4 alone
  });

  it('fails the whole batch when the error is not one to retry alone', async () => {
    const b = new Batcher<number, number>(
      async () => {
        throw new Error('database down');
      },
      { maxInFlight: 1, maxItems: 10, retryAlone: () => false },
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => b.submit(n)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
  });

  it('refuses a run that answers the wrong number of results', async () => {
    const b = new Batcher<number, number>(async () => [], { maxInFlight: 1, maxItems: 10 });
    await expect(b.submit(1)).rejects.toThrow('batch answered 0 results for 1 items');
  });
});

describe('perKey', () => {
  it('makes one value per key object', () => {
    let made = 0;
    const get = perKey((_key: object) => ({ n: ++made }));
    const a = {};
    const b = {};
    expect(get(a)).toBe(get(a));
    expect(get(a)).not.toBe(get(b));
    expect(made).toBe(2);
  });
});
