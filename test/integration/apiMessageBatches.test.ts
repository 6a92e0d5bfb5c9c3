import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { insertMessagesFanOut, type NewMessage } from '../../src/db/messages.js';
import type { Deps } from '../../src/deps.js';
import { batcherFor } from '../../src/services/messageBatcher.js';
import { testDeps } from '../helpers/deps.js';
import { usageOf } from '../helpers/factories.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { apiClient, createTenant } from './apiSetup.js';

/** Sends arriving together are written together (services/messageBatcher.ts); these pin that down. */
let tdb: TestDb;
let deps: Deps;

beforeAll(async () => {
  tdb = await createTestDb({ poolMax: 20 });
  deps = testDeps(tdb.db);
});
afterAll(async () => {
  await tdb.destroy();
});

function newMessage(resourceId: string, over: Partial<NewMessage> = {}): NewMessage {
  const now = new Date();
  return {
    id: randomUUID(),
    resourceId,
    eventType: 'batch.test',
    eventId: null,
    version: null,
    payload: '{}',
    subscriberId: null,
    endpointId: null,
    source: 'api',
    createdAt: now,
    period: `${now.toISOString().slice(0, 7)}-01`,
    quota: null,
    ignoreFilters: false,
    ...over,
  };
}

it('keeps tenants apart when their messages share a statement', async () => {
  const app = createApp(deps);
  const tenants = await Promise.all([0, 1, 2].map(() => createTenant(tdb.db, deps.config)));
  const apis = tenants.map((t) => apiClient(app, t.apiKey));
  const endpointsOf = await Promise.all(
    apis.map(async (api, i) => {
      const ids: string[] = [];
      for (let k = 0; k <= i; k++) ids.push((await api.post('/v1/endpoints', { url: `http://127.0.0.1:9/${i}/${k}` })).body.id);
      return ids;
    }),
  );
  const sends = Array.from({ length: 60 }, (_, n) => ({ who: n % 3, res: apis[n % 3]!.post('/v1/messages', { event_type: 'mixed.batch', data: { n } }) }));
  const results = await Promise.all(sends.map(async (s) => ({ who: s.who, res: await s.res })));
  for (const { who, res } of results) {
    expect(res.status).toBe(202);
    expect(res.body.deliveries).toBe(who + 1);
    const dels = await tdb.db('deliveries').where({ message_id: res.body.id });
    expect(dels.map((d) => d.endpoint_id).sort()).toEqual([...endpointsOf[who]!].sort());
    expect(dels.every((d) => d.resource_id === tenants[who]!.id)).toBe(true);
  }
  for (const t of tenants) {
    expect(await usageOf(tdb.db, t.id)).toBe(20);
  }
});

it('fails only the culprit when one message of a batch cannot be stored', async () => {
  const t = await createTenant(tdb.db, deps.config);
  const batcher = batcherFor(tdb.db);
  const good = Array.from({ length: 6 }, () => newMessage(t.id));
  // A resource that does not exist violates the messages foreign key: the whole statement fails.
  const bad = newMessage(randomUUID());
  const outcomes = await Promise.allSettled([...good.slice(0, 3), bad, ...good.slice(3)].map((m) => batcher.submit(m)));
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  expect(await tdb.db('messages').whereIn('id', good.map((m) => m.id)).count({ n: '*' })).toEqual([{ n: 6 }]);
});

it('admits messages of a batch in order until the quota is reached', async () => {
  const t = await createTenant(tdb.db, deps.config);
  const period = '2026-11-01';
  await tdb.db('usage_counters').insert({ resource_id: t.id, period, messages: 97 });
  const batch = Array.from({ length: 10 }, () => newMessage(t.id, { quota: 100, period }));
  const results = await insertMessagesFanOut(tdb.db, batch);
  expect(results.map((r) => r.inserted)).toEqual([true, true, true, false, false, false, false, false, false, false]);
  expect(await usageOf(tdb.db, t.id, period)).toBe(100);
});

it('stores one message per event_id even within one statement', async () => {
  const t = await createTenant(tdb.db, deps.config);
  const batch = [newMessage(t.id, { eventId: 'same' }), newMessage(t.id, { eventId: 'same' }), newMessage(t.id, { eventId: 'other' })];
  const results = await insertMessagesFanOut(tdb.db, batch);
  expect(results.map((r) => r.inserted)).toEqual([true, false, true]);
  expect(await usageOf(tdb.db, t.id)).toBe(2);
});

it('keeps the usage count in shards, so two statements of one resource do not wait on each other', async () => {
  const t = await createTenant(tdb.db, deps.config);
  // The event type is recorded by a first, committed message: a new type's row would be a lock of
  // its own between two uncommitted statements (once per type, not per message).
  await insertMessagesFanOut(tdb.db, [newMessage(t.id)], { usageShard: 5 });
  const trx = await tdb.db.transaction();
  try {
    // Uncommitted: holds the lock on shard 0 of this resource's counter.
    await insertMessagesFanOut(trx, [newMessage(t.id)], { usageShard: 0 });
    // Another shard goes through at once; with one counter row it would wait for the commit (and
    // here fail on the lock timeout instead of hanging).
    const other = await tdb.db.transaction(async (t2) => {
      await t2.raw(`set local lock_timeout = '2s'`);
      return insertMessagesFanOut(t2, [newMessage(t.id), newMessage(t.id)], { usageShard: 1 });
    });
    expect(other.map((r) => r.inserted)).toEqual([true, true]);
    await trx.commit();
  } catch (err) {
    await trx.rollback();
    throw err;
  }
  expect(await usageOf(tdb.db, t.id)).toBe(4);
  // The quota reads the sum of the shards.
  const period = newMessage(t.id).period;
  const gated = await insertMessagesFanOut(tdb.db, [newMessage(t.id, { quota: 5 }), newMessage(t.id, { quota: 5 })], { usageShard: 2 });
  expect(gated.map((r) => r.inserted)).toEqual([true, false]);
  expect(await usageOf(tdb.db, t.id, period)).toBe(5);
  expect(await tdb.db('usage_counters').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 4 }]);
});
