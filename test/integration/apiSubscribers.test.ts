import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { manualClock } from '../../src/clock.js';
import type { Deps } from '../../src/deps.js';
import { testDeps } from '../helpers/deps.js';
import { createAttemptsFor } from '../helpers/factories.js';
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

async function newApi(): Promise<ApiClient> {
  const t = await createTenant(tdb.db, deps.config);
  return apiClient(createApp(deps), t.apiKey);
}

describe('subscribers', () => {
  it('creates, reads, updates and deletes', async () => {
    const api = await newApi();
    const created = await api.post('/v1/subscribers', { name: 'Acme', external_id: 'cus_1', metadata: { tier: 'gold' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Acme', external_id: 'cus_1', metadata: { tier: 'gold' } });
    const id = created.body.id;
    expect((await api.get(`/v1/subscribers/${id}`)).body).toEqual(created.body);

    const patched = await api.patch(`/v1/subscribers/${id}`, { name: 'Acme Inc', external_id: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Acme Inc', external_id: null, metadata: { tier: 'gold' } });

    expect((await api.delete(`/v1/subscribers/${id}`)).status).toBe(204);
    expect((await api.get(`/v1/subscribers/${id}`)).status).toBe(404);
    expect((await api.delete(`/v1/subscribers/${id}`)).status).toBe(404);
  });

  it('defaults metadata to {} and external_id to null', async () => {
    const api = await newApi();
    const res = await api.post('/v1/subscribers', { name: 'Solo' });
    expect(res.body).toMatchObject({ name: 'Solo', external_id: null, metadata: {} });
  });

  it('refuses a taken external_id with 409, on create and on update', async () => {
    const api = await newApi();
    await api.post('/v1/subscribers', { name: 'A', external_id: 'dup' }).expect(201);
    const again = await api.post('/v1/subscribers', { name: 'B', external_id: 'dup' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'external_id_taken', field: 'external_id' });
    expect(again.body.message).toContain('"dup"');
    const b = await api.post('/v1/subscribers', { name: 'B', external_id: 'other' });
    expect((await api.patch(`/v1/subscribers/${b.body.id}`, { external_id: 'dup' })).status).toBe(409);
    // Unique per resource only.
    const otherTenant = await newApi();
    expect((await otherTenant.post('/v1/subscribers', { name: 'A', external_id: 'dup' })).status).toBe(201);
  });

  it('validates fields', async () => {
    const api = await newApi();
    const cases: Array<[object, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ name: 'A', metadata: [1] }, 'metadata'],
      [{ name: 'A', metadata: 'x' }, 'metadata'],
      [{ name: 'A', external_id: 7 }, 'external_id'],
      [{ name: 'A', nickname: 'x' }, 'nickname'],
    ];
    for (const [body, field] of cases) {
      const res = await api.post('/v1/subscribers', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body).toMatchObject({ error: 'invalid_request', field });
    }
    const notObject = await api.post('/v1/subscribers').set('Content-Type', 'application/json').send('[1,2]');
    expect(notObject.status).toBe(400);
  });

  it('lists oldest first with cursor pagination', async () => {
    const api = await newApi();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await api.post('/v1/subscribers', { name: `S${i}` })).body.id);
      clock.advance(1000);
    }
    const p1 = await api.get('/v1/subscribers?limit=2');
    const p2 = await api.get(`/v1/subscribers?limit=2&cursor=${p1.body.next_cursor}`);
    const p3 = await api.get(`/v1/subscribers?limit=2&cursor=${p2.body.next_cursor}`);
    expect([...p1.body.data, ...p2.body.data, ...p3.body.data].map((s: { id: string }) => s.id)).toEqual(ids);
    expect(p3.body.next_cursor).toBeNull();
    const all = await api.get('/v1/subscribers');
    expect(all.body).toEqual({ data: expect.any(Array), next_cursor: null });
    expect(all.body.data).toHaveLength(5);
  });

  it("deleting a subscriber deletes its endpoints, their deliveries and attempts, and keeps everyone else's", async () => {
    const api = await newApi();
    const sub = (await api.post('/v1/subscribers', { name: 'A' })).body.id;
    const ep = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', subscriber_id: sub })).body.id;
    const own = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/y' })).body.id;
    await api.post('/v1/messages', { event_type: 'a.b', data: {} }).expect(202);
    await createAttemptsFor(tdb.db, await tdb.db('deliveries').whereIn('endpoint_id', [ep, own]));
    await api.delete(`/v1/subscribers/${sub}`).expect(204);
    expect((await api.get(`/v1/endpoints/${ep}`)).status).toBe(404);
    expect(await tdb.db('deliveries').where({ endpoint_id: ep })).toEqual([]);
    expect(await tdb.db('attempts').where({ endpoint_id: ep })).toEqual([]);
    expect(await tdb.db('deliveries').where({ endpoint_id: own })).toHaveLength(1);
    expect(await tdb.db('attempts').where({ endpoint_id: own })).toHaveLength(1);
  });

  it('answers 404 for malformed ids', async () => {
    const api = await newApi();
    expect((await api.get('/v1/subscribers/abc')).status).toBe(404);
    expect((await api.patch('/v1/subscribers/abc', { name: 'x' })).status).toBe(404);
    expect((await api.patch(`/v1/subscribers/${randomUUID()}`, { name: 'x' })).status).toBe(404);
  });
});

describe('event types', () => {
  it('lists the built-in types plus declared and used ones', async () => {
    const api = await newApi();
    const before = await api.get('/v1/event-types');
    expect(before.status).toBe(200);
    expect(before.body.data.map((t: { name: string }) => t.name)).toEqual(['herald.test', 'heroku.attach', 'heroku.deploy', 'heroku.detach']);
    expect(before.body.data[0]).toMatchObject({ builtin: true, created_at: null });

    const declared = await api.post('/v1/event-types', { name: 'invoice.paid', description: 'An invoice was paid' });
    expect(declared.status).toBe(201);
    expect(declared.body).toMatchObject({ name: 'invoice.paid', description: 'An invoice was paid', builtin: false });
    const redescribed = await api.post('/v1/event-types', { name: 'invoice.paid', description: 'Paid in full' });
    expect(redescribed.status).toBe(200);
    expect(redescribed.body.description).toBe('Paid in full');
    await api.post('/v1/messages', { event_type: 'user-profile.updated_v2', data: {} }).expect(202);

    const after = await api.get('/v1/event-types');
    expect(after.body.data.map((t: { name: string }) => t.name)).toEqual([
      'herald.test',
      'heroku.attach',
      'heroku.deploy',
      'heroku.detach',
      'invoice.paid',
      'user-profile.updated_v2',
    ]);
    const p1 = await api.get('/v1/event-types?limit=4');
    expect(p1.body.data).toHaveLength(4);
    const p2 = await api.get(`/v1/event-types?limit=4&cursor=${p1.body.next_cursor}`);
    expect(p2.body.data.map((t: { name: string }) => t.name)).toEqual(['invoice.paid', 'user-profile.updated_v2']);
    expect(p2.body.next_cursor).toBeNull();
  });

  it('validates names and refuses reserved ones', async () => {
    const api = await newApi();
    for (const name of ['', 'has space', 'a..b', '.a', 'a.', 'a.*', 'ü.x', 'x'.repeat(101)]) {
      const res = await api.post('/v1/event-types', { name });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
    }
    expect((await api.post('/v1/event-types', { name: 'x'.repeat(100) })).status).toBe(201);
    const reserved = await api.post('/v1/event-types', { name: 'heroku.deploy' });
    expect(reserved.status).toBe(422);
    expect(reserved.body.error).toBe('reserved_event_type');
  });
});
