import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { manualClock } from '../../src/clock.js';
import type { Deps } from '../../src/deps.js';
import { testDeps } from '../helpers/deps.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { apiClient, createTenant, type ApiClient } from './apiSetup.js';

let tdb: TestDb;
let deps: Deps;
const clock = manualClock('2026-11-15T12:00:00Z');

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
});
afterAll(async () => {
  await tdb.destroy();
});

async function setup(): Promise<{ api: ApiClient; resourceId: string; e1: string; e2: string; messages: string[] }> {
  const t = await createTenant(tdb.db, deps.config);
  const api = apiClient(createApp(deps), t.apiKey);
  const e1 = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/1' })).body.id;
  const e2 = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/2', event_types: ['only.this'] })).body.id;
  const messages: string[] = [];
  for (const type of ['only.this', 'other.one', 'only.this']) {
    messages.push((await api.post('/v1/messages', { event_type: type, data: {} })).body.id);
    clock.advance(1000);
  }
  return { api, resourceId: t.id, e1, e2, messages };
}

describe('GET /v1/deliveries', () => {
  it('lists newest first, filtered by endpoint, message and status, with pagination', async () => {
    const { api, e1, e2, messages } = await setup();
    const all = await api.get('/v1/deliveries');
    expect(all.status).toBe(200);
    expect(all.body.data).toHaveLength(5);
    expect(all.body.data[0].message_id).toBe(messages[2]);
    expect(all.body.data[4].message_id).toBe(messages[0]);

    const ofE2 = await api.get(`/v1/deliveries?endpoint_id=${e2}`);
    expect(ofE2.body.data.map((d: { message_id: string }) => d.message_id)).toEqual([messages[2], messages[0]]);
    const ofMsg = await api.get(`/v1/deliveries?message_id=${messages[1]}`);
    expect(ofMsg.body.data.map((d: { endpoint_id: string }) => d.endpoint_id)).toEqual([e1]);

    const d = ofE2.body.data[0].id;
    await tdb.db('deliveries').where({ id: d }).update({ status: 'dead' });
    const dead = await api.get('/v1/deliveries?status=dead');
    expect(dead.body.data.map((x: { id: string }) => x.id)).toEqual([d]);
    expect((await api.get(`/v1/deliveries?status=dead&endpoint_id=${e1}`)).body.data).toEqual([]);

    const p1 = await api.get('/v1/deliveries?limit=3');
    const p2 = await api.get(`/v1/deliveries?limit=3&cursor=${p1.body.next_cursor}`);
    const ids = [...p1.body.data, ...p2.body.data].map((x: { id: string }) => x.id);
    expect(ids).toEqual(all.body.data.map((x: { id: string }) => x.id));
    expect(p2.body.next_cursor).toBeNull();
  });

  it('validates the filters', async () => {
    const { api } = await setup();
    expect((await api.get('/v1/deliveries?status=lost')).status).toBe(400);
    expect((await api.get(`/v1/deliveries?endpoint_id=${randomUUID()}`)).status).toBe(404);
    expect((await api.get('/v1/deliveries?endpoint_id=bad')).status).toBe(404);
    expect((await api.get(`/v1/deliveries?message_id=${randomUUID()}`)).status).toBe(404);
  });
});

describe('GET /v1/deliveries/:id', () => {
  it('shows the delivery with its attempts in order', async () => {
    const { api, resourceId, e1, messages } = await setup();
    const d = (await api.get(`/v1/deliveries?message_id=${messages[1]}`)).body.data[0];
    for (const n of [2, 1]) {
      await tdb.db('attempts').insert({
        delivery_id: d.id,
        resource_id: resourceId,
        message_id: messages[1],
        endpoint_id: e1,
        attempt_number: n,
        attempted_at: new Date(Date.UTC(2026, 10, 15, 12, n)),
        url: 'http://127.0.0.1:9/1',
        status_code: n === 1 ? null : 200,
        duration_ms: 10 * n,
        error_kind: n === 1 ? 'timeout' : null,
        outcome: n === 1 ? 'failed' : 'succeeded',
      });
    }
    const res = await api.get(`/v1/deliveries/${d.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: d.id, endpoint_id: e1, message_id: messages[1], status: 'pending' });
    expect(res.body.attempts.map((a: { attempt_number: number; error_kind: string | null }) => [a.attempt_number, a.error_kind])).toEqual([
      [1, 'timeout'],
      [2, null],
    ]);
    expect((await api.get(`/v1/deliveries/${randomUUID()}`)).status).toBe(404);
    expect((await api.get('/v1/deliveries/123')).status).toBe(404);
  });
});

describe('POST /v1/deliveries/:id/retry', () => {
  it('makes the delivery pending and due now, clearing its lease', async () => {
    const { api, messages } = await setup();
    const d = (await api.get(`/v1/deliveries?message_id=${messages[1]}`)).body.data[0];
    await tdb.db('deliveries').where({ id: d.id }).update({
      status: 'dead',
      next_attempt_at: null,
      locked_until: '2026-11-15T13:00:00Z',
      locked_by: 'worker-1',
      completed_at: '2026-11-15T12:00:00Z',
      attempt_count: 8,
    });
    const res = await api.post(`/v1/deliveries/${d.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: d.id, status: 'pending', completed_at: null, attempt_count: 8 });
    const row = await tdb.db('deliveries').where({ id: d.id }).first();
    expect(row).toMatchObject({ status: 'pending', locked_until: null, locked_by: null, completed_at: null });
    expect(row.next_attempt_at.toISOString()).toBe(clock.now().toISOString());
    expect((await api.post(`/v1/deliveries/${randomUUID()}/retry`)).status).toBe(404);
  });
});
