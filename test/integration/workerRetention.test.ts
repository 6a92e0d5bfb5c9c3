import { manualClock } from '../../src/clock.js';
import { runRetention } from '../../src/delivery/retention.js';
import { testDeps } from '../helpers/deps.js';
import { createDelivery, createEndpoint, createMessage, createResource, createSubscriber } from '../helpers/factories.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb.destroy();
});
beforeEach(async () => {
  await tdb.db.raw('truncate resources, subscribers, endpoints, messages, deliveries, attempts, event_types, usage_counters cascade');
});

const DAY = 24 * 3600 * 1000;
const NOW = new Date('2026-06-15T12:00:00Z');

async function addAttempt(delivery: { id: string; resourceId: string; messageId: string; endpointId: string }, attemptedAt: Date, n = 1) {
  await tdb.db('attempts').insert({
    delivery_id: delivery.id,
    resource_id: delivery.resourceId,
    message_id: delivery.messageId,
    endpoint_id: delivery.endpointId,
    attempt_number: n,
    attempted_at: attemptedAt,
    url: 'http://example.com/',
    duration_ms: 5,
    outcome: 'failed',
  });
}

/** A message `ageDays` old with one delivery in `status` and one attempt as old as the message. */
async function aged(resourceId: string, endpointId: string, ageDays: number, status: 'succeeded' | 'failed' | 'dead' = 'succeeded') {
  const at = new Date(NOW.getTime() - ageDays * DAY);
  const m = await createMessage(tdb.db, resourceId, { createdAt: at });
  const d = await createDelivery(tdb.db, { resourceId, messageId: m.id, endpointId }, { status, createdAt: at, nextAttemptAt: status === 'failed' ? NOW : null });
  await addAttempt(d, at);
  return { message: m, delivery: d };
}

const exists = async (table: string, id: string) => (await tdb.db(table).where({ id }).first()) !== undefined;

describe('retention', () => {
  it("deletes messages, deliveries and attempts older than the plan's retention, per resource", async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(NOW) });
    const test = await createResource(tdb.db, { plan: 'test' }); // 3 days
    const basic = await createResource(tdb.db, { plan: 'basic' }); // 30 days
    const te = await createEndpoint(tdb.db, test.id);
    const be = await createEndpoint(tdb.db, basic.id);

    const testOld = await aged(test.id, te.id, 4);
    const testYoung = await aged(test.id, te.id, 2);
    const testRetrying = await aged(test.id, te.id, 4, 'failed');
    const basicOld = await aged(basic.id, be.id, 29);
    const basicExpired = await aged(basic.id, be.id, 31, 'dead');
    await addAttempt(basicExpired.delivery, new Date(NOW.getTime() - 1 * DAY), 2);

    const counts = await runRetention(deps);
    expect(counts.incomplete).toBe(false);

    expect(await exists('messages', testOld.message.id)).toBe(false);
    expect(await exists('deliveries', testOld.delivery.id)).toBe(false);
    expect(await exists('messages', testYoung.message.id)).toBe(true);
    // Still being retried: kept whatever its age, so retention never cuts a delivery short.
    expect(await exists('messages', testRetrying.message.id)).toBe(true);
    expect(await exists('deliveries', testRetrying.delivery.id)).toBe(true);
    // …though its expired attempts go.
    expect(await tdb.db('attempts').where({ delivery_id: testRetrying.delivery.id })).toHaveLength(0);
    expect(await exists('messages', basicOld.message.id)).toBe(true);
    expect(await exists('messages', basicExpired.message.id)).toBe(false);
    expect(await exists('deliveries', basicExpired.delivery.id)).toBe(false);
    // Its last attempt was young (a late retry): it goes with its delivery, not by its own age.
    expect(await tdb.db('attempts').where({ delivery_id: basicExpired.delivery.id })).toHaveLength(0);

    expect(await tdb.db('attempts').where({ delivery_id: testYoung.delivery.id })).toHaveLength(1);
    expect(await tdb.db('attempts').where({ delivery_id: basicOld.delivery.id })).toHaveLength(1);
    expect(counts.messages).toBe(2);
    expect(counts.attempts).toBe(3); // test: old + retrying; basic: expired
  });

  it('works in bounded batches and carries on in the next pass when its budget runs out', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(NOW) });
    const r = await createResource(tdb.db, { plan: 'test' });
    const e = await createEndpoint(tdb.db, r.id);
    for (let i = 0; i < 7; i++) await aged(r.id, e.id, 10);

    const statements: string[] = [];
    const onQuery = (q: { sql: string }) => statements.push(q.sql);
    tdb.db.on('query', onQuery);
    let first;
    try {
      first = await runRetention(deps, { batchSize: 2, maxStatements: 3 });
    } finally {
      tdb.db.off('query', onQuery);
    }
    expect(first.incomplete).toBe(true);
    expect(statements.filter((s) => s.startsWith('delete')).length).toBe(3);
    expect(statements.every((s) => !s.startsWith('delete') || /limit (\?|\$\d+)/.test(s))).toBe(true);
    expect(first.attempts).toBe(6); // 3 statements of 2
    expect(await tdb.db('messages').where({ resource_id: r.id })).toHaveLength(7);

    const second = await runRetention(deps, { batchSize: 2, maxStatements: 100 });
    expect(second.incomplete).toBe(false);
    expect(second.attempts).toBe(1);
    expect(second.messages).toBe(7);
    expect(await tdb.db('messages').where({ resource_id: r.id })).toHaveLength(0);
  });

  it('purges every row of a deprovisioned resource and keeps its tombstone', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(NOW) });
    const gone = await createResource(tdb.db, { plan: 'pro', state: 'deprovisioned' });
    const live = await createResource(tdb.db, { plan: 'pro' });
    for (const r of [gone, live]) {
      const s = await createSubscriber(tdb.db, r.id);
      const e = await createEndpoint(tdb.db, r.id, { subscriberId: s.id });
      for (let i = 0; i < 3; i++) await aged(r.id, e.id, 0.1, i === 0 ? 'failed' : 'succeeded');
      await tdb.db('event_types').insert({ resource_id: r.id, name: 'invoice.paid' });
      await tdb.db('usage_counters').insert({ resource_id: r.id, period: '2026-06-01', messages: 3 });
    }

    const counts = await runRetention(deps, { batchSize: 2 });
    expect(counts.purged).toEqual({ attempts: 3, deliveries: 3, messages: 3, endpoints: 1, subscribers: 1, event_types: 1, usage_counters: 1 });
    for (const table of ['attempts', 'deliveries', 'messages', 'endpoints', 'subscribers', 'event_types', 'usage_counters']) {
      expect(await tdb.db(table).where({ resource_id: gone.id })).toHaveLength(0);
      expect((await tdb.db(table).where({ resource_id: live.id })).length).toBeGreaterThan(0);
    }
    expect(await tdb.db('resources').where({ id: gone.id }).first()).toMatchObject({ state: 'deprovisioned' });
  });
});
