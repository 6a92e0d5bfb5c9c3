import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';
import { ROOT, rssMb, sleep, waitUntil } from '../processes.js';
import { fmt, machine, table, type Row } from '../report.js';
import { startLoadSink, type LoadSink } from './sink.js';
import {
  checkDeliveries,
  cleanUpAll,
  freePort,
  log,
  messageBody,
  onCleanUp,
  pct,
  runLoad,
  scratchDatabase,
  startStack,
  withClient,
  type DeliveryCheck,
  type Stack,
} from './stack.js';

/*
 * `npm run bench:load -- steady|soak|faults|all`: Herald under sustained load, a million deliveries
 * through one worker, and faults (a killed worker, a Postgres restart, a hanging receiver) during
 * load. Everything runs on this machine's loopback; see docs/benchmarks.md, "Load, soak and faults".
 */

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'ramp-seconds': { type: 'string', default: '15' },
    'hold-seconds': { type: 'string', default: '300' },
    'hold-fraction': { type: 'string', default: '0.8' },
    'large-every': { type: 'string', default: '20' },
    'soak-deliveries': { type: 'string', default: '1000000' },
    'fault-rate': { type: 'string', default: '300' },
    'web-concurrency': { type: 'string', default: '2' },
  },
});
const mode = positionals[0] ?? 'all';
if (!['steady', 'soak', 'faults', 'all'].includes(mode)) {
  process.stderr.write('usage: npm run bench:load -- steady|soak|faults|all [--hold-seconds 300] [--soak-deliveries 1000000]\n');
  process.exit(2);
}
const opt = {
  rampSeconds: Number(args['ramp-seconds']),
  holdSeconds: Number(args['hold-seconds']),
  holdFraction: Number(args['hold-fraction']),
  largeEvery: Number(args['large-every']),
  soakDeliveries: Number(args['soak-deliveries']),
  faultRate: Number(args['fault-rate']),
  webConcurrency: Number(args['web-concurrency']),
};
// autocannon builds one request buffer per entry per connection: keep the cycle short.
if (!(opt.largeEvery >= 2 && opt.largeEvery <= 100)) {
  process.stderr.write('--large-every must be 2-100\n');
  process.exit(2);
}
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const stamp = `${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}_${process.pid}`;
const now = () => Date.now();

async function startSink(): Promise<LoadSink> {
  const sink = await startLoadSink();
  onCleanUp('sink', () => sink.close());
  return sink;
}

/** `inFlight`: connections of the load generator, an upper bound on answers it dropped at the end. */
const checkOk = (c: DeliveryCheck, allowDuplicates: boolean, inFlight: number) =>
  c.notSucceeded === 0 &&
  c.missing === 0 &&
  c.unexpected === 0 &&
  c.acceptedMissing === 0 &&
  c.wrongFanOut === 0 &&
  c.unaccountedMessages >= 0 &&
  c.unaccountedMessages <= inFlight &&
  (allowDuplicates || c.duplicated === 0);

// ---- steady load -------------------------------------------------------------------------------

async function steady(): Promise<{ rows: Row[]; result: Record<string, unknown> }> {
  log('steady: set-up');
  const databaseUrl = await scratchDatabase(ADMIN_URL, `herald_load_${stamp}`);
  const sink = await startSink();
  // 1-3 endpoints per resource: 8 endpoints over 4 API keys.
  const fanOut = [1, 2, 3, 2];
  const stack = await startStack({
    databaseUrl,
    sink,
    workers: 2,
    webConcurrency: opt.webConcurrency,
    tenants: fanOut.map((n, t) => Array.from({ length: n }, (_, e) => `/r${t}/e${e}`)),
    endpointTimeoutSeconds: 15,
  });
  // One 64 KiB message in `largeEvery`, the rest 1 KiB.
  const small = messageBody('load.small', 1024);
  const large = messageBody('load.large', 64 * 1024);
  const bodies = [...Array.from({ length: opt.largeEvery - 1 }, () => small), large];

  log(`steady: ramp, closed loop, 128 connections, ${opt.rampSeconds} s`);
  const ramp = await runLoad({ url: stack.webUrl, tenants: stack.tenants, bodies, connections: 128, seconds: opt.rampSeconds });
  const peak = Math.round(ramp.accepted / ramp.seconds);
  const rate = Math.round(peak * opt.holdFraction);
  log(`steady: peak ${fmt(peak)} accepted/s (p99 ${pct(ramp.latencies, 99)} ms, non-2xx ${ramp.non2xx}, errors ${ramp.errors}); holding ${fmt(rate)}/s for ${opt.holdSeconds} s`);

  const rss: Array<[number, number, number]> = [];
  const sampler = setInterval(() => rss.push([now(), rssMb(stack.workers[0]!.child.pid!), rssMb(stack.workers[1]!.child.pid!)]), 5_000);
  const backlog: Array<[number, number]> = [];
  const backlogTimer = setInterval(() => {
    void stack.db
      .raw(`select count(*) as n from deliveries where status = 'pending'`)
      .then(({ rows }) => backlog.push([now(), Number(rows[0].n)]))
      .catch(() => undefined);
  }, 15_000);
  const holdStart = now();
  const hold = await runLoad({ url: stack.webUrl, tenants: stack.tenants, bodies, connections: 200, seconds: opt.holdSeconds, rate });
  const loadEnd = now();
  clearInterval(backlogTimer);
  log(`steady: held ${fmt(hold.accepted / hold.seconds)}/s for ${Math.round(hold.seconds)} s: p50 ${pct(hold.latencies, 50)} ms, p99 ${pct(hold.latencies, 99)} ms, non-2xx ${hold.non2xx}, errors ${hold.errors}`);

  const { rows: dr } = await stack.db.raw(`select count(*) as n, count(*) filter (where status = 'pending') as pending from deliveries`);
  const expected = Number(dr[0].n);
  log(`steady: ${fmt(expected)} deliveries, ${fmt(Number(dr[0].pending))} still pending at the end of the load; draining`);
  await waitUntil(
    'the backlog to drain',
    async () => {
      const { rows } = await stack.db.raw(`select count(*) as n from deliveries where status <> 'succeeded'`);
      return Number(rows[0].n) === 0;
    },
    600_000,
    250,
  );
  const s = await sink.stats();
  clearInterval(sampler);
  const drainSeconds = Math.max(0, (s.lastAt - loadEnd) / 1000);
  const ids = stack.tenants.map((t) => [...ramp.ids[t.index]!, ...hold.ids[t.index]!]);
  const check = await checkDeliveries(stack.db, sink, stack.tenants, ids);
  log(`steady: drained ${fmt(drainSeconds, 1)} s after the load; check ${JSON.stringify(check)}`);
  const workerRss = rss.map(([, a, b]) => Math.max(a, b));
  const result = {
    fanOut,
    largeEvery: opt.largeEvery,
    ramp: { seconds: ramp.seconds, accepted: ramp.accepted, peakPerSecond: peak, p50Ms: pct(ramp.latencies, 50), p99Ms: pct(ramp.latencies, 99), non2xx: ramp.non2xx, errors: ramp.errors },
    hold: {
      targetRate: rate,
      seconds: hold.seconds,
      accepted: hold.accepted,
      perSecond: Math.round(hold.accepted / hold.seconds),
      p50Ms: pct(hold.latencies, 50),
      p90Ms: pct(hold.latencies, 90),
      p99Ms: pct(hold.latencies, 99),
      p999Ms: pct(hold.latencies, 99.9),
      maxMs: pct(hold.latencies, 100),
      non2xx: hold.non2xx,
      errors: hold.errors,
      failureStatuses: countBy(hold.failures.map(([, st]) => st)),
    },
    pendingAtLoadEnd: Number(dr[0].pending),
    backlog: backlog.map(([t, n]) => [Math.round((t - holdStart) / 1000), n]),
    drainSeconds,
    deliveriesPerSecondOverall: Math.round(expected / ((s.lastAt - holdStart) / 1000)),
    workerRssMb: { first: Math.round(workerRss[0] ?? 0), max: Math.round(Math.max(...workerRss)), last: Math.round(workerRss[workerRss.length - 1] ?? 0) },
    check,
  };
  const errors = hold.non2xx + hold.errors + ramp.non2xx + ramp.errors;
  const rows: Row[] = [
    { id: 'L1', what: `peak accepted messages/s (closed loop, ${opt.rampSeconds} s, 2 workers delivering)`, result: `${fmt(peak)}/s`, target: '', met: undefined },
    {
      id: 'L2',
      what: `held ${Math.round(opt.holdFraction * 100)} % of peak for ${Math.round(hold.seconds)} s: accepted/s, p50 / p99`,
      result: `${fmt(result.hold.perSecond)}/s, ${result.hold.p50Ms} / ${result.hold.p99Ms} ms`,
      target: '',
      met: undefined,
    },
    { id: 'L3', what: 'errors under load (non-2xx + socket errors)', result: fmt(errors), target: '0', met: errors === 0 },
    {
      id: 'L4',
      what: `delivered exactly once per endpoint (${fmt(check.deliveries)} deliveries)`,
      result: `${fmt(check.exactlyOnce)} once, ${check.duplicated} twice+, ${check.missing} missing`,
      target: 'all once',
      met: checkOk(check, false, 128 + 200),
    },
    { id: 'L5', what: 'backlog drained after the load ended', result: `${fmt(drainSeconds, 1)} s`, target: '', met: undefined },
  ];
  return { rows, result };
}

function countBy(xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[String(x)] = (out[String(x)] ?? 0) + 1;
  return out;
}

// ---- soak --------------------------------------------------------------------------------------

async function soak(): Promise<{ rows: Row[]; result: Record<string, unknown> }> {
  const total = opt.soakDeliveries;
  const endpoints = 4;
  const messages = Math.ceil(total / endpoints);
  log(`soak: set-up (${fmt(total)} deliveries = ${fmt(messages)} messages × ${endpoints} endpoints)`);
  const databaseUrl = await scratchDatabase(ADMIN_URL, `herald_soak_${stamp}`);
  const sink = await startSink();
  const stack = await startStack({
    databaseUrl,
    sink,
    workers: 0,
    webConcurrency: 1,
    tenants: [Array.from({ length: endpoints }, (_, e) => `/s/e${e}`)],
    endpointTimeoutSeconds: 15,
  });
  const rid = stack.tenants[0]!.id;
  const payload = JSON.stringify({ order_id: 'ord_8f14e45fceea167a', amount: 4200, currency: 'eur', customer: { id: 'cus_c9f0f895fb98ab91', email: 'ada@example.com' } });
  const insertStart = now();
  // Batches of 50,000 messages and their deliveries (one statement each), so no single
  // transaction holds a million rows.
  for (let done = 0; done < messages; done += 50_000) {
    const n = Math.min(50_000, messages - done);
    await stack.db.raw(
      `with m as (
         insert into messages (id, resource_id, event_type, payload, source, created_at)
         select gen_random_uuid(), ?, 'soak.preloaded', ?::jsonb, 'api', now() from generate_series(1, ?)
         returning id, resource_id)
       insert into deliveries (id, resource_id, message_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
       select gen_random_uuid(), m.resource_id, m.id, e.id, 'pending', now(), now(), now()
       from m cross join endpoints e where e.resource_id = ?`,
      [rid, payload, n, rid],
    );
  }
  // Cap the last batch's overshoot: exactly `total` deliveries.
  await stack.db.raw(`delete from deliveries where id in (select id from deliveries order by id offset ?)`, [total]);
  await stack.db.raw('vacuum analyze');
  const { rows: cnt } = await stack.db.raw(`select count(*) as n from deliveries where status = 'pending'`);
  if (Number(cnt[0].n) !== total) throw new Error(`soak: expected ${total} pending deliveries, found ${cnt[0].n}`);
  log(`soak: inserted in ${fmt((now() - insertStart) / 1000, 1)} s; starting one worker`);

  const startedAt = now();
  const worker = await stack.startWorker();
  const pid = worker.child.pid!;
  const rssAtStart = rssMb(pid);
  const samples: Array<[number, number, number]> = []; // [seconds since start, delivered, RSS MB]
  const marks: Array<{ progress: number; seconds: number; rssMb: number; perSecond: number }> = [];
  let lastMark = { at: startedAt, delivered: 0 };
  const deadline = startedAt + 900_000;
  for (;;) {
    const s = await sink.stats();
    const rss = rssMb(pid);
    samples.push([Math.round((now() - startedAt) / 1000), s.received, Math.round(rss)]);
    while (marks.length < 10 && s.received >= ((marks.length + 1) * total) / 10) {
      const t = now();
      // Several marks crossed in one poll (a short run): the first gets the rate, the others repeat it.
      const span = s.received - lastMark.delivered;
      marks.push({
        progress: (marks.length + 1) * 10,
        seconds: Math.round((t - startedAt) / 100) / 10,
        rssMb: Math.round(rss),
        perSecond: span > 0 ? Math.round(span / ((t - lastMark.at) / 1000)) : marks[marks.length - 1]!.perSecond,
      });
      lastMark = { at: t, delivered: s.received };
      log(`soak: ${marks[marks.length - 1]!.progress} % at ${marks[marks.length - 1]!.seconds} s, ${fmt(marks[marks.length - 1]!.perSecond)}/s, RSS ${Math.round(rss)} MB`);
    }
    if (s.received >= total) break;
    if (worker.child.exitCode !== null) throw new Error(`soak: the worker exited:\n${worker.lines.slice(-20).join('\n')}`);
    if (now() > deadline) throw new Error(`soak: only ${s.received} of ${total} delivered after 900 s`);
    await sleep(250);
  }
  await waitUntil(
    'every soak delivery recorded',
    async () => {
      const { rows } = await stack.db.raw(`select count(*) as n from deliveries where status = 'succeeded'`);
      return Number(rows[0].n) === total;
    },
    120_000,
    250,
  );
  const s = await sink.stats();
  const rssAtEnd = rssMb(pid);
  const { rows: fin } = await stack.db.raw(
    `select (select count(*) from deliveries where status = 'succeeded') as ok, (select count(*) from deliveries) as all, (select count(*) from attempts) as attempts`,
  );
  const seconds = (s.lastAt - s.firstAt) / 1000;
  const steadyRss = samples.filter(([t, d]) => d >= total / 10 && t > 0).map(([, , r]) => r);
  const rssMid = marks[4]?.rssMb ?? NaN;
  const rss10 = marks[0]?.rssMb ?? NaN;
  const rssEndMark = marks[9]?.rssMb ?? NaN;
  // Flat: the end and the peak against the first half's median (not one early sample: a short
  // run's 10 % mark can fall while the heap is still warming up).
  const firstHalf = samples.filter(([, d]) => d >= total / 10 && d <= total / 2).map(([, , r]) => r).sort((a, b) => a - b);
  const baseline = firstHalf[Math.floor(firstHalf.length / 2)] ?? rss10;
  const flat = rssEndMark <= baseline * 1.15 && Math.max(...steadyRss) <= baseline * 1.25;
  const result = {
    total,
    delivered: s.received,
    unique: s.unique,
    dbSucceeded: Number(fin[0].ok),
    dbDeliveries: Number(fin[0].all),
    attempts: Number(fin[0].attempts),
    seconds,
    perSecond: Math.round(total / seconds),
    rssMb: { atLaunch: Math.round(rssAtStart), firstHalfMedian: baseline, at10: rss10, at50: rssMid, at100: rssEndMark, afterDrain: Math.round(rssAtEnd), steadyMax: Math.max(...steadyRss) },
    marks,
    samples,
  };
  log(`soak: ${fmt(total)} in ${fmt(seconds, 1)} s (${fmt(result.perSecond)}/s); RSS ${JSON.stringify(result.rssMb)}`);
  await worker.stop(15_000);
  const ok = result.delivered === total && result.unique === total && result.dbSucceeded === total && result.dbDeliveries === total;
  const rates = marks.map((m) => m.perSecond);
  const rows: Row[] = [
    { id: 'S1', what: `soak: ${fmt(total)} deliveries, one worker, deliveries/s (min–max per 10 %)`, result: `${fmt(result.perSecond)}/s (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})`, target: '', met: undefined },
    { id: 'S2', what: 'soak: worker RSS at 10 % / 50 % / 100 % (max)', result: `${rss10} / ${rssMid} / ${rssEndMark} MB (${result.rssMb.steadyMax})`, target: 'flat', met: flat },
    { id: 'S3', what: 'soak: succeeded in DB / counted at the receiver (distinct)', result: `${fmt(result.dbSucceeded)} / ${fmt(result.delivered)} (${fmt(result.unique)})`, target: fmt(total), met: ok },
  ];
  return { rows, result };
}

// ---- faults ------------------------------------------------------------------------------------

async function faults(): Promise<{ rows: Row[]; result: Record<string, unknown> }> {
  log('faults: private embedded Postgres');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-load-faults-'));
  fs.chmodSync(dataDir, 0o755);
  onCleanUp('embedded data directory', async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const pgLogger = createLogger({ level: 'warn', service: 'bench-pg' });
  const pgPort = await freePort();
  let pgServer: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port: pgPort, logger: pgLogger, database: 'herald' });
  onCleanUp('embedded postgres', async () => {
    await pgServer?.stop();
  });
  const sink = await startSink();
  // Every tenant has a healthy endpoint; tenants 0 and 1 also one that will hang for a while.
  const stack = await startStack({
    databaseUrl: pgServer.url,
    sink,
    workers: 2,
    webConcurrency: opt.webConcurrency,
    tenants: [['/f0/ok', '/f0/hang'], ['/f1/ok', '/f1/hang'], ['/f2/ok'], ['/f3/ok']],
    endpointTimeoutSeconds: 2,
    env: { WORKER_LEASE_SECONDS: '10' },
  });
  const body = messageBody('load.fault', 1024);
  const loadSeconds = 80;
  const windows: Record<string, { start: number; end: number }> = {};
  const t0 = now();
  log(`faults: load at ${opt.faultRate}/s for ${loadSeconds} s; kill -9 a worker at 10 s, restart Postgres at 25 s, hang /f0/hang and /f1/hang from 45 s to 65 s`);
  const loadP = runLoad({ url: stack.webUrl, tenants: stack.tenants, bodies: [body], connections: 32, seconds: loadSeconds, rate: opt.faultRate });
  const at = (s: number) => sleep(Math.max(0, t0 + s * 1000 - now()));

  await at(10);
  const victim = stack.workers[0]!;
  windows.kill = { start: now(), end: 0 };
  victim.child.kill('SIGKILL');
  await victim.exited;
  log(`faults: killed worker pid ${victim.child.pid} (-9); the other continues`);
  await at(15);
  await stack.startWorker();
  windows.kill.end = now();
  log('faults: replacement worker started');

  await at(25);
  windows.postgres = { start: now(), end: 0 };
  await pgServer.stop();
  pgServer = undefined;
  log('faults: Postgres stopped');
  await at(33);
  pgServer = await startEmbeddedPostgres({ dataDir, port: pgPort, logger: pgLogger, database: 'herald' });
  windows.postgres.end = now();
  log(`faults: Postgres started again (down ${fmt((windows.postgres.end - windows.postgres.start) / 1000, 1)} s)`);

  await at(45);
  windows.hang = { start: now(), end: 0 };
  await sink.hang(['/f0/hang', '/f1/hang']);
  log('faults: /f0/hang and /f1/hang now hang');
  await at(65);
  await sink.hang([]);
  windows.hang.end = now();
  log('faults: hanging receivers answer again');

  const load = await loadP;
  const loadEnd = now();
  log(`faults: load done: ${fmt(load.accepted)} accepted, ${load.non2xx} non-2xx, ${load.errors} socket errors`);

  // Healthy endpoints first: every delivery to /ok succeeded.
  const db = stack.db;
  await waitUntil(
    'deliveries to healthy endpoints',
    async () => {
      const { rows } = await db.raw(`select count(*) as n from deliveries d join endpoints e on e.id = d.endpoint_id where e.url like '%/ok' and d.status <> 'succeeded'`);
      return Number(rows[0].n) === 0;
    },
    120_000,
    250,
  );
  const healthyDrainedAfter = (now() - loadEnd) / 1000;
  // The hanging endpoints' timed-out deliveries, as the load ends: each scheduled for a retry
  // with its timeout attempt recorded.
  const { rows: hangRows } = await db.raw(
    `select count(*) filter (where d.status in ('pending', 'failed') and d.next_attempt_at > now()) as scheduled,
            count(*) filter (where d.status in ('pending', 'failed') and d.next_attempt_at > now()
                             and exists (select 1 from attempts a where a.delivery_id = d.id and a.error_kind = 'timeout')) as scheduled_with_timeout,
            count(*) filter (where d.status = 'succeeded') as succeeded,
            count(*) filter (where d.status not in ('pending', 'failed', 'succeeded')) as other,
            count(*) as total
     from deliveries d join endpoints e on e.id = d.endpoint_id where e.url like '%/hang'`,
  );
  const hangAtEnd = Object.fromEntries(Object.entries(hangRows[0] as Record<string, string>).map(([k, v]) => [k, Number(v)]));
  log(`faults: healthy endpoints drained ${fmt(healthyDrainedAfter, 1)} s after the load; hanging endpoints' deliveries now: ${JSON.stringify(hangAtEnd)}`);
  // Their retry comes ≥ 60 s after the timeout (± 20 %): wait for it, so "none lost" is checked
  // on delivered rows rather than on promises.
  await waitUntil(
    'the timed-out deliveries to be retried',
    async () => {
      const { rows } = await db.raw(`select count(*) as n from deliveries where status <> 'succeeded'`);
      return Number(rows[0].n) === 0;
    },
    150_000,
    500,
  );
  const allDrainedAfter = (now() - loadEnd) / 1000;
  const check = await checkDeliveries(db, sink, stack.tenants, load.ids);
  const ts = (ms: number) => new Date(ms).toISOString();
  const delayed: Record<string, number> = {};
  for (const [name, w] of Object.entries(windows)) {
    const { rows } = await db.raw(
      `select count(*) as n from deliveries d join messages m on m.id = d.message_id
       where m.created_at <= ?::timestamptz and d.completed_at > ?::timestamptz + interval '1 second'`,
      [ts(w.end), ts(w.end)],
    );
    delayed[name] = Number(rows[0].n);
  }
  const { rows: ac } = await db.raw(
    `select count(*) filter (where attempt_count > 1) as retried,
            (select count(*) from attempts where error_kind = 'timeout') as timeouts,
            (select json_object_agg(coalesce(error_kind, 'http ' || status_code), n) from
               (select error_kind, status_code, count(*) as n from attempts where outcome = 'failed' group by 1, 2) x) as failed_attempts
     from deliveries`,
  );
  // Answers other than 202 while Postgres was down (or reconnecting) vs at any other time.
  const outage = windows.postgres!;
  const inOutage = (t: number) => t >= outage.start - 1_000 && t <= outage.end + 5_000;
  const outageFailures = load.failures.filter(([t]) => inOutage(t));
  const otherFailures = load.failures.filter(([t]) => !inOutage(t));
  const afterRestart = load.failures.filter(([t]) => t > outage.end + 5_000).length;
  const alive = [stack.web, ...stack.workers.slice(1)].every((p) => p.child.exitCode === null && p.child.signalCode === null);
  const result = {
    rate: opt.faultRate,
    loadSeconds: load.seconds,
    accepted: load.accepted,
    windows: Object.fromEntries(Object.entries(windows).map(([k, w]) => [k, { startS: Math.round((w.start - t0) / 100) / 10, endS: Math.round((w.end - t0) / 100) / 10 }])),
    rejectedDuringOutage: { count: outageFailures.length, statuses: countBy(outageFailures.map(([, s]) => s)) },
    rejectedOtherwise: { count: otherFailures.length, statuses: countBy(otherFailures.map(([, s]) => s)) },
    rejectedAfterRestartSettled: afterRestart,
    healthyDrainedAfterSeconds: Math.round(healthyDrainedAfter * 10) / 10,
    allDrainedAfterSeconds: Math.round(allDrainedAfter * 10) / 10,
    hangingEndpointsAtLoadEnd: hangAtEnd,
    delayedPerWindow: delayed,
    retriedDeliveries: Number(ac[0].retried),
    timeoutAttempts: Number(ac[0].timeouts),
    failedAttempts: ac[0].failed_attempts,
    processesAlive: alive,
    check,
    workerWarnings: stack.workers.flatMap((w) => w.lines.filter((l) => l.includes('"level":"error"') || l.includes('"level":"warn"')).slice(0, 5).map((l) => `${w.name}: ${l.slice(0, 300)}`)),
    webWarnings: stack.web.lines.filter((l) => l.includes('"level":"error"') || l.includes('"level":"warn"')).slice(0, 5).map((l) => l.slice(0, 300)),
  };
  log(`faults: ${JSON.stringify({ ...result, workerWarnings: undefined, webWarnings: undefined })}`);
  const rows: Row[] = [
    { id: 'F1', what: `faults: accepted at ${opt.faultRate}/s for ${loadSeconds} s; refused while Postgres was down / otherwise`, result: `${fmt(load.accepted)}; ${outageFailures.length} / ${otherFailures.length}`, target: '– / 0', met: otherFailures.length === 0 },
    {
      id: 'F2',
      what: 'faults: delayed by kill -9 / Postgres restart / hang (delivered > 1 s after the window)',
      result: `${fmt(delayed.kill ?? 0)} / ${fmt(delayed.postgres ?? 0)} / ${fmt(delayed.hang ?? 0)}`,
      target: '',
      met: undefined,
    },
    { id: 'F3', what: 'faults: hanging endpoints at load end: scheduled retry with a timeout attempt / total', result: `${hangAtEnd.scheduled_with_timeout} / ${hangAtEnd.total}`, target: '', met: undefined },
    {
      id: 'F4',
      what: `faults: every accepted message delivered to every endpoint (${fmt(check.deliveries)} deliveries)`,
      result: `${check.missing} missing, ${check.notSucceeded} not succeeded, ${check.duplicated} duplicated`,
      target: '0 missing',
      met: checkOk(check, true, 32),
    },
    { id: 'F5', what: 'faults: web and workers reconnected by themselves (alive, accepting, delivering)', result: alive && afterRestart === 0 ? 'yes' : 'NO', target: 'yes', met: alive && afterRestart === 0 },
  ];
  return { rows, result };
}

// ---- the run -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  const pgVersion = await withClient(ADMIN_URL, async (c) => (await c.query('show server_version')).rows[0].server_version as string);
  const box = machine(pgVersion);
  log(`machine: ${box.cpus} cores (${box.cpuModel}), ${box.memoryGb} GB, node ${box.node}, Postgres ${pgVersion}, load average ${box.loadAverageAtStart.join(' ')}; mode ${mode}`);
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: cleaning up`);
    void cleanUpAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  let failed: unknown;
  const parts: Array<[string, () => Promise<{ rows: Row[]; result: Record<string, unknown> }>]> = [
    ['steady', steady],
    ['soak', soak],
    ['faults', faults],
  ];
  for (const [name, part] of parts) {
    if (mode !== 'all' && mode !== name) continue;
    const partStart = now();
    try {
      const r = await part();
      rows.push(...r.rows);
      results[name] = { ...r.result, elapsedSeconds: Math.round((now() - partStart) / 1000) };
    } catch (err) {
      failed = err;
      results[name] = { error: String((err as Error).stack ?? err) };
      log(`${name} failed: ${(err as Error).message}`);
    } finally {
      await cleanUpAll();
    }
  }
  const elapsed = Math.round((now() - started) / 1000);
  process.stdout.write(`\nHerald load, soak and faults — ${box.cpus} cores, node ${box.node}, Postgres ${pgVersion}, ${elapsed} s\n\n${table(rows)}\n\n`);
  const dir = path.join(ROOT, 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `load-${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ machine: box, mode, options: opt, elapsedSeconds: elapsed, rows, results }, null, 2)}\n`);
  process.stdout.write(`raw results: ${path.relative(ROOT, file)}\n`);
  if (failed) throw failed;
  if (rows.some((r) => r.met === false)) throw new Error('a check failed (see the table)');
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await cleanUpAll();
    process.stderr.write(`bench:load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
