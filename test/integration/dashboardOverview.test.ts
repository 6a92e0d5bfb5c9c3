import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { createEndpoint, createResource } from '../helpers/factories.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf, fieldBlock, locationOf, postForm, ssoAgent } from './dashboardSetup.js';

const clock = manualClock('2026-11-23T12:30:00Z');
let tdb: TestDb;
let deps: Deps;
let app: Express;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
  app = createApp(deps);
});
afterAll(async () => {
  await tdb.destroy();
});

function series(html: string, id: string): { hours: string[]; succeeded: number[]; failed: number[]; dead: number[] } {
  const m = new RegExp(`id="${id}"[^>]*data-series="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${id}`);
  return JSON.parse(m[1]!.replace(/&quot;/g, '"')) as never;
}

describe('dashboard overview', () => {
  it('charts attempts per hour for 24 hours and 7 days: succeeded, failed (retrying), dead', async () => {
    const r = await createResource(tdb.db);
    const e = await createEndpoint(tdb.db, r.id);
    const messageId = randomUUID();
    await tdb.db('messages').insert({ id: messageId, resource_id: r.id, event_type: 'a.b', payload: '{}' });
    const delivery = randomUUID();
    await tdb.db('deliveries').insert({ id: delivery, resource_id: r.id, message_id: messageId, endpoint_id: e.id });
    let n = 0;
    const attempt = (at: string, outcome: 'succeeded' | 'failed', next: string | null) => ({
      delivery_id: delivery,
      resource_id: r.id,
      message_id: messageId,
      endpoint_id: e.id,
      attempt_number: ++n,
      attempted_at: new Date(at),
      url: 'http://x',
      duration_ms: 5,
      outcome,
      next_attempt_at: next ? new Date(next) : null,
    });
    await tdb.db('attempts').insert([
      attempt('2026-11-23T12:10:00Z', 'succeeded', null),
      attempt('2026-11-23T12:20:00Z', 'succeeded', null),
      attempt('2026-11-23T12:25:00Z', 'failed', '2026-11-23T12:30:00Z'),
      attempt('2026-11-23T09:05:00Z', 'failed', null),
      attempt('2026-11-20T09:05:00Z', 'succeeded', null), // 3 days ago: the week only
      attempt('2026-11-10T09:05:00Z', 'succeeded', null), // too old for both
    ]);
    // Another resource's attempts never count.
    const other = await createResource(tdb.db);
    const oe = await createEndpoint(tdb.db, other.id);
    const om = randomUUID();
    await tdb.db('messages').insert({ id: om, resource_id: other.id, event_type: 'a.b', payload: '{}' });
    const od = randomUUID();
    await tdb.db('deliveries').insert({ id: od, resource_id: other.id, message_id: om, endpoint_id: oe.id });
    await tdb.db('attempts').insert({ delivery_id: od, resource_id: other.id, message_id: om, endpoint_id: oe.id, attempt_number: 1, attempted_at: new Date('2026-11-23T12:00:00Z'), url: 'x', duration_ms: 1, outcome: 'succeeded' });

    const page = await (await ssoAgent(app, deps, r.id)).get('/dashboard').expect(200);
    const day = series(page.text, 'chart-day-canvas');
    expect(day.hours).toHaveLength(24);
    expect(day.hours[23]).toBe('2026-11-23T12:00:00.000Z');
    expect(day.hours[0]).toBe('2026-11-22T13:00:00.000Z');
    expect(day.succeeded[23]).toBe(2);
    expect(day.failed[23]).toBe(1);
    expect(day.dead[20]).toBe(1); // 09:00
    const week = series(page.text, 'chart-week-canvas');
    expect(week.hours).toHaveLength(168);
    expect(week.succeeded.reduce((a, b) => a + b, 0)).toBe(3);
    expect(week.dead.reduce((a, b) => a + b, 0)).toBe(1);
    // The totals table (what shows without JavaScript).
    expect(page.text).toMatch(/<tr><td>Last 24 hours<\/td><td class="num">2<\/td><td class="num">1<\/td><td class="num">1<\/td><\/tr>/);
    expect(page.text).toMatch(/<tr><td>Last 7 days<\/td><td class="num">3<\/td><td class="num">1<\/td><td class="num">1<\/td><\/tr>/);
    // Chart.js comes from our own origin.
    expect(page.text).toContain('<script src="/assets/vendor/chart.umd.min.js" defer></script>');
  });

  it('shows usage against the limits, retention included, and highlights failing and disabled endpoints', async () => {
    const r = await createResource(tdb.db, { plan: 'test' });
    await createEndpoint(tdb.db, r.id, { url: 'https://fine.example/hook' });
    const failing = await createEndpoint(tdb.db, r.id, { url: 'https://failing.example/hook', failingSince: new Date('2026-11-22T00:00:00Z') });
    const disabled = await createEndpoint(tdb.db, r.id, { url: 'https://disabled.example/hook', active: false, disabledReason: 'gone' });
    const page = await (await ssoAgent(app, deps, r.id)).get('/dashboard').expect(200);
    expect(page.text).toContain('Endpoints: <strong>3</strong> of 5');
    expect(page.text).toContain('History kept: <strong>3 days</strong>');
    const troubled = page.text.slice(page.text.indexOf('id="troubled"'), page.text.indexOf('id="deliveries-chart"'));
    expect(troubled).toContain(`href="/dashboard/endpoints/${failing.id}"`);
    expect(troubled).toContain('badge failing');
    expect(troubled).toContain(`href="/dashboard/endpoints/${disabled.id}"`);
    expect(troubled).toContain('badge disabled');
    expect(troubled).not.toContain('fine.example');
  });

  it('shows no warning box when every endpoint is healthy', async () => {
    const r = await createResource(tdb.db);
    await createEndpoint(tdb.db, r.id);
    const page = await (await ssoAgent(app, deps, r.id)).get('/dashboard').expect(200);
    expect(page.text).not.toContain('id="troubled"');
  });
});

describe('dashboard: API key', () => {
  it('is never in the page by default; a POST reveals it with a curl example', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    for (const path of ['/dashboard', '/dashboard/api-key', '/dashboard/endpoints', '/dashboard/messages', '/dashboard/subscribers']) {
      const page = await agent.get(path).expect(200);
      expect(page.text).not.toContain(r.apiKey);
    }
    const page = await agent.get('/dashboard/api-key').expect(200);
    expect(page.text).toContain('-H "Authorization: Bearer $HERALD_API_KEY"');
    const revealed = await agent.post('/dashboard/api-key').type('form').send({ _csrf: csrfOf(page.text) });
    expect(revealed.status).toBe(200);
    expect(revealed.headers['cache-control']).toBe('private, no-store');
    expect(revealed.text).toContain(`<code id="api-key-value">${r.apiKey}</code>`);
    expect(revealed.text).toContain(`curl -X POST "${deps.config.publicUrl}/v1/messages"`);
    expect(revealed.text).toContain(`-H "Authorization: Bearer ${r.apiKey}"`);
    // The curl example works as shown.
    const sent = await request(app)
      .post('/v1/messages')
      .set('Authorization', `Bearer ${r.apiKey}`)
      .send({ event_type: 'invoice.paid', event_id: 'in_123-paid', data: { invoice_id: 'in_123', amount: 4200 } });
    expect(sent.status).toBe(202);
  });
});

describe('dashboard: subscribers', () => {
  it('lists, creates (with the API\'s validation) and edits subscribers, and shows their endpoints', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    const bad = await postForm(agent, '/dashboard/subscribers/new', '/dashboard/subscribers', { name: '', external_id: 'cus_1', metadata: '{}' });
    expect(bad.status).toBe(400);
    expect(fieldBlock(bad.text, 'name')).toContain('name: must not be empty');
    const badJson = await postForm(agent, '/dashboard/subscribers/new', '/dashboard/subscribers', { name: 'Acme', metadata: '{nope' });
    expect(fieldBlock(badJson.text, 'metadata')).toContain('metadata: must be a JSON object');
    const notObject = await postForm(agent, '/dashboard/subscribers/new', '/dashboard/subscribers', { name: 'Acme', metadata: '[1]' });
    expect(fieldBlock(notObject.text, 'metadata')).toContain('metadata: must be a JSON object');

    const created = await postForm(agent, '/dashboard/subscribers/new', '/dashboard/subscribers', { name: 'Acme', external_id: 'cus_1', metadata: '{"tier": "gold"}' });
    expect(created.status).toBe(303);
    const row = await tdb.db('subscribers').where({ resource_id: r.id }).first();
    expect(row).toMatchObject({ name: 'Acme', external_id: 'cus_1', metadata: { tier: 'gold' } });
    expect(locationOf(created)).toBe(`/dashboard/subscribers/${row.id}?notice=subscriber-created`);

    const taken = await postForm(agent, '/dashboard/subscribers/new', '/dashboard/subscribers', { name: 'Acme 2', external_id: 'cus_1' });
    expect(taken.status).toBe(409);
    expect(fieldBlock(taken.text, 'external_id')).toContain('A subscriber with external_id &quot;cus_1&quot; already exists.');

    const list = await agent.get('/dashboard/subscribers').expect(200);
    expect(list.text).toContain(`<a href="/dashboard/subscribers/${row.id}">Acme</a>`);

    const e = await createEndpoint(tdb.db, r.id, { subscriberId: row.id, url: 'https://acme.example/hooks' });
    const page = await agent.get(`/dashboard/subscribers/${row.id}`).expect(200);
    expect(page.text).toContain(`href="/dashboard/endpoints/${e.id}">https://acme.example/hooks</a>`);
    const edited = await agent.post(`/dashboard/subscribers/${row.id}`).type('form').send({ _csrf: csrfOf(page.text), name: 'Acme Inc', external_id: '', metadata: '' });
    expect(edited.status).toBe(303);
    expect(await tdb.db('subscribers').where({ id: row.id }).first()).toMatchObject({ name: 'Acme Inc', external_id: null, metadata: {} });
  });

  it('creates a portal link, shown only in the answer to the POST', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    const sub = randomUUID();
    await tdb.db('subscribers').insert({ id: sub, resource_id: r.id, name: 'Globex' });
    const page = await agent.get(`/dashboard/subscribers/${sub}`).expect(200);
    expect(page.text).not.toContain('/portal/open');
    const res = await agent.post(`/dashboard/subscribers/${sub}/portal-link`).type('form').send({ _csrf: csrfOf(page.text), expires_in: '3600' });
    expect(res.status).toBe(200);
    const url = /<code id="portal-link-url">([^<]+)<\/code>/.exec(res.text)![1]!;
    expect(url.startsWith(`${deps.config.publicUrl}/portal/open?token=`)).toBe(true);
    expect(res.text).toContain('Valid until 2026-11-23 13:30:00 UTC.');
    // The link opens this subscriber's portal.
    const portal = request.agent(app);
    const opened = await portal.get(new URL(url).pathname + new URL(url).search);
    expect(opened.status).toBe(303);
    expect((await portal.get('/portal').expect(200)).text).toContain('Webhooks for Globex');
  });

  it('another resource\'s subscribers answer 404', async () => {
    const r = await createResource(tdb.db);
    const other = await createResource(tdb.db);
    const theirs = randomUUID();
    await tdb.db('subscribers').insert({ id: theirs, resource_id: other.id, name: 'Theirs' });
    const agent = await ssoAgent(app, deps, r.id);
    const list = await agent.get('/dashboard/subscribers').expect(200);
    expect(list.text).not.toContain(theirs);
    expect((await agent.get(`/dashboard/subscribers/${theirs}`)).status).toBe(404);
    const token = csrfOf(list.text);
    expect((await agent.post(`/dashboard/subscribers/${theirs}`).type('form').send({ _csrf: token, name: 'Mine now' })).status).toBe(404);
    expect((await agent.post(`/dashboard/subscribers/${theirs}/portal-link`).type('form').send({ _csrf: token })).status).toBe(404);
    expect((await tdb.db('subscribers').where({ id: theirs }).first()).name).toBe('Theirs');
  });
});

describe('dashboard: event types and deleting subscribers', () => {
  it('lists event types and declares one, with the API\'s validation next to the field', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    const page = await agent.get('/dashboard/event-types').expect(200);
    expect(page.text).toContain('<code>herald.test</code>');
    const reserved = await postForm(agent, '/dashboard/event-types', '/dashboard/event-types', { name: 'heroku.deploy', description: 'x' });
    expect(reserved.status).toBe(422);
    expect(fieldBlock(reserved.text, 'name')).toContain('is reserved: heroku.* and herald.* types are built in.');
    const bad = await postForm(agent, '/dashboard/event-types', '/dashboard/event-types', { name: 'bad name!' });
    expect(bad.status).toBe(400);
    expect(fieldBlock(bad.text, 'name')).toContain('name: must be dot-separated segments');
    const ok = await postForm(agent, '/dashboard/event-types', '/dashboard/event-types', { name: 'invoice.paid', description: 'An invoice was paid' });
    expect(locationOf(ok)).toBe('/dashboard/event-types?notice=event-type-saved');
    expect(await tdb.db('event_types').where({ resource_id: r.id, name: 'invoice.paid' }).first()).toMatchObject({ description: 'An invoice was paid' });
    expect((await agent.get('/dashboard/event-types')).text).toContain('<td>An invoice was paid</td>');
  });

  it('deletes a subscriber (and its endpoints) only after a confirmation page', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    const sub = randomUUID();
    await tdb.db('subscribers').insert({ id: sub, resource_id: r.id, name: 'Doomed' });
    const e = await createEndpoint(tdb.db, r.id, { subscriberId: sub });
    const confirm = await agent.get(`/dashboard/subscribers/${sub}/delete`).expect(200);
    expect(confirm.text).toContain('Delete this subscriber?');
    expect(await tdb.db('subscribers').where({ id: sub }).first()).toBeDefined();
    const res = await agent.post(`/dashboard/subscribers/${sub}/delete`).type('form').send({ _csrf: csrfOf(confirm.text) });
    expect(locationOf(res)).toBe('/dashboard/subscribers?notice=subscriber-deleted');
    expect(await tdb.db('subscribers').where({ id: sub }).first()).toBeUndefined();
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toBeUndefined();
    const other = await createResource(tdb.db);
    const theirs = randomUUID();
    await tdb.db('subscribers').insert({ id: theirs, resource_id: other.id, name: 'Theirs' });
    expect((await agent.get(`/dashboard/subscribers/${theirs}/delete`)).status).toBe(404);
    expect((await agent.post(`/dashboard/subscribers/${theirs}/delete`).type('form').send({ _csrf: csrfOf(confirm.text) })).status).toBe(404);
    expect(await tdb.db('subscribers').where({ id: theirs }).first()).toBeDefined();
  });
});
