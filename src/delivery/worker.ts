import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import type pg from 'pg';
import type { Deps } from '../deps.js';
import { PG, isConnectionError, pgCode } from '../errors.js';
import type { Resolver } from '../ssrf.js';
import { summarizeHealth } from './endpointHealth.js';
import { listenForDeliveries, type Listener } from './listener.js';
import { decideOutcome, notSent } from './outcome.js';
import { buildRequest, type OutgoingRequest } from './request.js';
import { RETENTION_INTERVAL_MS, runRetention } from './retention.js';
import { createSender, type Sender } from './sender.js';
import { claimDeliveries } from './sql/claimDeliveries.js';
import { recordResults, releaseDeliveries } from './sql/recordResults.js';
import { skipDeliveriesOfEndpoints } from './sql/skipDeliveries.js';
import { updateEndpointHealth } from './sql/updateEndpointHealth.js';
import type { ClaimedDelivery, DeliveryResult } from './types.js';
import { USER_AGENT } from './userAgent.js';

export interface WorkerHandle {
  readonly workerId: string;
  /** Stops claiming, lets in-flight requests finish (bounded by config.shutdownTimeoutMs), records them, closes. */
  stop(): Promise<void>;
}

export interface WorkerOptions {
  /** Written to deliveries.locked_by. Default: host, pid and a random suffix. */
  workerId?: string;
  /** [0, 1) for the retry jitter. Default Math.random. */
  random?: () => number;
  /** DNS for the SSRF guard (tests). Default: the system resolver. */
  resolve?: Resolver;
  /** 0 disables the periodic retention pass. Default every 10 minutes. */
  retentionIntervalMs?: number;
}

/** The longest request an endpoint may ask for; the lease must outlast it (config.worker.leaseSeconds ≥ 60). */
export const MAX_ENDPOINT_TIMEOUT_MS = 30_000;
/** Results are written in groups of up to this many (one statement each)... */
const FLUSH_MAX = 500;
/** ...as soon as this many are waiting... */
const FLUSH_AT = 200;
/** ...or after this long: status pages lag the truth by about this much at most. */
const FLUSH_DELAY_MS = 25;
const MAX_CONCURRENT_FLUSHES = 2;

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

interface Context {
  deps: Deps;
  sender: Sender;
  random: () => number;
}

/**
 * Where a delivery goes, for logs: the origin only. A query string may carry a token, and so may
 * the path: Slack's and Discord's webhook URLs are credentials (`/services/T…/B…/<secret>`,
 * `/api/webhooks/<id>/<token>`), as are many customers' own. The endpoint id is on the line.
 */
function logTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

type Processed = { result: DeliveryResult } | { release: string };

/** Sends one claimed delivery (unless it must not be sent) and decides its outcome. Never throws. */
async function processDelivery(ctx: Context, d: ClaimedDelivery): Promise<Processed> {
  const { clock, logger } = ctx.deps;
  const attemptedAt = clock.now();
  const unsent = notSent(d, attemptedAt);
  if (unsent) return { result: unsent };
  let req: OutgoingRequest = { url: d.url, headers: {}, recordedHeaders: {}, body: '' };
  let result: DeliveryResult;
  try {
    req = buildRequest(d, { now: attemptedAt, userAgent: USER_AGENT });
    const timeoutMs = Math.min(Math.max(d.timeoutMs || 15_000, 1), MAX_ENDPOINT_TIMEOUT_MS);
    const res = await ctx.sender.send(req, { timeoutMs });
    if (res.aborted) return { release: d.id };
    result = decideOutcome(d, req, res, { attemptedAt, now: clock.now(), random: ctx.random });
  } catch (err) {
    // A bug, not the receiver: record it as a failed attempt so the schedule (not a hot loop) retries it.
    logger.error('delivery crashed', { deliveryId: d.id, endpointId: d.endpointId, err });
    result = decideOutcome(d, req, { errorKind: 'network', errorMessage: 'internal error while sending', durationMs: 0 }, {
      attemptedAt,
      now: clock.now(),
      random: ctx.random,
    });
  }
  logAttempt(ctx, d, result);
  return { result };
}

function logAttempt(ctx: Context, d: ClaimedDelivery, r: DeliveryResult): void {
  const logger = ctx.deps.logger;
  const ok = r.status === 'succeeded';
  // At thousands a second, successes are only built into log lines when someone asked for debug.
  if (ok && !logger.isLevelEnabled('debug')) return;
  const log = logger.child({ deliveryId: d.id, endpointId: d.endpointId, attempt: r.attemptCount });
  const fields = {
    target: logTarget(d.url),
    status: r.attempt?.status_code ?? null,
    durationMs: r.attempt?.duration_ms,
    errorKind: r.attempt?.error_kind ?? undefined,
    outcome: r.status,
    nextAttemptAt: r.nextAttemptAt?.toISOString(),
  };
  if (ok) log.debug('delivered', fields);
  else if (r.status === 'dead') log.warn('delivery dead', fields);
  else log.info('delivery attempt failed', fields);
}

/**
 * Writes a group of results: deliveries + attempts in one statement, then endpoint health, in one
 * transaction (so a retry after a failure cannot record an attempt twice). Deadlocks and
 * serialization failures are retried at once; anything else goes back to the caller.
 */
export async function flushResults(deps: Deps, workerId: string, results: readonly DeliveryResult[]): Promise<void> {
  if (results.length === 0) return;
  const now = deps.clock.now();
  const health = summarizeHealth(results);
  let disabled: Awaited<ReturnType<typeof updateEndpointHealth>>;
  for (let attempt = 1; ; attempt++) {
    try {
      disabled = await deps.db.transaction(async (trx: Knex.Transaction) => {
        await recordResults(trx, { workerId, now, results });
        return updateEndpointHealth(trx, { now, updates: health });
      });
      break;
    } catch (err) {
      // Deadlock/serialization: retry now. Anything else is the caller's to back off.
      const transient = [PG.deadlockDetected, PG.serializationFailure].includes(pgCode(err) as never);
      if (!transient || attempt >= 4) throw err;
    }
  }
  for (const e of disabled) {
    deps.logger.warn('endpoint disabled', { endpointId: e.id, reason: e.reason });
    // After the commit, and never thrown: a retry of the whole group would record its attempts
    // twice. If this fails, the claim skips the endpoint's deliveries when they come due.
    try {
      const skipped = await skipDeliveriesOfEndpoints(deps.db, { endpointIds: [e.id], now, reason: `endpoint disabled: ${e.reason}` });
      if (skipped > 0) deps.logger.info('deliveries skipped', { endpointId: e.id, count: skipped });
    } catch (err) {
      deps.logger.warn('skipping deliveries of a disabled endpoint failed', { endpointId: e.id, err: (err as Error).message });
    }
  }
}

export interface RunCounts {
  claimed: number;
  succeeded: number;
  failed: number;
  dead: number;
  skipped: number;
}

function count(results: readonly DeliveryResult[], claimed: number): RunCounts {
  const c: RunCounts = { claimed, succeeded: 0, failed: 0, dead: 0, skipped: 0 };
  for (const r of results) {
    if (r.status === 'succeeded') c.succeeded++;
    else if (r.status === 'failed') c.failed++;
    else if (r.status === 'dead') c.dead++;
    else if (r.status === 'skipped') c.skipped++;
  }
  return c;
}

/**
 * Claims one batch, sends it, records every result, and returns the counts. What tests drive
 * (with a manual clock: every time decision reads deps.clock) and what the loop is made of.
 */
export async function runOnce(deps: Deps, opts: WorkerOptions & { batchSize?: number; sender?: Sender } = {}): Promise<RunCounts> {
  const workerId = opts.workerId ?? defaultWorkerId();
  const sender = opts.sender ?? createSender({ allowPrivate: deps.config.allowPrivateTargets, ...(opts.resolve ? { resolve: opts.resolve } : {}) });
  try {
    const claimed = await claimDeliveries(deps.db, {
      workerId,
      now: deps.clock.now(),
      leaseMs: deps.config.worker.leaseSeconds * 1000,
      limit: opts.batchSize ?? deps.config.worker.batchSize,
      maxBytes: deps.config.worker.maxInFlightBytes,
    });
    const ctx: Context = { deps, sender, random: opts.random ?? Math.random };
    const processed = await Promise.all(claimed.map((d) => processDelivery(ctx, d)));
    const results = processed.flatMap((p) => ('result' in p ? [p.result] : []));
    await flushResults(deps, workerId, results);
    return count(results, claimed.length);
  } finally {
    if (!opts.sender) await sender.close();
  }
}

/** The knex connection settings, reused for the LISTEN client (deps.config has no URL on the embedded database). */
function listenConnection(db: Knex): pg.ClientConfig {
  const conn = (db.client as { config: { connection: unknown } }).config.connection;
  if (typeof conn === 'string') return { connectionString: conn };
  return { ...(conn as pg.ClientConfig) };
}

/** A log-sized error message: knex prefixes Postgres's message with the whole SQL text. */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cut = message.lastIndexOf(' - ');
  return (cut >= 0 && message.length > 200 ? message.slice(cut + 3) : message).slice(0, 300);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

class Backoff {
  private ms = 0;
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {}
  next(): number {
    this.ms = this.ms === 0 ? this.min : Math.min(this.max, this.ms * 2);
    return Math.round(this.ms * (0.75 + Math.random() / 2));
  }
  reset(): void {
    this.ms = 0;
  }
}

/**
 * The delivery loop. Claims as slots free up (up to config.worker.concurrency requests in flight,
 * never less than a quarter of that per claim so batches stay worth a round trip), claims again at
 * once when a batch came back full, and otherwise sleeps until a NOTIFY, a freed slot or the poll
 * interval. Results are written in groups. Database errors never end the loop: it backs off and
 * tries again, and rows whose results could not be written are simply claimed again after their
 * lease (at-least-once).
 */
export function startWorker(deps: Deps, opts: WorkerOptions = {}): WorkerHandle {
  const { config, logger, clock } = deps;
  const workerId = opts.workerId ?? defaultWorkerId();
  const log = logger.child({ workerId });
  const sender = createSender({ allowPrivate: config.allowPrivateTargets, ...(opts.resolve ? { resolve: opts.resolve } : {}) });
  const ctx: Context = { deps, sender, random: opts.random ?? Math.random };
  const { batchSize, concurrency, pollIntervalMs, maxInFlightBytes } = config.worker;
  const leaseMs = config.worker.leaseSeconds * 1000;
  const minClaim = Math.max(1, Math.min(batchSize, Math.floor(concurrency / 4)));

  const inFlight = new Set<string>();
  let results: DeliveryResult[] = [];
  let releases: string[] = [];
  let activeFlushes = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  // Work is likely waiting (the last batch came back full, or a NOTIFY arrived since the last
  // claim): a freed slot should then wake the loop instead of waiting for the poll.
  let workHint = false;
  const claimBackoff = new Backoff(100, 5_000);
  const flushBackoff = new Backoff(100, 5_000);
  let flushBlockedUntil = 0;

  // Wake-ups are remembered: a NOTIFY that lands while a claim runs is not lost.
  let wakePending = false;
  let wakeWaiter: (() => void) | undefined;
  const wake = () => {
    wakePending = true;
    const w = wakeWaiter;
    wakeWaiter = undefined;
    w?.();
  };
  const waitForWake = (ms: number) =>
    new Promise<void>((resolve) => {
      if (wakePending || stopping) {
        wakePending = false;
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        wakeWaiter = undefined;
        resolve();
      }, ms);
      wakeWaiter = () => {
        clearTimeout(timer);
        wakePending = false;
        resolve();
      };
    });

  let drainedWaiter: (() => void) | undefined;
  let flushedWaiter: (() => void) | undefined;
  // Finished results wait in memory for their group write; claiming pauses only when writing
  // falls far behind (a database outage), so memory stays bounded without stalling the pipeline.
  const maxUnwritten = Math.max(4 * FLUSH_MAX, 2 * concurrency);
  // Payload bytes in flight are bounded as well as requests (config.worker.maxInFlightBytes), so
  // large messages mean fewer at once, not more memory.
  let inFlightBytes = 0;
  const freeSlots = () => (results.length > maxUnwritten || inFlightBytes >= maxInFlightBytes ? 0 : concurrency - inFlight.size);

  const start = (d: ClaimedDelivery) => {
    inFlight.add(d.id);
    const bytes = Buffer.byteLength(d.payload);
    inFlightBytes += bytes;
    void processDelivery(ctx, d)
      .then((p) => {
        if ('result' in p) results.push(p.result);
        else releases.push(p.release);
      })
      .catch((err: unknown) => log.error('delivery bookkeeping failed', { deliveryId: d.id, err }))
      .finally(() => {
        inFlight.delete(d.id);
        inFlightBytes -= bytes;
        scheduleFlush();
        if (workHint && !stopping && freeSlots() >= minClaim) wake();
        if (inFlight.size === 0) drainedWaiter?.();
      });
  };

  const scheduleFlush = () => {
    if (results.length + releases.length >= FLUSH_AT) void flush();
    else flushTimer ??= setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, FLUSH_DELAY_MS);
  };

  const flush = async (): Promise<void> => {
    if (activeFlushes >= MAX_CONCURRENT_FLUSHES || (results.length === 0 && releases.length === 0)) return;
    if (Date.now() < flushBlockedUntil) {
      flushTimer ??= setTimeout(() => {
        flushTimer = undefined;
        void flush();
      }, flushBlockedUntil - Date.now());
      return;
    }
    const batch = results.splice(0, FLUSH_MAX);
    const released = releases;
    releases = [];
    activeFlushes++;
    try {
      await flushResults(deps, workerId, batch);
      if (released.length > 0) await releaseDeliveries(deps.db, { workerId, now: clock.now(), ids: released });
      flushBackoff.reset();
    } catch (err) {
      if (isConnectionError(err)) {
        // Keep them and try again: until the lease ends nobody else will send these rows.
        results = batch.concat(results);
        releases = released.concat(releases);
        const wait = flushBackoff.next();
        flushBlockedUntil = Date.now() + wait;
        log.warn('recording results failed', { err: errorText(err), pending: results.length, retryInMs: wait });
      } else {
        // The database is up but refused the group: one bad row must not hold the others back
        // (retrying the group forever would stall the worker). Write them one by one.
        log.error('recording a group of results failed; writing them one by one', { err: errorText(err) });
        releases = released.concat(releases);
        const unwritten = await recordOneByOne(batch);
        if (unwritten.length > 0) results = unwritten.concat(results);
      }
    } finally {
      activeFlushes--;
    }
    if (results.length + releases.length > 0) scheduleFlush();
    if (workHint && !stopping && freeSlots() >= minClaim) wake();
    flushedWaiter?.();
  };

  /** Returns the results to try again later (the database went away meanwhile). */
  const recordOneByOne = async (batch: DeliveryResult[]): Promise<DeliveryResult[]> => {
    const later: DeliveryResult[] = [];
    for (const r of batch) {
      try {
        await flushResults(deps, workerId, [r]);
      } catch (err) {
        if (isConnectionError(err)) {
          later.push(r);
          continue;
        }
        // Keep the outcome, drop the attempt details Postgres refused.
        const bare: DeliveryResult = { ...r, attempt: null, lastError: `${r.lastError ?? ''} (attempt details could not be recorded)`.trim() };
        await flushResults(deps, workerId, [bare]).catch((e: unknown) => {
          // Left leased: it is sent again after the lease, which at worst repeats one delivery.
          log.error('result could not be recorded', { deliveryId: r.id, err: errorText(e) });
        });
      }
    }
    return later;
  };

  const claimLoop = async () => {
    while (!stopping) {
      const want = Math.min(batchSize, freeSlots());
      if (want < minClaim) {
        await waitForWake(pollIntervalMs);
        continue;
      }
      let claimed: ClaimedDelivery[];
      workHint = false;
      const byteBudget = maxInFlightBytes - inFlightBytes;
      try {
        claimed = await claimDeliveries(deps.db, { workerId, now: clock.now(), leaseMs, limit: want, maxBytes: byteBudget });
        claimBackoff.reset();
      } catch (err) {
        const wait = claimBackoff.next();
        log.warn('claim failed', { err: errorText(err), retryInMs: wait });
        await waitForWake(wait); // stop() cuts the wait short
        continue;
      }
      const before = inFlightBytes;
      for (const d of claimed) start(d);
      // Full, or cut short by the byte budget: more is likely due, and a freed slot should claim it.
      if (claimed.length === want || inFlightBytes - before >= byteBudget) workHint = true;
      else await waitForWake(pollIntervalMs);
    }
  };

  const listener: Listener = listenForDeliveries({
    connection: listenConnection(deps.db),
    logger: log,
    onNotify: () => {
      workHint = true;
      wake();
    },
    onReconnect: () => {
      workHint = true;
      wake();
    },
  });

  const retentionEvery = opts.retentionIntervalMs ?? RETENTION_INTERVAL_MS;
  let retentionRunning: Promise<unknown> | undefined;
  const retentionTimer =
    retentionEvery > 0
      ? setInterval(() => {
          if (retentionRunning) return;
          retentionRunning = runRetention(deps)
            .catch((err: unknown) => log.warn('retention failed', { err: errorText(err) }))
            .finally(() => {
              retentionRunning = undefined;
            });
        }, retentionEvery).unref()
      : undefined;

  const loopDone = claimLoop().catch((err: unknown) => log.error('claim loop crashed', { err }));
  log.info('worker started', { concurrency, batchSize, leaseSeconds: config.worker.leaseSeconds, pollIntervalMs });
  if (leaseMs <= MAX_ENDPOINT_TIMEOUT_MS) {
    // Tests shorten the lease on purpose; in production a request could outlive its claim and be sent twice.
    log.warn('lease shorter than the longest endpoint timeout: slow requests may be sent twice', { leaseSeconds: config.worker.leaseSeconds });
  }

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const deadline = Date.now() + config.shutdownTimeoutMs;
    stopping = true;
    if (retentionTimer) clearInterval(retentionTimer);
    wake();
    await loopDone;
    log.info('worker stopping', { inFlight: inFlight.size });

    // Let in-flight requests finish, keeping a little time to record them.
    const finishBy = deadline - Math.min(2_000, config.shutdownTimeoutMs / 4);
    while (inFlight.size > 0 && Date.now() < finishBy) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, finishBy - Date.now());
        drainedWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      drainedWaiter = undefined;
    }
    if (inFlight.size > 0) {
      log.warn('aborting requests still in flight', { count: inFlight.size });
      sender.abortAll();
      while (inFlight.size > 0 && Date.now() < deadline) await sleep(10);
    }

    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    while ((results.length + releases.length > 0 || activeFlushes > 0) && Date.now() < deadline) {
      if (activeFlushes > 0 || Date.now() < flushBlockedUntil) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(10, Math.min(flushBlockedUntil - Date.now(), deadline - Date.now())));
          flushedWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        flushedWaiter = undefined;
        continue;
      }
      await flush();
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
    }
    if (results.length > 0) log.warn('results not recorded at shutdown; their deliveries will be retried after the lease', { count: results.length });

    await retentionRunning;
    await listener.close();
    await Promise.race([sender.close(), sleep(1_000)]);
    log.info('worker stopped');
  };

  return {
    workerId,
    stop: () => (stopped ??= stop()),
  };
}
