import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDb, migrateLatest } from '../src/db/knex.js';
import { insertMessagesFanOut, type NewMessage } from '../src/db/messages.js';
import { claimDeliveries } from '../src/delivery/sql/claimDeliveries.js';
import { recordResults } from '../src/delivery/sql/recordResults.js';
import type { DeliveryResult } from '../src/delivery/types.js';
import { fmt } from './report.js';

/*
 * `npm run bench:sql -- accept|worker`: the Postgres CPU of Herald's hot statements alone, without
 * HTTP, on one connection, from /proc/<backend pid>/stat. Steadier than end-to-end rates on a
 * shared machine, and what schema changes were judged by (docs/benchmarks.md):
 *
 *   accept  insertMessagesFanOut in batches of 50 messages (--batch; what group commit sends under
 *           load), fan-out 10 (--fan-out): Postgres CPU per accepted message.
 *   worker  claimDeliveries (200) then recordResults for the 200 as successes with their attempt
 *           rows: Postgres CPU per delivery, split claim / record.
 *
 * `--alter "sql; sql"` runs statements after migrating, to measure a schema variant (e.g. an index
 * dropped) against the same workload. Each run uses a scratch database and drops it.
 */

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '20000' },
    deliveries: { type: 'string', default: '50000' },
    'fan-out': { type: 'string', default: '10' },
    batch: { type: 'string', default: '50' },
    alter: { type: 'string', default: '' },
  },
});
const mode = positionals[0];
if (mode !== 'accept' && mode !== 'worker') {
  process.stderr.write('usage: npm run bench:sql -- accept|worker [--messages 20000] [--deliveries 50000] [--fan-out 10] [--batch 50] [--alter "sql; …"]\n');
  process.exit(2);
}
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME = `herald_bench_sql_${process.pid}`;
const BATCH = Number(args.batch);
const CLAIM = 200;

function dbUrl(name: string, options = ''): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  if (options) u.searchParams.set('options', options);
  return u.toString();
}

/** CPU time (µs) of a backend so far: utime + stime from /proc, in clock ticks of 10 ms. */
function backendCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${NAME} with (force)`);
  await admin.query(`create database ${NAME}`);
  // The worker's sessions run with synchronous_commit off (src/worker.ts); the web's do not.
  const db = createDb({ connectionString: dbUrl(NAME, mode === 'worker' ? '-c synchronous_commit=off' : ''), ssl: false, poolMax: 1 });
  try {
    await migrateLatest(db);
    for (const sql of args.alter.split(';').filter((s) => s.trim())) await db.raw(sql);
    const resourceId = randomUUID();
    await db.raw(`insert into resources (id, plan, region, api_key_hash) values (?, 'pro', 'us', ?)`, [resourceId, randomUUID()]);
    const fanOut = Number(args['fan-out']);
    for (let i = 0; i < fanOut; i++) {
      await db('endpoints').insert({ id: randomUUID(), resource_id: resourceId, url: `http://127.0.0.1:9/${i}`, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
    }
    const message = (createdAt: Date): NewMessage => ({
      id: randomUUID(),
      resourceId,
      eventType: 'invoice.paid',
      eventId: null,
      version: null,
      payload: JSON.stringify({ invoice: 'in_1MtHbELkdIwHu7ixl4OzzPMv', amount: 4200, currency: 'eur' }),
      subscriberId: null,
      endpointId: null,
      source: 'api',
      createdAt,
      period: `${createdAt.toISOString().slice(0, 7)}-01`,
      quota: null,
      ignoreFilters: false,
    });
    const pid = ((await db.raw('select pg_backend_pid() as pid')) as { rows: { pid: number }[] }).rows[0]!.pid;

    if (mode === 'accept') {
      const total = Number(args.messages);
      for (let i = 0; i < 20; i++) await insertMessagesFanOut(db, Array.from({ length: BATCH }, () => message(new Date())));
      const cpu0 = backendCpuUs(pid);
      const t0 = performance.now();
      for (let i = 0; i < total / BATCH; i++) await insertMessagesFanOut(db, Array.from({ length: BATCH }, () => message(new Date())));
      const seconds = (performance.now() - t0) / 1000;
      const perMessage = (backendCpuUs(pid) - cpu0) / total;
      process.stdout.write(
        `accept, fan-out ${fanOut}: ${fmt(total)} messages in batches of ${BATCH}: Postgres ${fmt(perMessage)} µs of CPU per message ` +
          `(${fmt(perMessage / Math.max(1, fanOut), 1)} per delivery row); ${fmt(total / seconds)} messages/s on one connection\n`,
      );
      return;
    }

    const total = Number(args.deliveries);
    const dueSince = new Date(Date.now() - 1000);
    for (let i = 0; i < total / fanOut / BATCH; i++) await insertMessagesFanOut(db, Array.from({ length: BATCH }, () => message(dueSince)));
    await db.raw('vacuum analyze');
    let claimUs = 0;
    let recordUs = 0;
    let n = 0;
    const t0 = performance.now();
    for (;;) {
      const now = new Date();
      let c = backendCpuUs(pid);
      const claimed = await claimDeliveries(db, { workerId: 'bench', now, leaseMs: 60_000, limit: CLAIM });
      claimUs += backendCpuUs(pid) - c;
      if (claimed.length === 0) break;
      n += claimed.length;
      const results: DeliveryResult[] = claimed.map((d) => ({
        id: d.id,
        resourceId: d.resourceId,
        messageId: d.messageId,
        endpointId: d.endpointId,
        status: 'succeeded',
        attemptCount: 1,
        lastAttemptAt: now,
        lastStatusCode: 204,
        lastError: null,
        nextAttemptAt: null,
        completedAt: now,
        attempt: {
          attempt_number: 1,
          attempted_at: now.toISOString(),
          url: d.url,
          request_headers: {
            'content-type': 'application/json',
            'user-agent': 'Herald-Webhooks/0.1.0',
            'webhook-id': `msg_${d.messageId.replace(/-/g, '')}`,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
          },
          request_body: null,
          status_code: 204,
          duration_ms: 3,
          response_headers: { date: now.toUTCString(), connection: 'keep-alive', 'keep-alive': 'timeout=5' },
          response_body: '',
          error_kind: null,
          error_message: null,
          outcome: 'succeeded',
          next_attempt_at: null,
        },
        health: { at: now, ok: true, gone: false },
      }));
      c = backendCpuUs(pid);
      await recordResults(db, { workerId: 'bench', now, results });
      recordUs += backendCpuUs(pid) - c;
    }
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `worker: ${fmt(n)} deliveries, claims of ${CLAIM}: Postgres ${fmt((claimUs + recordUs) / n)} µs of CPU per delivery ` +
        `(claim ${fmt(claimUs / n)}, record with its attempt row ${fmt(recordUs / n)}); ${fmt(n / seconds)} deliveries/s on one connection, no HTTP\n`,
    );
  } finally {
    await db.destroy();
    await admin.query(`drop database if exists ${NAME} with (force)`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
