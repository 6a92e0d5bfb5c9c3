import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Knex } from 'knex';
import pg from 'pg';
import { createDb } from '../../src/db/knex.js';
import { loadManifest } from '../../src/manifest.js';
import { postJson } from '../load.js';
import { DIST, spawnNode, waitForLogLine, waitUntil, type Proc } from '../processes.js';
import type { LoadSink } from './sink.js';

/** Set-up shared by the three parts: Herald's processes over one database, tenants, load. */

export const log = (msg: string) => process.stdout.write(`[bench:load ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- clean-up that also runs on Ctrl-C -----------------------------------------------------

const cleanups: Array<{ what: string; fn: () => Promise<void> }> = [];

/** Registers an undo step; returns a function that runs it now (once) instead of at exit. */
export function onCleanUp(what: string, fn: () => Promise<void>): () => Promise<void> {
  const entry = { what, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}

export async function cleanUpAll(): Promise<void> {
  while (cleanups.length > 0) {
    const { what, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      log(`clean-up of ${what} failed: ${(err as Error).message}`);
    }
  }
}

// ---- databases -------------------------------------------------------------------------------

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A scratch database on the shared server, dropped at clean-up. */
export async function scratchDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, (c) => c.query(`create database "${name}"`));
  onCleanUp(`database ${name}`, () => withClient(adminUrl, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---- Herald's processes ------------------------------------------------------------------------

export interface Tenant {
  index: number;
  id: string;
  apiKey: string;
  /** Endpoint paths at the sink. */
  paths: string[];
}

export interface Stack {
  databaseUrl: string;
  db: Knex;
  web: Proc;
  webUrl: string;
  workers: Proc[];
  env: Record<string, string>;
  tenants: Tenant[];
  startWorker(): Promise<Proc>;
}

export interface StackOptions {
  databaseUrl: string;
  sink: LoadSink;
  workers: number;
  webConcurrency: number;
  /** Endpoint paths per tenant (one tenant per entry). */
  tenants: string[][];
  endpointTimeoutSeconds: number;
  env?: Record<string, string>;
}

async function stopProc(p: Proc): Promise<void> {
  await p.stop(15_000);
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const env = { DATABASE_URL: o.databaseUrl, NODE_ENV: 'development', LOG_LEVEL: 'info', ALLOW_PRIVATE_TARGETS: 'true', ...o.env };
  const migrate = spawnNode('migrate', path.join(DIST, 'src', 'migrate.js'), env);
  if ((await migrate.exited) !== 0) throw new Error(`migrations failed:\n${migrate.lines.join('\n')}`);

  const port = await freePort();
  const web = spawnNode('web', path.join(DIST, 'src', 'web.js'), { ...env, PORT: String(port), WEB_CONCURRENCY: String(o.webConcurrency) });
  onCleanUp('web', () => stopProc(web));
  const webUrl = `http://127.0.0.1:${port}`;
  await waitUntil('the web process', async () => (await fetch(`${webUrl}/healthz`).then((r) => r.status, () => 0)) === 200, 30_000, 50);
  const db = createDb({ connectionString: o.databaseUrl, ssl: false, poolMax: 3, applicationName: 'bench-load' });
  onCleanUp('bench pool', () => db.destroy());

  const manifest = loadManifest();
  const partner = `Basic ${Buffer.from(`${manifest.id}:${manifest.api.password}`).toString('base64')}`;
  const tenants: Tenant[] = [];
  for (const [index, paths] of o.tenants.entries()) {
    const res = await postJson(`${webUrl}/heroku/resources`, { uuid: randomUUID(), plan: 'pro', region: 'amazon-web-services::us-east-1', name: `load-${index}` }, { authorization: partner });
    if (res.status !== 200) throw new Error(`provision failed: ${res.status} ${JSON.stringify(res.json)}`);
    const body = res.json as { id: string; config: { HERALD_API_KEY: string } };
    const tenant = { index, id: body.id, apiKey: body.config.HERALD_API_KEY, paths };
    for (const p of paths) {
      const ep = await postJson(`${webUrl}/v1/endpoints`, { url: `${o.sink.url}${p}`, timeout: o.endpointTimeoutSeconds, description: 'bench:load sink' }, { authorization: `Bearer ${tenant.apiKey}` });
      if (ep.status !== 201) throw new Error(`endpoint create failed: ${ep.status} ${JSON.stringify(ep.json)}`);
    }
    tenants.push(tenant);
  }

  const workers: Proc[] = [];
  const startWorker = async () => {
    // As the Procfile runs it.
    const w = spawnNode(`worker-${workers.length}`, path.join(DIST, 'src', 'worker.js'), env, ['--max-semi-space-size=4']);
    onCleanUp(w.name, () => stopProc(w));
    workers.push(w);
    await waitForLogLine(w, 'worker started', 30_000);
    return w;
  };
  for (let i = 0; i < o.workers; i++) await startWorker();
  return { databaseUrl: o.databaseUrl, db, web, webUrl, workers, env, tenants, startWorker };
}

// ---- load --------------------------------------------------------------------------------------

/** `{"event_type", "data": {"blob"}}` whose `data` is exactly `bytes` of JSON (random hex: no free compression). */
export function messageBody(eventType: string, bytes: number): string {
  const overhead = JSON.stringify({ blob: '' }).length;
  const blob = randomBytes(Math.ceil((bytes - overhead) / 2)).toString('hex').slice(0, bytes - overhead);
  return JSON.stringify({ event_type: eventType, data: { blob } });
}

export interface LoadResult {
  seconds: number;
  accepted: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Accepted message ids per tenant index. */
  ids: string[][];
  /** Response time of every answered request, ms (sorted). */
  latencies: Float64Array;
  /** Times (epoch ms) of non-202 answers and socket errors, with the status (0: socket error). */
  failures: Array<[number, number]>;
}

/**
 * One autocannon per tenant, in parallel (each connection keeps one API key, as each customer app
 * would): `bodies` are cycled per connection; `rate` undefined means closed loop (peak search).
 */
export async function runLoad(o: { url: string; tenants: Tenant[]; bodies: string[]; connections: number; seconds: number; rate?: number }): Promise<LoadResult> {
  const ids: string[][] = o.tenants.map(() => []);
  const latencies: number[] = [];
  const failures: Array<[number, number]> = [];
  const per = Math.max(1, Math.floor(o.connections / o.tenants.length));
  const runs = o.tenants.map(
    (t) =>
      new Promise<autocannon.Result>((resolve, reject) => {
        const inst = autocannon(
          {
            url: `${o.url}/v1/messages`,
            method: 'POST',
            connections: per,
            duration: o.seconds,
            timeout: 10,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
            ...(o.rate ? { overallRate: Math.max(1, Math.round(o.rate / o.tenants.length)) } : {}),
            requests: o.bodies.map((body) => ({
              method: 'POST' as const,
              body,
              onResponse: (status: number, resBody: string) => {
                if (status === 202) ids[t.index]!.push((JSON.parse(resBody) as { id: string }).id);
                else failures.push([Date.now(), status]);
              },
            })),
          },
          (err, result) => (err ? reject(err) : resolve(result)),
        );
        inst.on('response', (_c: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
        inst.on('reqError', () => failures.push([Date.now(), 0]));
      }),
  );
  const results = await Promise.all(runs);
  const accepted = ids.reduce((n, l) => n + l.length, 0);
  const seconds = Math.max(...results.map((r) => r.duration));
  return {
    seconds,
    accepted,
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
    ids,
    latencies: Float64Array.from(latencies).sort(),
    failures,
  };
}

export function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 10) / 10;
}

// ---- checks against the sink -------------------------------------------------------------------

export interface DeliveryCheck {
  /** Delivery rows in the database. */
  deliveries: number;
  notSucceeded: number;
  /** Delivery rows the sink answered exactly once, more than once, never. */
  exactlyOnce: number;
  duplicated: number;
  missing: number;
  /** (webhook-id, path) pairs the sink answered that match no delivery row. */
  unexpected: number;
  /** Accepted ids (from the 202s) absent from the database, and messages whose delivery count differs from their tenant's endpoints. */
  acceptedMissing: number;
  wrongFanOut: number;
  /**
   * Messages in the database that no 202 reported: requests still in flight when the load
   * generator stopped (autocannon drops their answers); their deliveries are checked all the same.
   */
  unaccountedMessages: number;
}

/**
 * Every accepted message has one delivery row per endpoint of its tenant, and the sink answered
 * each row's (webhook-id, path) pair: the rows are walked in pages (keyset on id) so a million of
 * them never sit in memory at once.
 */
export async function checkDeliveries(db: Knex, sink: LoadSink, tenants: Tenant[], acceptedIds: string[][]): Promise<DeliveryCheck> {
  const counts = await sink.counts(path.join(os.tmpdir(), `herald-load-sink-${process.pid}.txt`));
  let acceptedMissing = 0;
  let wrongFanOut = 0;
  let acceptedTotal = 0;
  for (const t of tenants) {
    const list = acceptedIds[t.index] ?? [];
    acceptedTotal += list.length;
    for (let i = 0; i < list.length; i += 20_000) {
      const chunk = list.slice(i, i + 20_000);
      const { rows } = await db.raw(
        `select count(m.id) as found,
                count(*) filter (where m.id is not null and (select count(*) from deliveries d where d.message_id = m.id) <> ?) as wrong
         from unnest(?::uuid[]) as a(id) left join messages m on m.id = a.id and m.resource_id = ?`,
        [t.paths.length, chunk, t.id],
      );
      acceptedMissing += chunk.length - Number(rows[0].found);
      wrongFanOut += Number(rows[0].wrong);
    }
  }
  const { rows: totals } = await db.raw(
    `select (select count(*) from messages) as messages, (select count(*) from deliveries) as deliveries,
            (select count(*) from deliveries where status <> 'succeeded') as not_ok`,
  );
  let exactlyOnce = 0;
  let duplicated = 0;
  let missing = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await db.raw<{ rows: Array<{ id: string; wid: string; url: string }> }>(
      `select d.id, 'msg_' || replace(d.message_id::text, '-', '') as wid, e.url
       from deliveries d join endpoints e on e.id = d.endpoint_id
       where d.id > ? order by d.id limit 50000`,
      [after],
    );
    if (rows.length === 0) break;
    for (const r of rows) {
      const key = `${r.wid} ${new URL(r.url).pathname}`;
      const n = counts.get(key) ?? 0;
      if (n === 1) exactlyOnce++;
      else if (n > 1) duplicated++;
      else missing++;
      counts.delete(key);
    }
    after = rows[rows.length - 1]!.id;
  }
  return {
    deliveries: Number(totals[0].deliveries),
    notSucceeded: Number(totals[0].not_ok),
    exactlyOnce,
    duplicated,
    missing,
    unexpected: counts.size,
    acceptedMissing,
    wrongFanOut,
    unaccountedMessages: Number(totals[0].messages) - acceptedTotal,
  };
}
