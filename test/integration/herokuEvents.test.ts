import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { herokuEventType } from '../../src/services/herokuEvents.js';
import { testDeps } from '../helpers/deps.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { apiClient, createTenant, type Tenant } from './apiSetup.js';

let tdb: TestDb;
let deps: Deps;
let basic: string;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db);
  basic = `Basic ${Buffer.from(`${deps.config.heroku.addonId}:${deps.config.heroku.apiPassword}`).toString('base64')}`;
});
afterAll(async () => {
  await tdb.destroy();
});

const deploy = {
  heroku_id: 'app123@heroku.com',
  event: 'deploy',
  detail: {
    app: 'myapp',
    user: 'dev@example.com',
    url: 'https://myapp.herokuapp.com',
    head: 'abc1234',
    head_long: 'abc1234abc1234abc1234abc1234abc1234abc12',
    prev_head: 'def5678def5678def5678def5678def5678def56',
    git_log: '  * dev: fix the thing',
  },
};

function post(id: string, body: unknown, auth = basic) {
  return request(createApp(deps)).post(`/heroku/resources/${id}/events`).set('Authorization', auth).send(body as object);
}

async function tenantWithEndpoints(): Promise<{ t: Tenant; all: string; herokuOnly: string; invoices: string }> {
  const t = await createTenant(tdb.db, deps.config);
  const api = apiClient(createApp(deps), t.apiKey);
  const all = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/all' })).body.id;
  const herokuOnly = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/heroku', event_types: ['heroku.*'] })).body.id;
  const invoices = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/inv', event_types: ['invoice.*'] })).body.id;
  return { t, all, herokuOnly, invoices };
}

describe('POST /heroku/resources/:id/events', () => {
  it('stores a deploy as a heroku.deploy message and fans it out like any other', async () => {
    const { t, all, herokuOnly } = await tenantWithEndpoints();
    const res = await post(t.id, deploy);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const msg = await tdb.db('messages').where({ resource_id: t.id }).first();
    expect(msg).toMatchObject({ event_type: 'heroku.deploy', source: 'heroku' });
    expect(msg.event_id).toMatch(/^heroku:[0-9a-f]{64}$/);
    expect(JSON.parse(msg.payload)).toEqual({ event: 'deploy', heroku_id: 'app123@heroku.com', detail: deploy.detail });
    const dels = await tdb.db('deliveries').where({ message_id: msg.id });
    expect(dels.map((d) => d.endpoint_id).sort()).toEqual([all, herokuOnly].sort());
    expect(dels.every((d) => d.status === 'pending')).toBe(true);
  });

  it('stores the same notification once, however often Heroku retries it (key order aside)', async () => {
    const { t } = await tenantWithEndpoints();
    const reordered = { detail: { ...deploy.detail }, event: 'deploy', heroku_id: 'app123@heroku.com' };
    const results = await Promise.all([post(t.id, deploy), post(t.id, deploy), post(t.id, reordered), post(t.id, deploy)]);
    for (const r of results) expect(r.status).toBe(200);
    expect(await tdb.db('messages').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 1 }]);
    expect(await tdb.db('deliveries').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 2 }]);
    // A different deploy is a different message.
    await post(t.id, { ...deploy, detail: { ...deploy.detail, head: 'fff0000' } }).expect(200);
    expect(await tdb.db('messages').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 2 }]);
  });

  it('stores attach and detach, drops the log token, and keeps unknown events', async () => {
    const { t } = await tenantWithEndpoints();
    const attach = {
      heroku_id: 'app123@heroku.com',
      event: 'attach',
      detail: { id: randomUUID(), name: 'HERALD_CYAN', log_token: 't.secret-log-token', resource: { id: t.id, name: 'herald-1' }, app: { id: randomUUID(), name: 'myapp' } },
    };
    await post(t.id, attach).expect(200);
    await post(t.id, { ...attach, event: 'detach' }).expect(200);
    await post(t.id, { heroku_id: 'app123@heroku.com', event: 'scale', detail: { web: 2 } }).expect(200);
    await post(t.id, { heroku_id: 'app123@heroku.com', event: 'weird event!', detail: {} }).expect(200);
    await post(t.id, { heroku_id: 'app123@heroku.com', event: 'Future_Thing', unknown_field: 1 }).expect(200);
    const rows = await tdb.db('messages').where({ resource_id: t.id }).orderBy('created_at');
    expect(rows.map((r) => r.event_type).sort()).toEqual(['heroku.attach', 'heroku.detach', 'heroku.future_thing', 'heroku.scale', 'heroku.unknown'].sort());
    const attached = rows.find((r) => r.event_type === 'heroku.attach');
    expect(attached.payload).not.toContain('secret-log-token');
    expect(JSON.parse(attached.payload).detail.name).toBe('HERALD_CYAN');
    const unknown = rows.find((r) => r.event_type === 'heroku.unknown');
    expect(JSON.parse(unknown.payload).event).toBe('weird event!');
    // New Heroku types show up as used, so customers can discover and subscribe to them.
    const types = (await apiClient(createApp(deps), t.apiKey).get('/v1/event-types')).body.data.map((x: { name: string }) => x.name);
    expect(types).toEqual(expect.arrayContaining(['heroku.scale', 'heroku.unknown']));
  });

  it('is not refused by the monthly quota (Heroku would only retry)', async () => {
    const t = await createTenant(tdb.db, deps.config, { plan: 'test' });
    await tdb.db('usage_counters').insert({ resource_id: t.id, period: new Date().toISOString().slice(0, 8) + '01', messages: 10_000 });
    await post(t.id, deploy).expect(200);
    expect(await tdb.db('messages').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it('checks the partner credentials first: 401 even for an unknown resource', async () => {
    const wrong = `Basic ${Buffer.from('herald:wrong').toString('base64')}`;
    const { t } = await tenantWithEndpoints();
    for (const id of [t.id, randomUUID(), 'nope']) {
      const res = await post(id, deploy, wrong);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
    expect((await request(createApp(deps)).post(`/heroku/resources/${t.id}/events`).send(deploy)).status).toBe(401);
    expect(await tdb.db('messages').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('answers 404 JSON for an unknown resource and 410 for a deprovisioned one', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const res = await post(id, deploy);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    }
    const gone = await createTenant(tdb.db, deps.config, { state: 'deprovisioned' });
    const res = await post(gone.id, deploy);
    expect(res.status).toBe(410);
    expect(res.body.error).toBe('gone');
  });

  it('answers 422 when event is missing or not a string, and 400 for malformed JSON', async () => {
    const { t } = await tenantWithEndpoints();
    for (const body of [{ heroku_id: 'x', detail: {} }, { event: '' }, { event: 5 }, { event: '   ' }, [1, 2]]) {
      const res = await post(t.id, body);
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      expect(res.body.error).toBe('invalid_event');
    }
    const bad = await request(createApp(deps))
      .post(`/heroku/resources/${t.id}/events`)
      .set('Authorization', basic)
      .set('Content-Type', 'application/json')
      .send('{"event": ');
    expect(bad.status).toBe(400);
    expect(await tdb.db('messages').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });
});

describe('herokuEventType', () => {
  it('maps event names to heroku.<event> or heroku.unknown', () => {
    expect(herokuEventType('deploy')).toBe('heroku.deploy');
    expect(herokuEventType('DETACH')).toBe('heroku.detach');
    expect(herokuEventType('app.rename')).toBe('heroku.unknown');
    expect(herokuEventType('x'.repeat(61))).toBe('heroku.unknown');
    expect(herokuEventType('drop; table')).toBe('heroku.unknown');
  });
});
