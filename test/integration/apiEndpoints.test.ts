import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { manualClock } from '../../src/clock.js';
import type { Deps } from '../../src/deps.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import { isValidEndpointSecret } from '../../src/signing.js';
import type { Resolver } from '../../src/ssrf.js';
import { testDeps } from '../helpers/deps.js';
import { createAttemptsFor } from '../helpers/factories.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { apiClient, createTenant, type ApiClient, type Tenant } from './apiSetup.js';

let tdb: TestDb;
let deps: Deps;
const clock = manualClock('2026-11-15T12:00:00Z');

/** A fake DNS: no test depends on the machine's resolver. */
const fakeDns: Resolver = async (host) => {
  const table: Record<string, string> = {
    localhost: '127.0.0.1',
    'hooks.slack.com': '52.1.2.3',
    'discord.com': '162.159.1.2',
    'discordapp.com': '162.159.1.3',
    'public.example': '93.184.216.34',
    'internal.example': '10.1.2.3',
    'metadata.example': '169.254.169.254',
  };
  const address = table[host];
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return [{ address, family: 4 }];
};

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
  setUrlResolver(fakeDns);
});
afterAll(async () => {
  setUrlResolver(undefined);
  await tdb.destroy();
});

async function tenant(plan = 'basic', d: Deps = deps): Promise<{ t: Tenant; api: ApiClient }> {
  const t = await createTenant(tdb.db, d.config, { plan });
  return { t, api: apiClient(createApp(d), t.apiKey) };
}

const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXX';
const DISCORD = 'https://discord.com/api/webhooks/123/abc';

describe('endpoints CRUD', () => {
  it('creates an endpoint with defaults and returns its secret once', async () => {
    const { api } = await tenant();
    const res = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/hook' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      url: 'http://127.0.0.1:9/hook',
      description: '',
      subscriber_id: null,
      event_types: [],
      format: 'standard',
      active: true,
      version: null,
      headers: {},
      timeout: 15,
    });
    expect(isValidEndpointSecret(res.body.secret)).toBe(true);
    const row = await tdb.db('endpoints').where({ id: res.body.id }).first();
    expect(row.timeout_ms).toBe(15_000);
    expect(row.secret).toBe(res.body.secret);

    const got = await api.get(`/v1/endpoints/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('secret');
    expect(JSON.stringify(got.body)).not.toContain(res.body.secret);
    const list = await api.get('/v1/endpoints');
    expect(JSON.stringify(list.body)).not.toContain(res.body.secret);
    expect(list.body.data.map((e: { id: string }) => e.id)).toEqual([res.body.id]);
  });

  it('stores every field, and updates them with PATCH', async () => {
    const { api } = await tenant();
    const sub = (await api.post('/v1/subscribers', { name: 'Acme' })).body.id;
    const res = await api.post('/v1/endpoints', {
      url: 'https://public.example/hooks',
      description: 'orders',
      subscriber_id: sub,
      event_types: ['invoice.*', 'user.created', 'user.created'],
      format: 'standard',
      active: false,
      version: '1.0',
      headers: { 'X-Api-Token': 'abc', Authorization: 'Bearer t' },
      timeout: 30,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      subscriber_id: sub,
      event_types: ['invoice.*', 'user.created'],
      active: false,
      disabled_reason: 'manual',
      version: '1.0',
      headers: { 'X-Api-Token': 'abc', Authorization: 'Bearer t' },
      timeout: 30,
    });
    const id = res.body.id;
    const patched = await api.patch(`/v1/endpoints/${id}`, {
      active: true,
      version: null,
      timeout: 5,
      event_types: [],
      subscriber_id: null,
      description: 'all',
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      active: true,
      disabled_reason: null,
      version: null,
      timeout: 5,
      event_types: [],
      subscriber_id: null,
      description: 'all',
      url: 'https://public.example/hooks',
    });
    const off = await api.patch(`/v1/endpoints/${id}`, { active: false });
    expect(off.body).toMatchObject({ active: false, disabled_reason: 'manual', disabled_at: '2026-11-15T12:00:00.000Z' });
  });

  it('lists with a subscriber filter and cursor pagination', async () => {
    const { api } = await tenant();
    const sub = (await api.post('/v1/subscribers', { name: 'Acme' })).body.id;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await api.post('/v1/endpoints', { url: `http://127.0.0.1:9/${i}`, subscriber_id: i < 2 ? sub : null })).body.id);
    }
    const p1 = await api.get('/v1/endpoints?limit=3');
    const p2 = await api.get(`/v1/endpoints?limit=3&cursor=${p1.body.next_cursor}`);
    // The clock stands still, so all share created_at and the id decides the order.
    expect([...p1.body.data, ...p2.body.data].map((e: { id: string }) => e.id)).toEqual([...ids].sort());
    expect(p2.body.next_cursor).toBeNull();
    const bySub = await api.get(`/v1/endpoints?subscriber_id=${sub}`);
    expect(bySub.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(0, 2).sort());
    expect((await api.get(`/v1/endpoints?subscriber_id=${randomUUID()}`)).status).toBe(404);
  });

  it('deletes an endpoint with its deliveries and their attempts, and nothing of another endpoint', async () => {
    const { api } = await tenant();
    const id = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' })).body.id;
    const other = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/y' })).body.id;
    await api.post('/v1/messages', { event_type: 'a.b', data: {} }).expect(202);
    await createAttemptsFor(tdb.db, await tdb.db('deliveries').whereIn('endpoint_id', [id, other]));
    expect((await api.delete(`/v1/endpoints/${id}`)).status).toBe(204);
    expect(await tdb.db('attempts').where({ endpoint_id: id })).toEqual([]);
    expect(await tdb.db('deliveries').where({ endpoint_id: other })).toHaveLength(1);
    expect(await tdb.db('attempts').where({ endpoint_id: other })).toHaveLength(1);
    expect((await api.get(`/v1/endpoints/${id}`)).status).toBe(404);
    expect((await api.delete(`/v1/endpoints/${id}`)).status).toBe(404);
    expect(await tdb.db('deliveries').where({ endpoint_id: id })).toEqual([]);
  });

  it('answers 404 for unknown, malformed and foreign ids', async () => {
    const { api } = await tenant();
    const { api: other } = await tenant();
    const foreign = (await other.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' })).body.id;
    for (const id of [randomUUID(), 'nope', '1', foreign]) {
      expect((await api.get(`/v1/endpoints/${id}`)).status).toBe(404);
    }
    const ownSub = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', subscriber_id: 'not-a-uuid' });
    expect(ownSub.status).toBe(404);
  });
});

describe('endpoint validation', () => {
  it('names the bad field', async () => {
    const { api } = await tenant();
    const cases: Array<[object, string]> = [
      [{}, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url: 'ftp://public.example/x' }, 'url'],
      [{ url: 'http://127.0.0.1:9/x', format: 'xml' }, 'format'],
      [{ url: 'http://127.0.0.1:9/x', timeout: 0 }, 'timeout'],
      [{ url: 'http://127.0.0.1:9/x', timeout: 31 }, 'timeout'],
      [{ url: 'http://127.0.0.1:9/x', timeout: 2.5 }, 'timeout'],
      [{ url: 'http://127.0.0.1:9/x', timeout: '10' }, 'timeout'],
      [{ url: 'http://127.0.0.1:9/x', event_types: ['bad name'] }, 'event_types'],
      [{ url: 'http://127.0.0.1:9/x', event_types: ['*'] }, 'event_types'],
      [{ url: 'http://127.0.0.1:9/x', event_types: 'a.b' }, 'event_types'],
      [{ url: 'http://127.0.0.1:9/x', active: 'yes' }, 'active'],
      [{ url: 'http://127.0.0.1:9/x', headers: ['x'] }, 'headers'],
      [{ url: 'http://127.0.0.1:9/x', secret: 'plain' }, 'secret'],
      [{ url: 'http://127.0.0.1:9/x', colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await api.post('/v1/endpoints', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.message.startsWith(`${field}:`)).toBe(true);
    }
  });

  it('refuses hop-by-hop, signature and body headers, and bad header names or values', async () => {
    const { api } = await tenant();
    const bad = [
      { Connection: 'close' },
      { 'Transfer-Encoding': 'chunked' },
      { Host: 'evil.example' },
      { 'Content-Type': 'text/plain' },
      { 'content-length': '1' },
      { 'Webhook-Signature': 'v1,forged' },
      { 'webhook-id': 'x' },
      { Upgrade: 'websocket' },
      { 'Proxy-Authorization': 'x' },
      { 'Bad Name': 'x' },
      { 'X-Ok': 'line\r\nInjected: yes' },
      { 'X-Ok': 5 },
      { 'X-Dup': 'a', 'x-dup': 'b' },
    ];
    for (const headers of bad) {
      const res = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', headers });
      expect({ headers, status: res.status }).toEqual({ headers, status: 400 });
      expect(res.body.message).toMatch(/^headers:/);
    }
    const ok = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', headers: { 'X-Tenant': 'acme', 'User-Agent': 'mine' } });
    expect(ok.status).toBe(201);
  });

  it('requires a Slack or Discord webhook URL for those formats, and says so', async () => {
    const { api } = await tenant();
    const slackWrong = await api.post('/v1/endpoints', { url: 'https://public.example/services/x', format: 'slack' });
    expect(slackWrong.status).toBe(400);
    expect(slackWrong.body.message).toContain('https://hooks.slack.com/services/');
    const slackHttp = await api.post('/v1/endpoints', { url: 'http://hooks.slack.com/services/x', format: 'slack' });
    expect(slackHttp.status).toBe(400);
    const discordWrong = await api.post('/v1/endpoints', { url: SLACK, format: 'discord' });
    expect(discordWrong.status).toBe(400);
    expect(discordWrong.body.message).toContain('https://discord.com/api/webhooks/');

    expect((await api.post('/v1/endpoints', { url: SLACK, format: 'slack' })).status).toBe(201);
    expect((await api.post('/v1/endpoints', { url: DISCORD, format: 'discord' })).status).toBe(201);
    const legacy = await api.post('/v1/endpoints', { url: 'https://discordapp.com/api/webhooks/1/x', format: 'discord' });
    expect(legacy.status).toBe(201);
    // Changing only the format re-checks the stored URL against it.
    const switched = await api.patch(`/v1/endpoints/${legacy.body.id}`, { format: 'slack' });
    expect(switched.status).toBe(400);
  });

  it('requires https in production', async () => {
    // Production config needs every secret set; ALLOW_PRIVATE_TARGETS is refused there.
    const prod = testDeps(tdb.db, {
      clock,
      env: {
        NODE_ENV: 'production',
        ALLOW_PRIVATE_TARGETS: 'false',
        DATABASE_URL: 'postgres://x@127.0.0.1/x',
        PUBLIC_URL: 'https://herald.example.com',
        HEROKU_API_PASSWORD: 'p'.repeat(32),
        HEROKU_SSO_SALT: 's'.repeat(32),
        SESSION_SECRET: 'k'.repeat(40),
        API_KEY_SECRET: 'a'.repeat(40),
      },
    });
    const { api } = await tenant('basic', prod);
    const plain = await api.post('/v1/endpoints', { url: 'http://public.example/hook' });
    expect(plain.status).toBe(400);
    expect(plain.body.message).toBe('url: must be an https:// URL');
    expect((await api.post('/v1/endpoints', { url: 'https://public.example/hook' })).status).toBe(201);
  });
});

describe('SSRF refusals at save time', () => {
  let api: ApiClient;
  beforeAll(async () => {
    ({ api } = await tenant('basic', testDeps(tdb.db, { clock, env: { ALLOW_PRIVATE_TARGETS: 'false' } })));
  });

  it.each([
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://localhost:3000/hook', 'localhost resolves to 127.0.0.1 is a loopback address'],
    ['http://[::1]/hook', 'loopback'],
    ['http://10.0.0.5/hook', 'private'],
    ['http://192.168.1.1/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data', 'linkLocal'],
    ['http://2130706433/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:a9fe:a9fe]/', 'linkLocal'],
    ['http://internal.example/hook', '10.1.2.3'],
    ['http://metadata.example/hook', '169.254.169.254'],
  ])('refuses %s with 422 url_not_allowed', async (url, why) => {
    const res = await api.post('/v1/endpoints', { url });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('url_not_allowed');
    expect(res.body.message).toMatch(/^url: /);
    expect(res.body.message).toContain(why);
  });

  it('refuses a host that does not resolve with 422', async () => {
    const res = await api.post('/v1/endpoints', { url: 'https://no-such-host.invalid/hook' });
    expect(res.status).toBe(422);
    expect(res.body.message).toContain('could not be resolved');
  });

  it('accepts a public host, and checks a changed URL again on PATCH', async () => {
    const ok = await api.post('/v1/endpoints', { url: 'https://public.example/hook' });
    expect(ok.status).toBe(201);
    const moved = await api.patch(`/v1/endpoints/${ok.body.id}`, { url: 'http://10.0.0.1/hook' });
    expect(moved.status).toBe(422);
    expect(moved.body.error).toBe('url_not_allowed');
    expect((await api.get(`/v1/endpoints/${ok.body.id}`)).body.url).toBe('https://public.example/hook');
  });

  it('allows private targets when ALLOW_PRIVATE_TARGETS is on (development and tests)', async () => {
    const { api: dev } = await tenant();
    expect((await dev.post('/v1/endpoints', { url: 'http://internal.example/hook' })).status).toBe(201);
  });
});

describe('plan endpoint limit', () => {
  it('refuses the endpoint beyond the plan with 422 plan_limit_reached naming the plan and limit', async () => {
    const { api } = await tenant('test'); // 5 endpoints
    for (let i = 0; i < 5; i++) expect((await api.post('/v1/endpoints', { url: `http://127.0.0.1:9/${i}` })).status).toBe(201);
    const res = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/6' });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('plan_limit_reached');
    expect(res.body.message).toContain('Test plan allows 5 endpoints');
  });

  it('holds under concurrent creates', async () => {
    const { t, api } = await tenant('test');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api.post('/v1/endpoints', { url: `http://127.0.0.1:9/${i}` })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 422)).toHaveLength(7);
    expect(await tdb.db('endpoints').where({ resource_id: t.id }).count({ n: '*' })).toEqual([{ n: 5 }]);
  });
});

describe('endpoint secrets', () => {
  it('reads the secret, rotates it and keeps the old one for the grace period', async () => {
    const { api } = await tenant();
    const created = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' });
    const id = created.body.id;
    const read = await api.get(`/v1/endpoints/${id}/secret`);
    expect(read.body).toEqual({ secret: created.body.secret });

    const rotated = await api.post(`/v1/endpoints/${id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(isValidEndpointSecret(rotated.body.secret)).toBe(true);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect((await api.get(`/v1/endpoints/${id}/secret`)).body.secret).toBe(rotated.body.secret);
    const row = await tdb.db('endpoints').where({ id }).first();
    expect(row.previous_secrets).toEqual([{ secret: created.body.secret, expires_at: '2026-11-16T12:00:00.000Z' }]);

    const given = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const set = await api.post(`/v1/endpoints/${id}/secret/rotate`, { secret: given });
    expect(set.body.secret).toBe(given);
    const bad = await api.post(`/v1/endpoints/${id}/secret/rotate`, { secret: 'whsec_short' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^secret:/);
    expect((await api.post(`/v1/endpoints/${randomUUID()}/secret/rotate`)).status).toBe(404);
  });

  it('drops expired previous secrets and keeps at most 10', async () => {
    const local = manualClock('2026-11-15T12:00:00Z');
    const { api } = await tenant('basic', { ...deps, clock: local });
    const id = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' })).body.id;
    await api.post(`/v1/endpoints/${id}/secret/rotate`).expect(200);
    local.advance(25 * 3_600_000); // past the 24 h grace of the first old secret
    await api.post(`/v1/endpoints/${id}/secret/rotate`).expect(200);
    let row = await tdb.db('endpoints').where({ id }).first();
    expect(row.previous_secrets).toHaveLength(1);
    for (let i = 0; i < 12; i++) await api.post(`/v1/endpoints/${id}/secret/rotate`).expect(200);
    row = await tdb.db('endpoints').where({ id }).first();
    expect(row.previous_secrets).toHaveLength(10);
  });

  it('accepts a given secret on create', async () => {
    const { api } = await tenant();
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const res = await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', secret });
    expect(res.body.secret).toBe(secret);
  });
});

describe('POST /v1/endpoints/:id/recover', () => {
  it('re-queues failed, dead and skipped deliveries since the given time and re-enables the endpoint', async () => {
    const { t, api } = await tenant();
    const id = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' })).body.id;
    const msgs: string[] = [];
    for (let i = 0; i < 5; i++) msgs.push((await api.post('/v1/messages', { event_type: 'a.b', data: { i } })).body.id);
    const statuses = ['failed', 'dead', 'skipped', 'succeeded', 'dead'];
    const created = ['2026-11-15T10:00:00Z', '2026-11-15T10:00:00Z', '2026-11-15T10:00:00Z', '2026-11-15T10:00:00Z', '2026-11-14T10:00:00Z'];
    for (let i = 0; i < 5; i++) {
      await tdb.db('deliveries').where({ message_id: msgs[i] }).update({
        status: statuses[i],
        created_at: created[i],
        next_attempt_at: null,
        locked_until: '2026-11-15T12:05:00Z',
        locked_by: 'w1',
        completed_at: '2026-11-15T11:00:00Z',
      });
    }
    await tdb.db('endpoints').where({ id }).update({ active: false, disabled_reason: 'failing', disabled_at: new Date(), failing_since: new Date() });

    const res = await api.post(`/v1/endpoints/${id}/recover`, { since: '2026-11-15T00:00:00Z' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ requeued: 3 });
    const rows = await tdb.db('deliveries').where({ resource_id: t.id }).orderBy('created_at');
    const byMsg = new Map(rows.map((r) => [r.message_id, r]));
    for (const i of [0, 1, 2]) {
      expect(byMsg.get(msgs[i])).toMatchObject({ status: 'pending', locked_until: null, locked_by: null, completed_at: null });
      expect(new Date(byMsg.get(msgs[i]).next_attempt_at).toISOString()).toBe('2026-11-15T12:00:00.000Z');
    }
    expect(byMsg.get(msgs[3]).status).toBe('succeeded');
    expect(byMsg.get(msgs[4]).status).toBe('dead');
    const endpoint = (await api.get(`/v1/endpoints/${id}`)).body;
    expect(endpoint).toMatchObject({ active: true, disabled_reason: null, failing_since: null });
  });

  it('validates since: required, not in the future, within the plan retention', async () => {
    const { api } = await tenant('test'); // 3 days
    const id = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x' })).body.id;
    const cases: Array<[object, string]> = [
      [{}, 'required'],
      [{ since: 'last week' }, 'ISO 8601'],
      [{ since: '2026-11-16T00:00:00Z' }, 'future'],
      [{ since: '2026-11-12T11:59:00Z' }, '3 days'],
    ];
    for (const [body, mention] of cases) {
      const res = await api.post(`/v1/endpoints/${id}/recover`, body);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain(mention);
    }
    expect((await api.post(`/v1/endpoints/${id}/recover`, { since: '2026-11-12T12:00:00Z' })).status).toBe(202);
    expect((await api.post(`/v1/endpoints/${randomUUID()}/recover`, { since: '2026-11-15T00:00:00Z' })).status).toBe(404);
  });
});

describe('POST /v1/endpoints/:id/test', () => {
  it('sends a herald.test message to that endpoint only, whatever its filter', async () => {
    const { api } = await tenant();
    const id = (await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/x', event_types: ['invoice.paid'], version: '3' })).body.id;
    await api.post('/v1/endpoints', { url: 'http://127.0.0.1:9/other' }).expect(201);
    const res = await api.post(`/v1/endpoints/${id}/test`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ event_type: 'herald.test', source: 'test', endpoint_id: id, deliveries: 1 });
    const message = await api.get(`/v1/messages/${res.body.id}`);
    expect(message.body.data).toEqual({ message: 'This is a test event from Herald', endpoint_id: id });
    expect(message.body.deliveries.map((d: { endpoint_id: string }) => d.endpoint_id)).toEqual([id]);
    expect((await api.post(`/v1/endpoints/${randomUUID()}/test`)).status).toBe(404);
    expect((await api.post('/v1/endpoints/zzz/test')).status).toBe(404);
  });
});
