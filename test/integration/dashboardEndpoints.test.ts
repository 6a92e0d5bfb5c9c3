import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { runOnce } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { createEndpoint, createResource } from '../helpers/factories.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf, fieldBlock, locationOf, postForm, ssoAgent } from './dashboardSetup.js';

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

async function signedIn(plan = 'basic') {
  const resource = await createResource(tdb.db, { plan });
  const agent = await ssoAgent(app, deps, resource.id);
  return { resource, agent };
}

const validForm = (over: Record<string, string> = {}) => ({
  url: `${receiver.url}/hooks`,
  description: 'Billing receiver',
  event_types: 'invoice.paid, customer.*',
  format: 'standard',
  version: '2026-01',
  headers: 'X-Env: production\nX-Team: billing',
  timeout: '7',
  active: 'on',
  ...over,
});

describe('dashboard: creating and editing endpoints', () => {
  it('creates an endpoint with every field of the API and shows them', async () => {
    const { resource, agent } = await signedIn();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const res = await postForm(agent, '/dashboard/endpoints/new', '/dashboard/endpoints', validForm({ secret }));
    expect(res.status).toBe(303);
    const row = await tdb.db('endpoints').where({ resource_id: resource.id }).first();
    expect(locationOf(res)).toBe(`/dashboard/endpoints/${row.id}?notice=endpoint-created`);
    expect(row).toMatchObject({
      url: `${receiver.url}/hooks`,
      description: 'Billing receiver',
      event_types: ['invoice.paid', 'customer.*'],
      format: 'standard',
      active: true,
      version: '2026-01',
      headers: { 'X-Env': 'production', 'X-Team': 'billing' },
      timeout_ms: 7000,
      secret,
    });
    const page = await agent.get(locationOf(res)).expect(200);
    expect(page.text).toContain('Endpoint created.');
    expect(page.text).toContain('<code>invoice.paid</code> <code>customer.*</code>');
    expect(page.text).toContain('<code>X-Env: production</code>');
    expect(page.text).toContain('7 s');
    // The secret is never part of a page until asked for.
    expect(page.text).not.toContain(secret);
    const list = await agent.get('/dashboard/endpoints').expect(200);
    expect(list.text).toContain(`href="/dashboard/endpoints/${row.id}"`);
  });

  it('an unticked "active" box creates a disabled endpoint', async () => {
    const { resource, agent } = await signedIn();
    const form = validForm();
    delete (form as Record<string, string>).active;
    expect((await postForm(agent, '/dashboard/endpoints/new', '/dashboard/endpoints', form)).status).toBe(303);
    expect(await tdb.db('endpoints').where({ resource_id: resource.id }).first()).toMatchObject({ active: false, disabled_reason: 'manual' });
  });

  it.each([
    ['url', { url: 'not a url' }, 'url: is not a valid absolute URL', 400],
    ['url', { url: 'ftp://example.com/x' }, 'url: must be an http:// or https:// URL', 400],
    ['timeout', { timeout: '99' }, 'timeout: must be a whole number of seconds between 1 and 30', 400],
    ['timeout', { timeout: 'soon' }, 'timeout: must be a whole number of seconds between 1 and 30', 400],
    ['event_types', { event_types: 'bad type!' }, '"type!" is neither an event type name nor a wildcard group', 400],
    ['headers', { headers: 'Host: evil.example' }, 'headers: "Host" is set by Herald or the connection and cannot be overridden', 400],
    ['headers', { headers: 'no colon here' }, 'headers: write one "Name: value" per line', 400],
    ['format', { format: 'xml' }, 'format: must be one of standard, slack, discord', 400],
    ['format', { format: 'slack' }, 'url: the slack format needs a Slack incoming-webhook URL', 400],
    ['secret', { secret: 'hunter2' }, 'secret: must be whsec_ followed by the base64 of 24 to 64 bytes', 400],
    ['description', { description: 'x'.repeat(1001) }, 'description: must be at most 1000 characters', 400],
  ])('shows the service\'s message next to the %s field (%j)', async (field, over, message, status) => {
    const { resource, agent } = await signedIn();
    const res = await postForm(agent, '/dashboard/endpoints/new', '/dashboard/endpoints', validForm(over));
    expect(res.status).toBe(status);
    const shownUnder = message.startsWith('url:') ? 'url' : field;
    expect(fieldBlock(res.text, shownUnder)).toContain(message.replace(/"/g, '&quot;'));
    expect(fieldBlock(res.text, shownUnder)).toContain('aria-invalid="true"');
    // What was typed is kept.
    expect(res.text).toContain(`value="${(over as Record<string, string>).url ?? `${receiver.url}/hooks`}"`);
    expect(await tdb.db('endpoints').where({ resource_id: resource.id })).toHaveLength(0);
  });

  it('the API gives the same message for the same mistake', async () => {
    const resource = await createResource(tdb.db);
    const api = await request(app)
      .post('/v1/endpoints')
      .set('Authorization', `Bearer ${resource.apiKey}`)
      .send({ url: `${receiver.url}/x`, timeout: 99 });
    const { agent } = { agent: await ssoAgent(app, deps, resource.id) };
    const page = await postForm(agent, '/dashboard/endpoints/new', '/dashboard/endpoints', validForm({ timeout: '99' }));
    expect(api.status).toBe(page.status);
    expect(fieldBlock(page.text, 'timeout')).toContain(api.body.message);
  });

  it('a plan limit is shown above the form', async () => {
    const { resource, agent } = await signedIn('test');
    for (let i = 0; i < 5; i++) await createEndpoint(tdb.db, resource.id);
    const res = await postForm(agent, '/dashboard/endpoints/new', '/dashboard/endpoints', validForm());
    expect(res.status).toBe(422);
    expect(res.text).toMatch(/id="form-error">The Test plan allows 5 endpoints and this add-on has 5/);
  });

  it('edits every field, with the same validation', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/old` });
    const edit = await agent.get(`/dashboard/endpoints/${e.id}/edit`).expect(200);
    expect(edit.text).toContain(`value="${receiver.url}/old"`);
    const bad = await agent
      .post(`/dashboard/endpoints/${e.id}`)
      .type('form')
      .send({ _csrf: csrfOf(edit.text), ...validForm({ version: 'v'.repeat(51) }) });
    expect(bad.status).toBe(400);
    expect(fieldBlock(bad.text, 'version')).toContain('version: must be at most 50 characters');
    const ok = await agent
      .post(`/dashboard/endpoints/${e.id}`)
      .type('form')
      .send({ _csrf: csrfOf(edit.text), ...validForm({ description: 'Edited', event_types: 'order.*', headers: '', timeout: '3', version: '' }) });
    expect(ok.status).toBe(303);
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toMatchObject({
      url: `${receiver.url}/hooks`,
      description: 'Edited',
      event_types: ['order.*'],
      headers: {},
      timeout_ms: 3000,
      version: null,
    });
  });

  it('assigns an endpoint to a subscriber from a select of the resource\'s subscribers', async () => {
    const { resource, agent } = await signedIn();
    const sub = randomUUID();
    await tdb.db('subscribers').insert({ id: sub, resource_id: resource.id, name: 'Acme Corp' });
    const form = await agent.get(`/dashboard/endpoints/new?subscriber_id=${sub}`).expect(200);
    expect(form.text).toContain(`<option value="${sub}" selected>Acme Corp</option>`);
    const res = await agent.post('/dashboard/endpoints').type('form').send({ _csrf: csrfOf(form.text), ...validForm({ subscriber_id: sub }) });
    expect(res.status).toBe(303);
    expect((await tdb.db('endpoints').where({ resource_id: resource.id }).first()).subscriber_id).toBe(sub);
    // Another resource's subscriber cannot be chosen by editing the form.
    const other = await createResource(tdb.db);
    const foreign = randomUUID();
    await tdb.db('subscribers').insert({ id: foreign, resource_id: other.id, name: 'Foreign' });
    const refused = await agent.post('/dashboard/endpoints').type('form').send({ _csrf: csrfOf(form.text), ...validForm({ subscriber_id: foreign }) });
    expect(refused.status).toBe(404);
    expect(refused.text).toContain('Subscriber not found');
  });
});

describe('dashboard: endpoint actions', () => {
  it('disables and enables', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id);
    const off = await postForm(agent, `/dashboard/endpoints/${e.id}`, `/dashboard/endpoints/${e.id}/disable`);
    expect(off.status).toBe(303);
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toMatchObject({ active: false, disabled_reason: 'manual' });
    const page = await agent.get(`/dashboard/endpoints/${e.id}`).expect(200);
    expect(page.text).toContain('<span class="badge disabled"');
    expect(page.text).toContain(`action="/dashboard/endpoints/${e.id}/enable"`);
    expect((await postForm(agent, `/dashboard/endpoints/${e.id}`, `/dashboard/endpoints/${e.id}/enable`)).status).toBe(303);
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toMatchObject({ active: true, disabled_reason: null });
  });

  it('deletes only after a confirmation page', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id);
    const confirm = await agent.get(`/dashboard/endpoints/${e.id}/delete`).expect(200);
    expect(confirm.text).toContain('Delete this endpoint?');
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toBeDefined();
    const res = await agent.post(`/dashboard/endpoints/${e.id}/delete`).type('form').send({ _csrf: csrfOf(confirm.text) });
    expect(res.status).toBe(303);
    expect(locationOf(res)).toBe('/dashboard/endpoints?notice=endpoint-deleted');
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toBeUndefined();
    expect((await agent.get(`/dashboard/endpoints/${e.id}`)).status).toBe(404);
  });

  it('reveals the secret only in the answer to a POST, and rotates it', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id);
    const page = await agent.get(`/dashboard/endpoints/${e.id}`).expect(200);
    expect(page.text).not.toContain(e.secret);
    const revealed = await agent.post(`/dashboard/endpoints/${e.id}/secret`).type('form').send({ _csrf: csrfOf(page.text) });
    expect(revealed.status).toBe(200);
    expect(revealed.headers['cache-control']).toBe('private, no-store');
    expect(revealed.text).toContain(`<code id="secret-value">${e.secret}</code>`);
    // The verification examples use the real secret once it is revealed.
    expect(revealed.text).toContain(`new Webhook("${e.secret}")`);
    const rotated = await agent.post(`/dashboard/endpoints/${e.id}/secret/rotate`).type('form').send({ _csrf: csrfOf(page.text) });
    expect(rotated.status).toBe(200);
    const row = await tdb.db('endpoints').where({ id: e.id }).first();
    expect(row.secret).not.toBe(e.secret);
    expect(row.previous_secrets[0].secret).toBe(e.secret);
    expect(rotated.text).toContain(`<code id="secret-value">${row.secret}</code>`);
    expect(rotated.text).toContain('Secret rotated.');
    expect(rotated.text).toContain('1 previous secret still signing');
  });

  it('sends a test event and shows its attempt once the worker delivered it', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/test-target` });
    receiver.script('/test-target', { status: 200, headers: { 'x-receiver': 'yes' }, body: 'thanks <b>!</b>' });
    const res = await postForm(agent, `/dashboard/endpoints/${e.id}`, `/dashboard/endpoints/${e.id}/test`);
    expect(res.status).toBe(303);
    const messageUrl = locationOf(res).split('?')[0]!;
    expect(messageUrl).toMatch(/^\/dashboard\/messages\/[0-9a-f-]{36}$/);
    const before = await agent.get(locationOf(res)).expect(200);
    expect(before.text).toContain('<code>herald.test</code> message');
    expect(before.text).toContain('Not attempted yet.');
    await runOnce(deps);
    const after = await agent.get(messageUrl).expect(200);
    expect(after.text).toContain('<span class="badge succeeded" data-status="succeeded">succeeded</span>');
    expect(after.text).toContain('HTTP 200');
    // Request as sent: the signature headers and the exact body the receiver got.
    const got = receiver.on('/test-target')[0]!;
    expect(after.text).toContain(got.headers['webhook-signature']!);
    expect(after.text).toContain(got.body.replace(/"/g, '&quot;'));
    // Response headers and body excerpt, escaped.
    expect(after.text).toContain('x-receiver');
    expect(after.text).toContain('thanks &lt;b&gt;!&lt;/b&gt;');
  });

  it('recovers failed and skipped deliveries since a time: a count first, then a confirmation', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/flaky` });
    receiver.script('/flaky', { status: 500, body: 'down' });
    const api = (body: object) => request(app).post('/v1/messages').set('Authorization', `Bearer ${resource.apiKey}`).send(body);
    clock.set('2026-11-23T08:00:00Z');
    await api({ event_type: 'order.created', data: { n: 1 } }).expect(202);
    clock.set('2026-11-23T10:00:00Z');
    await api({ event_type: 'order.created', data: { n: 2 } }).expect(202);
    await api({ event_type: 'order.created', data: { n: 3 } }).expect(202);
    await runOnce(deps);
    clock.set('2026-11-23T12:00:00Z');
    expect(await tdb.db('deliveries').where({ endpoint_id: e.id, status: 'failed' })).toHaveLength(3);

    const form = await agent.get(`/dashboard/endpoints/${e.id}/recover`).expect(200);
    expect(form.text).toContain('value="2026-11-22T12:00"');
    const count = await agent.get(`/dashboard/endpoints/${e.id}/recover?since=2026-11-23T09:00`).expect(200);
    expect(count.text).toMatch(/id="recover-count"><strong>2<\/strong> deliveries since 2026-11-23 09:00:00 UTC will be queued again/);
    // Counting changed nothing.
    expect(await tdb.db('deliveries').where({ endpoint_id: e.id, status: 'failed' })).toHaveLength(3);
    const done = await agent.post(`/dashboard/endpoints/${e.id}/recover`).type('form').send({ _csrf: csrfOf(count.text), since: '2026-11-23T09:00:00.000Z' });
    expect(done.status).toBe(303);
    expect(locationOf(done)).toBe(`/dashboard/endpoints/${e.id}?notice=recovered&n=2`);
    expect((await agent.get(locationOf(done))).text).toContain('Recovery started: 2 deliveries were queued again.');
    const statuses = await tdb.db('deliveries').where({ endpoint_id: e.id }).select('status');
    expect(statuses.map((s: { status: string }) => s.status).sort()).toEqual(['failed', 'pending', 'pending']);
  });

  it('refuses a recovery time outside the plan\'s retention with the service\'s message', async () => {
    const { resource, agent } = await signedIn('test');
    const e = await createEndpoint(tdb.db, resource.id);
    const res = await agent.get(`/dashboard/endpoints/${e.id}/recover?since=2026-11-01T00:00`);
    expect(res.status).toBe(400);
    expect(fieldBlock(res.text, 'since')).toContain('since: must be at most 3 days ago: the Test plan keeps deliveries that long');
  });

  it('lists endpoints with status, success rate and p95 latency over 24 hours, and the last attempt', async () => {
    const { resource, agent } = await signedIn();
    const e = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/stats` });
    const off = await createEndpoint(tdb.db, resource.id, { active: false, disabledReason: 'gone' });
    const base = { resource_id: resource.id, endpoint_id: e.id, url: 'http://x', request_headers: {} };
    const [d] = await tdb.db('messages').insert({ id: randomUUID(), resource_id: resource.id, event_type: 'a.b', payload: '{}' }).returning('id');
    const delivery = randomUUID();
    await tdb.db('deliveries').insert({ id: delivery, resource_id: resource.id, message_id: d.id, endpoint_id: e.id });
    const rows = [];
    for (let i = 1; i <= 20; i++) {
      rows.push({ ...base, delivery_id: delivery, message_id: d.id, attempt_number: i, attempted_at: new Date(Date.parse('2026-11-23T11:00:00Z') + i * 1000), duration_ms: i * 10, outcome: i <= 15 ? 'succeeded' : 'failed', status_code: i <= 15 ? 200 : 503 });
    }
    // Outside the 24-hour window: not counted in the rate.
    rows.push({ ...base, delivery_id: delivery, message_id: d.id, attempt_number: 21, attempted_at: new Date('2026-11-20T00:00:00Z'), duration_ms: 9999, outcome: 'failed', status_code: 500 });
    await tdb.db('attempts').insert(rows);
    const page = await agent.get('/dashboard/endpoints').expect(200);
    const row = page.text.slice(page.text.indexOf(`id="endpoint-${e.id}"`), page.text.indexOf('</tr>', page.text.indexOf(`id="endpoint-${e.id}"`)));
    expect(row).toContain('75%');
    expect(row).toContain('190 ms'); // p95 of 10…200 ms
    expect(row).toContain('<span class="badge failed">503</span> 2026-11-23 11:00:20 UTC');
    const offRow = page.text.slice(page.text.indexOf(`id="endpoint-${off.id}"`));
    expect(offRow).toMatch(/^id="endpoint-[^"]+" class="troubled">/);
    expect(offRow).toContain('badge disabled');
  });
});

describe('dashboard: endpoints of another resource', () => {
  it('answer 404 on every page and action, and change nothing', async () => {
    const { agent } = await signedIn();
    const other = await createResource(tdb.db);
    const theirs = await createEndpoint(tdb.db, other.id);
    const page = await agent.get('/dashboard/endpoints').expect(200);
    const token = csrfOf(page.text);
    expect(page.text).not.toContain(theirs.id);
    for (const path of ['', '/edit', '/delete', '/recover', '/recover?since=2026-11-23T00:00']) {
      expect((await agent.get(`/dashboard/endpoints/${theirs.id}${path}`)).status).toBe(404);
    }
    for (const path of ['', '/enable', '/disable', '/delete', '/secret', '/secret/rotate', '/test', '/recover']) {
      const res = await agent.post(`/dashboard/endpoints/${theirs.id}${path}`).type('form').send({ _csrf: token, since: '2026-11-23T00:00:00Z', ...validForm() });
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.text).not.toContain(theirs.secret);
    }
    expect(await tdb.db('endpoints').where({ id: theirs.id }).first()).toMatchObject({ active: true, secret: theirs.secret });
    expect(await tdb.db('messages').where({ resource_id: other.id })).toHaveLength(0);
  });
});
