import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { runOnce } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { PORTAL_COOKIE } from '../../src/session.js';
import { createEndpoint, createResource, type EndpointFixture, type ResourceFixture } from '../helpers/factories.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf, fieldBlock, locationOf, type Agent } from './dashboardSetup.js';

const START = '2026-11-23T12:00:00Z';
const clock = manualClock(START);
let tdb: TestDb;
let deps: Deps;
let app: Express;
let receiver: Receiver;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
  app = createApp(deps);
  receiver = await startReceiver();
});
afterEach(() => clock.set(START));
afterAll(async () => {
  await receiver.close();
  await tdb.destroy();
});

const api = (r: ResourceFixture) => ({
  post: (path: string, body: object = {}) => request(app).post(path).set('Authorization', `Bearer ${r.apiKey}`).send(body),
});

async function subscriber(r: ResourceFixture, name: string): Promise<string> {
  const res = await api(r).post('/v1/subscribers', { name }).expect(201);
  return res.body.id as string;
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

async function openPortal(r: ResourceFixture, subscriberId: string, body: object = {}): Promise<Agent> {
  const link = await api(r).post(`/v1/subscribers/${subscriberId}/portal-link`, body).expect(201);
  const agent = request.agent(app);
  await agent.get(pathOf(link.body.url)).expect(303);
  return agent;
}

describe('POST /v1/subscribers/:id/portal-link', () => {
  it('returns a signed link valid 24 hours by default, or expires_in seconds (at most 7 days)', async () => {
    const r = await createResource(tdb.db);
    const sub = await subscriber(r, 'Acme');
    const def = await api(r).post(`/v1/subscribers/${sub}/portal-link`).expect(201);
    expect(def.body.url).toMatch(new RegExp(`^${deps.config.publicUrl}/portal/open\\?token=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    expect(def.body.expires_at).toBe('2026-11-24T12:00:00.000Z');
    const hour = await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires_in: 3600 }).expect(201);
    expect(hour.body.expires_at).toBe('2026-11-23T13:00:00.000Z');
    const week = await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires_in: 7 * 86400 }).expect(201);
    expect(week.body.expires_at).toBe('2026-11-30T12:00:00.000Z');
    for (const bad of [0, 59, 7 * 86400 + 1, 1.5, '3600']) {
      const res = await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires_in: bad }).expect(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field: 'expires_in' });
    }
    expect((await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires: 3600 })).status).toBe(400);
  });

  it('answers 404 for an unknown subscriber or another resource\'s', async () => {
    const r = await createResource(tdb.db);
    const other = await createResource(tdb.db);
    const theirs = await subscriber(other, 'Theirs');
    expect((await api(r).post(`/v1/subscribers/${theirs}/portal-link`)).status).toBe(404);
    expect((await api(r).post(`/v1/subscribers/${randomUUID()}/portal-link`)).status).toBe(404);
    expect((await api(r).post('/v1/subscribers/nope/portal-link')).status).toBe(404);
  });
});

describe('opening a portal link', () => {
  it('starts a portal session in its own cookie and lands on the subscriber\'s page', async () => {
    const r = await createResource(tdb.db);
    const sub = await subscriber(r, 'Acme');
    const link = await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires_in: 3600 }).expect(201);
    const res = await request(app).get(pathOf(link.body.url));
    expect(res.status).toBe(303);
    expect(locationOf(res)).toBe('/portal');
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${PORTAL_COOKIE}=`))!;
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    // Never longer than the link.
    expect(cookie).toContain('Max-Age=3600');
  });

  it('refuses an expired, altered or foreign-secret link, and one whose subscriber is gone', async () => {
    const r = await createResource(tdb.db);
    const sub = await subscriber(r, 'Acme');
    const link = (await api(r).post(`/v1/subscribers/${sub}/portal-link`, { expires_in: 60 }).expect(201)).body.url as string;
    const token = new URL(link).searchParams.get('token')!;
    const altered = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
    for (const t of [altered, token.split('.')[0]!, '', 'x.y']) {
      const res = await request(app).get(`/portal/open?token=${encodeURIComponent(t)}`);
      expect(res.status).toBe(403);
      expect(res.text).toContain('This portal link is not valid');
    }
    const otherApp = createApp(testDeps(tdb.db, { clock, env: { SESSION_SECRET: 'another-secret-that-is-long-enough-0123456789' } }));
    expect((await request(otherApp).get(pathOf(link))).status).toBe(403);
    clock.advance(61_000);
    const expired = await request(app).get(pathOf(link));
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('This portal link has expired');
    clock.set(START);
    await request(app).delete(`/v1/subscribers/${sub}`).set('Authorization', `Bearer ${r.apiKey}`).expect(204);
    expect((await request(app).get(pathOf(link))).status).toBe(403);
  });

  it('a portal session ends with its link, and at once when the subscriber is deleted', async () => {
    const r = await createResource(tdb.db);
    const sub = await subscriber(r, 'Acme');
    const agent = await openPortal(r, sub, { expires_in: 600 });
    expect((await agent.get('/portal')).status).toBe(200);
    clock.advance(601_000);
    expect((await agent.get('/portal')).status).toBe(401);
    clock.set(START);
    const again = await openPortal(r, sub);
    expect((await again.get('/portal')).status).toBe(200);
    await request(app).delete(`/v1/subscribers/${sub}`).set('Authorization', `Bearer ${r.apiKey}`).expect(204);
    expect((await again.get('/portal')).status).toBe(403);
  });
});

describe('portal isolation', () => {
  let r: ResourceFixture;
  let mine: string;
  let theirs: string;
  let agent: Agent;
  let myEndpoint: EndpointFixture;
  let theirEndpoint: EndpointFixture;
  let ownEndpoint: EndpointFixture;
  let foreignEndpoint: EndpointFixture;
  const msg: Record<string, string> = {};

  beforeAll(async () => {
    r = await createResource(tdb.db, { plan: 'basic' });
    mine = await subscriber(r, 'Acme Portal');
    theirs = await subscriber(r, 'Globex Secretive');
    myEndpoint = await createEndpoint(tdb.db, r.id, { subscriberId: mine, url: `${receiver.url}/acme` });
    theirEndpoint = await createEndpoint(tdb.db, r.id, { subscriberId: theirs, url: `${receiver.url}/globex-private` });
    ownEndpoint = await createEndpoint(tdb.db, r.id, { url: `${receiver.url}/app-own` });
    const other = await createResource(tdb.db);
    foreignEndpoint = await createEndpoint(tdb.db, other.id, { url: `${receiver.url}/foreign` });
    msg.broadcast = (await api(r).post('/v1/messages', { event_type: 'order.created', data: { to: 'everyone' } }).expect(202)).body.id;
    msg.mine = (await api(r).post('/v1/messages', { event_type: 'order.created', subscriber_id: mine, data: { to: 'acme' } }).expect(202)).body.id;
    msg.theirs = (await api(r).post('/v1/messages', { event_type: 'order.created', subscriber_id: theirs, data: { to: 'globex-only' } }).expect(202)).body.id;
    msg.own = (await api(r).post('/v1/messages', { event_type: 'order.created', endpoint_id: ownEndpoint.id, data: { to: 'app-only' } }).expect(202)).body.id;
    await runOnce(deps);
    agent = await openPortal(r, mine);
  });

  it('shows the subscriber\'s endpoints and nothing of anyone else', async () => {
    const home = await agent.get('/portal').expect(200);
    expect(home.text).toContain('Webhooks for Acme Portal');
    expect(home.text).toContain(`${receiver.url}/acme`);
    for (const page of [home.text, (await agent.get('/portal/endpoints').expect(200)).text, (await agent.get('/portal/messages').expect(200)).text]) {
      expect(page).not.toContain('globex-private');
      expect(page).not.toContain('Globex Secretive');
      expect(page).not.toContain('app-own');
      expect(page).not.toContain(r.apiKey);
      expect(page).not.toContain('Basic plan');
      expect(page).not.toContain('heroku-header');
    }
  });

  it('answers 404 for other subscribers\', the app\'s own and other resources\' endpoints, on every page and action', async () => {
    const token = csrfOf((await agent.get('/portal').expect(200)).text);
    for (const e of [theirEndpoint, ownEndpoint, foreignEndpoint]) {
      for (const path of ['', '/edit', '/delete', '/recover', '/recover?since=2026-11-23T00:00']) {
        expect([path, (await agent.get(`/portal/endpoints/${e.id}${path}`)).status]).toEqual([path, 404]);
      }
      for (const path of ['', '/enable', '/disable', '/delete', '/secret', '/secret/rotate', '/test', '/recover']) {
        const res = await agent.post(`/portal/endpoints/${e.id}${path}`).type('form').send({ _csrf: token, url: `${receiver.url}/hijack`, since: '2026-11-23T00:00:00Z' });
        expect([path, res.status]).toEqual([path, 404]);
        expect(res.text).not.toContain(e.secret);
      }
      const row = await tdb.db('endpoints').where({ id: e.id }).first();
      expect(row).toMatchObject({ active: true, secret: e.secret, url: e.url });
    }
    expect(await tdb.db('messages').where({ source: 'test' })).toHaveLength(0);
  });

  it('lists and shows only messages delivered to the subscriber, with only their deliveries', async () => {
    const list = await agent.get('/portal/messages').expect(200);
    const listed = [...list.text.matchAll(/id="message-([0-9a-f-]{36})"/g)].map((m) => m[1]).sort();
    expect(listed).toEqual([msg.broadcast, msg.mine].sort());
    const broadcast = await agent.get(`/portal/messages/${msg.broadcast}`).expect(200);
    expect(broadcast.text).toContain(`${receiver.url}/acme`);
    expect(broadcast.text).not.toContain('globex-private');
    expect(broadcast.text).not.toContain('app-own');
    expect(broadcast.text).toContain('<dt>Deliveries</dt><dd>1</dd>');
    for (const id of [msg.theirs, msg.own, randomUUID()]) {
      expect((await agent.get(`/portal/messages/${id}`)).status).toBe(404);
      expect((await agent.get(`/portal/messages?q=${id}`)).text).not.toContain(`id="message-${id}"`);
    }
    // Their delivery of a message the subscriber may see is still not theirs to resend.
    const token = csrfOf(list.text);
    const theirDelivery = await tdb.db('deliveries').where({ message_id: msg.broadcast, endpoint_id: theirEndpoint.id }).first();
    expect((await agent.post(`/portal/deliveries/${theirDelivery.id}/retry`).type('form').send({ _csrf: token })).status).toBe(404);
    const myDelivery = await tdb.db('deliveries').where({ message_id: msg.broadcast, endpoint_id: myEndpoint.id }).first();
    const retried = await agent.post(`/portal/deliveries/${myDelivery.id}/retry`).type('form').send({ _csrf: token });
    expect(retried.status).toBe(303);
    expect(locationOf(retried)).toBe(`/portal/messages/${msg.broadcast}?notice=retried#delivery-${myDelivery.id}`);
  });

  it('has no dashboard, subscriber list, API key or plan pages', async () => {
    for (const path of ['/dashboard', '/dashboard/api-key', '/dashboard/endpoints', `/dashboard/endpoints/${myEndpoint.id}`]) {
      expect([path, (await agent.get(path)).status]).toEqual([path, 401]);
    }
    for (const path of ['/portal/subscribers', `/portal/subscribers/${mine}`, '/portal/api-key']) {
      expect([path, (await agent.get(path)).status]).toEqual([path, 404]);
    }
    const token = csrfOf((await agent.get('/portal').expect(200)).text);
    expect((await agent.post('/portal/api-key').type('form').send({ _csrf: token })).status).toBe(404);
    expect((await agent.post(`/portal/subscribers/${theirs}/portal-link`).type('form').send({ _csrf: token })).status).toBe(404);
  });

  it('creates endpoints for the subscriber only, whatever the form says, and cannot move one away', async () => {
    const form = await agent.get('/portal/endpoints/new').expect(200);
    expect(form.text).not.toContain('name="subscriber_id"');
    const res = await agent
      .post('/portal/endpoints')
      .type('form')
      .send({ _csrf: csrfOf(form.text), url: `${receiver.url}/acme-2`, format: 'standard', active: 'on', subscriber_id: theirs });
    expect(res.status).toBe(303);
    const created = await tdb.db('endpoints').where({ url: `${receiver.url}/acme-2` }).first();
    expect(created.subscriber_id).toBe(mine);
    const edit = await agent
      .post(`/portal/endpoints/${created.id}`)
      .type('form')
      .send({ _csrf: csrfOf(form.text), url: `${receiver.url}/acme-2`, format: 'standard', subscriber_id: theirs, timeout: '99' });
    expect(edit.status).toBe(400);
    expect(fieldBlock(edit.text, 'timeout')).toContain('timeout: must be a whole number of seconds between 1 and 30');
    expect((await tdb.db('endpoints').where({ id: created.id }).first()).subscriber_id).toBe(mine);
  });

  it('refuses a form without the portal session\'s CSRF token', async () => {
    expect((await agent.post(`/portal/endpoints/${myEndpoint.id}/disable`).type('form').send({})).status).toBe(403);
    expect((await tdb.db('endpoints').where({ id: myEndpoint.id }).first()).active).toBe(true);
  });
});

describe('portal endpoint actions', () => {
  it('edit, disable, reveal the secret with verification examples, test, recover', async () => {
    const r = await createResource(tdb.db);
    const sub = await subscriber(r, 'Initech');
    const e = await createEndpoint(tdb.db, r.id, { subscriberId: sub, url: `${receiver.url}/initech` });
    const agent = await openPortal(r, sub);
    const page = await agent.get(`/portal/endpoints/${e.id}`).expect(200);
    const token = csrfOf(page.text);
    expect(page.text).not.toContain(e.secret);
    expect(page.text).toContain('whsec_your_endpoint_secret');
    const secret = await agent.post(`/portal/endpoints/${e.id}/secret`).type('form').send({ _csrf: token }).expect(200);
    expect(secret.text).toContain(`<code id="secret-value">${e.secret}</code>`);
    expect(secret.text).toContain(`StandardWebhooks::Webhook.new("${e.secret}")`);
    expect(secret.text).toContain(`standardwebhooks.NewWebhook("${e.secret}")`);
    expect(secret.text).toContain(`Webhook("${e.secret}")`);

    await agent.post(`/portal/endpoints/${e.id}`).type('form').send({ _csrf: token, url: `${receiver.url}/initech`, format: 'standard', description: 'Prod', timeout: '5' }).expect(303);
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toMatchObject({ description: 'Prod', timeout_ms: 5000, subscriber_id: sub });

    await agent.post(`/portal/endpoints/${e.id}/disable`).type('form').send({ _csrf: token }).expect(303);
    expect((await tdb.db('endpoints').where({ id: e.id }).first()).active).toBe(false);

    // A message while disabled is skipped; recover replays it and turns the endpoint back on.
    await api(r).post('/v1/messages', { event_type: 'order.created', data: { n: 1 } }).expect(202);
    const count = await agent.get(`/portal/endpoints/${e.id}/recover?since=2026-11-23T11:00`).expect(200);
    expect(count.text).toContain('<strong>1</strong> delivery since 2026-11-23 11:00:00 UTC will be queued again.');
    const recovered = await agent.post(`/portal/endpoints/${e.id}/recover`).type('form').send({ _csrf: token, since: '2026-11-23T11:00:00Z' });
    expect(locationOf(recovered)).toBe(`/portal/endpoints/${e.id}?notice=recovered&n=1`);
    expect((await tdb.db('endpoints').where({ id: e.id }).first()).active).toBe(true);

    const test = await agent.post(`/portal/endpoints/${e.id}/test`).type('form').send({ _csrf: token }).expect(303);
    await runOnce(deps);
    const message = await agent.get(locationOf(test)).expect(200);
    expect(message.text).toContain('<code>herald.test</code> message');
    expect(message.text).toContain('data-status="succeeded"');
  });
});
