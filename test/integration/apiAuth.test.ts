import { deriveApiKey } from '../../src/apiKeys.js';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import request from 'supertest';
import { capturedLogs, testDeps } from '../helpers/deps.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { apiClient, createTenant, type ApiClient } from './apiSetup.js';

let tdb: TestDb;
let deps: Deps;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db);
});
afterAll(async () => {
  await tdb.destroy();
});

describe('API key authentication', () => {
  it('answers 401 JSON with a Bearer challenge when the key is missing, malformed or wrong', async () => {
    const app = createApp(deps);
    const t = await createTenant(tdb.db, deps.config);
    const attempts = [
      request(app).get('/v1/endpoints'),
      request(app).get('/v1/endpoints').set('Authorization', 'Bearer'),
      request(app).get('/v1/endpoints').set('Authorization', `Basic ${Buffer.from(`x:${t.apiKey}`).toString('base64')}`),
      request(app).get('/v1/endpoints').set('Authorization', `Bearer ${t.apiKey}x`),
      request(app).get('/v1/endpoints').set('Authorization', 'Bearer hrld_nope'),
      request(app).post('/v1/messages').send({ event_type: 'a.b', data: {} }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="herald"');
    }
    expect((await request(app).get('/v1/endpoints').set('Authorization', `Bearer ${t.apiKey}`)).status).toBe(200);
    expect((await request(app).get('/v1/endpoints').set('Authorization', `bearer  ${t.apiKey}`)).status).toBe(200);
  });

  it('refuses the key of a deprovisioned resource and a rotated-away key', async () => {
    const app = createApp(deps);
    const gone = await createTenant(tdb.db, deps.config, { state: 'deprovisioned' });
    expect((await request(app).get('/v1/endpoints').set('Authorization', `Bearer ${gone.apiKey}`)).status).toBe(401);
    const live = await createTenant(tdb.db, deps.config);
    const nextKey = deriveApiKey(deps.config.apiKeySecret, live.id, 2);
    expect((await request(app).get('/v1/endpoints').set('Authorization', `Bearer ${nextKey}`)).status).toBe(401);
  });

  it('never writes the API key to the logs', async () => {
    const t = await createTenant(tdb.db, deps.config);
    await request(createApp(deps)).get('/v1/nothing-here').set('Authorization', `Bearer ${t.apiKey}`);
    await request(createApp(deps)).get('/v1/endpoints').set('Authorization', `Bearer ${t.apiKey}`);
    expect(capturedLogs.length).toBeGreaterThan(0);
    expect(capturedLogs.join('\n')).not.toContain(t.apiKey);
  });
});

describe('tenant isolation', () => {
  let mine: ApiClient;
  let theirs: ApiClient;
  const their: Record<'subscriber' | 'endpoint' | 'message' | 'delivery', string> = { subscriber: '', endpoint: '', message: '', delivery: '' };
  let myEndpoint: string;

  beforeAll(async () => {
    const app = createApp(deps);
    mine = apiClient(app, (await createTenant(tdb.db, deps.config)).apiKey);
    theirs = apiClient(app, (await createTenant(tdb.db, deps.config)).apiKey);
    their.subscriber = (await theirs.post('/v1/subscribers', { name: 'Theirs' })).body.id;
    their.endpoint = (await theirs.post('/v1/endpoints', { url: 'http://127.0.0.1:9/theirs', subscriber_id: their.subscriber })).body.id;
    their.message = (await theirs.post('/v1/messages', { event_type: 'their.event', data: { secret: 'sauce' } })).body.id;
    their.delivery = (await theirs.get(`/v1/deliveries?message_id=${their.message}`)).body.data[0].id;
    myEndpoint = (await mine.post('/v1/endpoints', { url: 'http://127.0.0.1:9/mine' })).body.id;
  });

  it('answers 404 on every route given another resource’s ids', async () => {
    const s = their.subscriber;
    const e = their.endpoint;
    const m = their.message;
    const d = their.delivery;
    const calls: Array<[string, () => request.Test]> = [
      ['GET subscriber', () => mine.get(`/v1/subscribers/${s}`)],
      ['PATCH subscriber', () => mine.patch(`/v1/subscribers/${s}`, { name: 'Mine now' })],
      ['DELETE subscriber', () => mine.delete(`/v1/subscribers/${s}`)],
      ['GET endpoints by subscriber', () => mine.get(`/v1/endpoints?subscriber_id=${s}`)],
      ['POST endpoint for subscriber', () => mine.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', subscriber_id: s })],
      ['PATCH my endpoint to subscriber', () => mine.patch(`/v1/endpoints/${myEndpoint}`, { subscriber_id: s })],
      ['GET endpoint', () => mine.get(`/v1/endpoints/${e}`)],
      ['PATCH endpoint', () => mine.patch(`/v1/endpoints/${e}`, { url: 'http://127.0.0.1:9/stolen' })],
      ['DELETE endpoint', () => mine.delete(`/v1/endpoints/${e}`)],
      ['GET secret', () => mine.get(`/v1/endpoints/${e}/secret`)],
      ['rotate secret', () => mine.post(`/v1/endpoints/${e}/secret/rotate`)],
      ['recover', () => mine.post(`/v1/endpoints/${e}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() })],
      ['test', () => mine.post(`/v1/endpoints/${e}/test`)],
      ['send to endpoint', () => mine.post('/v1/messages', { event_type: 'a.b', data: {}, endpoint_id: e })],
      ['send to subscriber', () => mine.post('/v1/messages', { event_type: 'a.b', data: {}, subscriber_id: s })],
      ['GET message', () => mine.get(`/v1/messages/${m}`)],
      ['GET deliveries by endpoint', () => mine.get(`/v1/deliveries?endpoint_id=${e}`)],
      ['GET deliveries by message', () => mine.get(`/v1/deliveries?message_id=${m}`)],
      ['GET delivery', () => mine.get(`/v1/deliveries/${d}`)],
      ['retry delivery', () => mine.post(`/v1/deliveries/${d}/retry`)],
    ];
    for (const [name, call] of calls) {
      const res = await call();
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 404, error: 'not_found' });
    }
  });

  it('leaves the other resource’s data untouched and out of every list', async () => {
    expect((await theirs.get(`/v1/subscribers/${their.subscriber}`)).body.name).toBe('Theirs');
    const endpoint = (await theirs.get(`/v1/endpoints/${their.endpoint}`)).body;
    expect(endpoint.url).toBe('http://127.0.0.1:9/theirs');
    expect((await theirs.get(`/v1/deliveries/${their.delivery}`)).status).toBe(200);
    for (const path of ['/v1/subscribers', '/v1/endpoints', '/v1/messages', '/v1/deliveries', '/v1/event-types']) {
      const res = await mine.get(path);
      expect(res.status).toBe(200);
      const text = JSON.stringify(res.body);
      for (const id of Object.values(their)) expect(text).not.toContain(id);
      expect(text).not.toContain('their.event');
    }
  });
});
