/**
 * Coalesces concurrent calls into batched ones, group-commit style. A call made while fewer than
 * `maxInFlight` batches are running goes out at once (an idle process adds no delay); calls made
 * while they run wait and leave together in the next batch. Under load, batches grow by themselves
 * to match the rate, and each pays one round trip (and, for writes, one commit) for all.
 */
export interface BatcherOptions<I> {
  maxInFlight: number;
  maxItems: number;
  /** With maxWeight: bounds a batch by size (e.g. payload bytes). A single item may exceed it. */
  weigh?: (item: I) => number;
  maxWeight?: number;
  /**
   * A batch is one unit (one statement, one transaction), so one bad item fails its neighbours.
   * When this says so for an error, the failed batch's items are retried one by one, and only the
   * culprit sees the error.
   */
  retryAlone?: (err: unknown) => boolean;
}

interface Waiting<I, O> {
  item: I;
  weight: number;
  resolve(o: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;

  /** `run` answers one output per input, in order. */
  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: BatcherOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, weight: this.opts.weigh?.(item) ?? 0, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private take(): Waiting<I, O>[] {
    const maxWeight = this.opts.maxWeight ?? Infinity;
    let weight = 0;
    let n = 0;
    while (n < this.queue.length && n < this.opts.maxItems) {
      const next = this.queue[n]!.weight;
      if (n > 0 && weight + next > maxWeight) break;
      weight += next;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async flush(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`batch answered ${results.length} results for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1 || !this.opts.retryAlone?.(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      for (const w of batch) await this.flush([w]);
    }
  }
}

/** One batcher per key object (per database handle: a process has one, each test database its own). */
export function perKey<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let v = made.get(key);
    if (v === undefined) {
      v = make(key);
      made.set(key, v);
    }
    return v;
  };
}
