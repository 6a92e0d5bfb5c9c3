import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { createEndpoint, createManyDeliveries, createResource } from '../helpers/factories.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { listeningWorkers, spawnWorker, waitUntil, type WorkerProcess } from '../helpers/workerProcess.js';

// Real worker processes (node + tsx), killed for real: what a dyno restart or a crash does.
let tdb: TestDb;
let receiver: Receiver;
const running: WorkerProcess[] = [];

beforeAll(async () => {
  tdb = await createTestDb();
  receiver = await startReceiver({ record: false });
});
afterAll(async () => {
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(running.map((w) => w.exited));
  await receiver.close();
  await tdb.destroy();
});
beforeEach(async () => {
  receiver.clear();
  await tdb.db.raw('truncate resources, subscribers, endpoints, messages, deliveries, attempts cascade');
});

function start(env: Record<string, string>): WorkerProcess {
  const w = spawnWorker(tdb.url, env);
  running.push(w);
  return w;
}

async function countByStatus(db: Knex): Promise<Record<string, number>> {
  const rows = await db('deliveries').select('status').count<{ status: string; count: number }[]>('* as count').groupBy('status');
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
}

/** How many times the receiver got each (webhook-id, endpoint path). */
function receipts(): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of receiver.requests) {
    const key = `${r.headers['webhook-id']} ${r.path}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

describe('worker processes', () => {
  it('two workers over 2,000 deliveries: each delivered exactly once', async () => {
    receiver.setDefault({ status: 200, delayMs: 5 });
    const env = { WORKER_CONCURRENCY: '40', WORKER_BATCH_SIZE: '50', WORKER_POLL_INTERVAL_MS: '200', LOG_LEVEL: 'debug' };
    const a = start(env);
    const b = start(env);
    await waitUntil('both workers listening', async () => (await listeningWorkers(tdb.db, tdb.name)) === 2);

    const resource = await createResource(tdb.db);
    const e1 = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/one` });
    const e2 = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/two` });
    // The same 1,000 messages to two endpoints: the same webhook-id must reach each endpoint once.
    const pairs = await createManyDeliveries(tdb.db, { resourceId: resource.id, endpointId: e1.id }, 1000);
    await tdb.db('deliveries').insert(
      pairs.map((p) => ({ id: randomUUID(), resource_id: resource.id, message_id: p.messageId, endpoint_id: e2.id, next_attempt_at: new Date() })),
    );
    await tdb.db.raw(`select pg_notify('herald_deliveries', '')`);

    await waitUntil('all 2,000 succeeded', async () => (await countByStatus(tdb.db)).succeeded === 2000, 25_000);
    const seen = receipts();
    expect(receiver.requests).toHaveLength(2000);
    expect(seen.size).toBe(2000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(await tdb.db('attempts').count<{ count: number }[]>('* as count')).toEqual([{ count: 2000 }]);

    // Both took part (their debug logs name what each delivered).
    const delivered = (w: WorkerProcess) => w.lines.filter((l) => l.includes('"message":"delivered"')).length;
    expect(delivered(a)).toBeGreaterThan(0);
    expect(delivered(b)).toBeGreaterThan(0);
    expect(delivered(a) + delivered(b)).toBe(2000);

    a.kill('SIGTERM');
    b.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });

  it('a worker killed with SIGKILL mid-batch: every delivery still arrives, after the lease', async () => {
    receiver.setDefault({ status: 200, delayMs: 300 });
    const resource = await createResource(tdb.db);
    const endpoint = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/slow` });
    const all = await createManyDeliveries(tdb.db, { resourceId: resource.id, endpointId: endpoint.id }, 300);
    const env = { WORKER_CONCURRENCY: '50', WORKER_BATCH_SIZE: '50', WORKER_POLL_INTERVAL_MS: '200', WORKER_LEASE_SECONDS: '5' };

    const victim = start(env);
    await receiver.waitFor(60, 15_000); // it has requests in flight now
    victim.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    const leased = await tdb.db('deliveries').whereNotNull('locked_by').count<{ count: number }[]>('* as count');
    expect(leased[0]!.count).toBeGreaterThan(0); // claims the dead worker never finished

    const rescuer = start(env);
    await waitUntil('all 300 succeeded', async () => (await countByStatus(tdb.db)).succeeded === 300, 25_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(4_000); // its claims waited out the lease
    const seen = receipts();
    for (const d of all) expect(seen.get(`msg_${d.messageId.replace(/-/g, '')} /slow`)).toBeGreaterThanOrEqual(1);
    expect(await tdb.db('deliveries').whereNotNull('locked_by')).toHaveLength(0);

    rescuer.kill('SIGTERM');
    expect((await rescuer.exited).code).toBe(0);
  });

  it('SIGTERM: in-flight requests finish and are recorded, nothing is claimed after, exit 0', async () => {
    receiver.setDefault({ status: 200, delayMs: 1500 });
    const resource = await createResource(tdb.db);
    const endpoint = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/term` });
    await createManyDeliveries(tdb.db, { resourceId: resource.id, endpointId: endpoint.id }, 20);
    const w = start({ WORKER_CONCURRENCY: '50', WORKER_POLL_INTERVAL_MS: '100' });
    await waitUntil('20 requests in flight', () => receiver.active === 20);

    const signalled = Date.now();
    w.kill('SIGTERM');
    await waitUntil('the worker to stop claiming', () => w.lines.some((l) => l.includes('"message":"worker stopping"')), 10_000);
    await createManyDeliveries(tdb.db, { resourceId: resource.id, endpointId: endpoint.id }, 10);
    await tdb.db.raw(`select pg_notify('herald_deliveries', '')`);

    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(30_000);
    expect(receiver.requests).toHaveLength(20);
    expect(await countByStatus(tdb.db)).toEqual({ succeeded: 20, pending: 10 });
    expect(await tdb.db('deliveries').where({ status: 'pending' }).whereNotNull('locked_by')).toHaveLength(0);
  });
});
