import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { runOnce } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { createEndpoint, createResource, type ResourceFixture } from '../helpers/factories.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf, fieldBlock, locationOf, postForm, ssoAgent, type Agent } from './dashboardSetup.js';

const clock = manualClock('2026-11-23T12:00:00Z');
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
afterAll(async () => {
  await receiver.close();
  await tdb.destroy();
});

const send = (r: ResourceFixture, body: object) => request(app).post('/v1/messages').set('Authorization', `Bearer ${r.apiKey}`).send(body).expect(202);
const ids = (html: string) => [...html.matchAll(/id="message-([0-9a-f-]{36})"/g)].map((m) => m[1]);

describe('dashboard: messages', () => {
  let r: ResourceFixture;
  let agent: Agent;
  const m: Record<string, string> = {};

  beforeAll(async () => {
    r = await createResource(tdb.db);
    agent = await ssoAgent(app, deps, r.id);
    await createEndpoint(tdb.db, r.id, { url: `${receiver.url}/ok` });
    const failing = await createEndpoint(tdb.db, r.id, { url: `${receiver.url}/down`, eventTypes: ['invoice.*'] });
    receiver.script('/down', { status: 503, headers: { 'retry-after': '1' }, body: 'maintenance' });
    clock.set('2026-11-23T09:00:00Z');
    m.order = (await send(r, { event_type: 'order.created', event_id: 'ord-1', data: { order: 1 } })).body.id;
    clock.set('2026-11-23T10:00:00Z');
    m.invoice = (await send(r, { event_type: 'invoice.paid', event_id: 'inv-1', data: { invoice: 1 } })).body.id;
    clock.set('2026-11-23T11:00:00Z');
    m.script = (await send(r, { event_type: 'note.added', data: { note: '<script>alert("x")</script>' } })).body.id;
    await runOnce(deps);
    clock.set('2026-11-23T12:00:00Z');
    expect(failing.id).toBeDefined();
  });

  it('lists newest first with each message\'s deliveries by status', async () => {
    const page = await agent.get('/dashboard/messages').expect(200);
    expect(ids(page.text)).toEqual([m.script, m.invoice, m.order]);
    const row = page.text.slice(page.text.indexOf(`id="message-${m.invoice}"`));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/1 succeeded.*1 failed/s);
  });

  it('filters by event type, delivery status and time range', async () => {
    expect(ids((await agent.get('/dashboard/messages?event_type=order.created').expect(200)).text)).toEqual([m.order]);
    expect(ids((await agent.get('/dashboard/messages?status=failed').expect(200)).text)).toEqual([m.invoice]);
    expect(ids((await agent.get('/dashboard/messages?since=2026-11-23T09:30&until=2026-11-23T10:30').expect(200)).text)).toEqual([m.invoice]);
    expect(ids((await agent.get('/dashboard/messages?status=dead').expect(200)).text)).toEqual([]);
  });

  it('searches by message id, webhook-id or event_id', async () => {
    expect(ids((await agent.get(`/dashboard/messages?q=${m.order}`).expect(200)).text)).toEqual([m.order]);
    expect(ids((await agent.get(`/dashboard/messages?q=msg_${m.order!.replace(/-/g, '')}`).expect(200)).text)).toEqual([m.order]);
    expect(ids((await agent.get('/dashboard/messages?q=inv-1').expect(200)).text)).toEqual([m.invoice]);
    expect(ids((await agent.get('/dashboard/messages?q=nope').expect(200)).text)).toEqual([]);
  });

  it('shows a bad filter next to its field', async () => {
    const res = await agent.get('/dashboard/messages?since=yesterday');
    expect(res.status).toBe(400);
    expect(res.text).toContain('since: must be an ISO 8601 time');
    expect((await agent.get('/dashboard/messages?status=lost')).text).toContain('status: must be one of pending, succeeded, failed, dead, skipped');
  });

  it('shows a message: payload, and per endpoint every attempt with request and response', async () => {
    const page = await agent.get(`/dashboard/messages/${m.invoice}`).expect(200);
    expect(page.text).toContain('&quot;invoice&quot;: 1');
    expect(page.text).toContain('inv-1');
    expect(page.text).toContain(`${receiver.url}/down`);
    const down = receiver.on('/down')[0]!;
    // Request headers and body as sent.
    expect(page.text).toContain(down.headers['webhook-id']!);
    expect(page.text).toContain(down.headers['webhook-signature']!);
    expect(page.text).toContain(down.body.replace(/"/g, '&quot;'));
    // Response: status, headers, body excerpt; duration; the retry.
    expect(page.text).toContain('HTTP 503');
    expect(page.text).toContain('retry-after');
    expect(page.text).toContain('maintenance');
    expect(page.text).toMatch(/\d+ ms/);
    expect(page.text).toContain('Retry scheduled for');
  });

  it('shows a payload containing <script> as text', async () => {
    const page = await agent.get(`/dashboard/messages/${m.script}`).expect(200);
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).toContain('&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;');
  });

  it('resends a delivery', async () => {
    const page = await agent.get(`/dashboard/messages/${m.invoice}`).expect(200);
    const failed = await tdb.db('deliveries').where({ message_id: m.invoice, status: 'failed' }).first();
    expect(page.text).toContain(`action="/dashboard/deliveries/${failed.id}/retry"`);
    const res = await agent.post(`/dashboard/deliveries/${failed.id}/retry`).type('form').send({ _csrf: csrfOf(page.text) });
    expect(res.status).toBe(303);
    expect(locationOf(res)).toBe(`/dashboard/messages/${m.invoice}?notice=retried#delivery-${failed.id}`);
    const row = await tdb.db('deliveries').where({ id: failed.id }).first();
    expect(row.status).toBe('pending');
    expect(row.next_attempt_at.getTime()).toBe(clock.now().getTime());
  });

  it('another resource\'s messages and deliveries answer 404 and never appear', async () => {
    const other = await createResource(tdb.db);
    await createEndpoint(tdb.db, other.id, { url: `${receiver.url}/other` });
    const theirs = (await send(other, { event_type: 'secret.thing', event_id: 'theirs-1', data: { secret: 'other-tenant-data' } })).body.id;
    const theirDelivery = await tdb.db('deliveries').where({ message_id: theirs }).first();
    expect((await agent.get(`/dashboard/messages/${theirs}`)).status).toBe(404);
    const list = await agent.get(`/dashboard/messages?q=${theirs}`).expect(200);
    expect(ids(list.text)).toEqual([]);
    expect(ids((await agent.get('/dashboard/messages?q=theirs-1')).text)).toEqual([]);
    expect((await agent.get('/dashboard/messages')).text).not.toContain(theirs);
    const token = csrfOf(list.text);
    expect((await agent.post(`/dashboard/deliveries/${theirDelivery.id}/retry`).type('form').send({ _csrf: token })).status).toBe(404);
    expect((await agent.get(`/dashboard/messages/${randomUUID()}`)).status).toBe(404);
    expect((await agent.get('/dashboard/messages/not-an-id')).status).toBe(404);
  });
});

describe('dashboard: sending a message', () => {
  it('sends through the same validation and fan-out as POST /v1/messages, with errors next to the field', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    await createEndpoint(tdb.db, r.id, { url: `${receiver.url}/ok`, eventTypes: ['invoice.*'] });
    await createEndpoint(tdb.db, r.id, { url: `${receiver.url}/ok2`, eventTypes: ['order.*'] });
    expect((await agent.get('/dashboard/messages').expect(200)).text).toContain('href="/dashboard/messages/new"');

    const bad = await postForm(agent, '/dashboard/messages/new', '/dashboard/messages', { event_type: 'invoice.paid', data: '{"amount": 12' });
    expect(bad.status).toBe(400);
    expect(fieldBlock(bad.text, 'data')).toContain('is not valid JSON');
    const notObject = await postForm(agent, '/dashboard/messages/new', '/dashboard/messages', { event_type: 'invoice.paid', data: '[1]' });
    expect(fieldBlock(notObject.text, 'data')).toContain('must be a JSON object');
    expect(await tdb.db('messages').where({ resource_id: r.id })).toHaveLength(0);

    const sent = await postForm(agent, '/dashboard/messages/new', '/dashboard/messages', {
      event_type: 'invoice.paid',
      data: '{"amount": 1200, "note": "<b>hi</b>"}',
      event_id: 'inv-dash-1',
      version: '',
    });
    expect(sent.status).toBe(303);
    const id = /\/dashboard\/messages\/([0-9a-f-]{36})/.exec(locationOf(sent))![1]!;
    const stored = await tdb.db('messages').where({ id, resource_id: r.id }).first();
    expect(stored).toMatchObject({ event_type: 'invoice.paid', event_id: 'inv-dash-1', version: null, payload: '{"amount":1200,"note":"<b>hi</b>"}' });
    // Fanned out like the API: only the endpoint whose filter matches.
    expect(await tdb.db('deliveries').where({ message_id: id })).toHaveLength(1);

    // The event_id idempotency holds here too: the repeat lands on the original message.
    const again = await postForm(agent, '/dashboard/messages/new', '/dashboard/messages', { event_type: 'invoice.paid', data: '{}', event_id: 'inv-dash-1' });
    expect(locationOf(again)).toContain(`/dashboard/messages/${id}`);
    expect(await tdb.db('messages').where({ resource_id: r.id })).toHaveLength(1);
  });
});
