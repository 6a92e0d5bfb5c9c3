import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { PLANS } from '../../src/plans.js';
import { provisionResource } from '../../src/services/resources.js';
import { resourceToken } from '../../src/ssoTokens.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { partnerAuthHeader } from '../helpers/heroku.js';

const clock = manualClock('2026-11-23T12:00:00Z');
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

async function newResource(plan = 'test'): Promise<{ id: string; apiKey: string }> {
  const res = await provisionResource(deps, {
    uuid: randomUUID(),
    plan,
    region: 'amazon-web-services::eu-west-1',
    name: null,
    herokuId: null,
    callbackUrl: null,
    options: {},
  });
  return { id: res.id, apiKey: res.config.HERALD_API_KEY };
}

async function signIn(id: string, app_: string): Promise<ReturnType<typeof request.agent>> {
  const agent = request.agent(app);
  const timestamp = String(Math.floor(clock.now().getTime() / 1000));
  await agent
    .post('/sso/login')
    .type('form')
    .send({ resource_id: id, timestamp, resource_token: resourceToken(id, deps.config.heroku.ssoSalt, timestamp), app: app_, email: 'dev@example.com' })
    .expect(303);
  return agent;
}

describe('GET /dashboard', () => {
  it('without a session → 401 HTML page', async () => {
    const res = await request(app).get('/dashboard');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Open Herald again from your Heroku dashboard');
  });

  it('25: renders the Heroku nav header and initialises boomerang with the app name', async () => {
    const { id } = await newResource();
    const page = await (await signIn(id, 'nav-app')).get('/dashboard');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="heroku-header"></div>');
    expect(page.text).toContain('<script src="https://s3.amazonaws.com/assets.heroku.com/boomerang/boomerang.js"></script>');
    // The init script is a file of ours: the CSP allows no inline script.
    expect(page.text).toContain('<script src="/assets/heroku-nav.js"></script>');
    const init = await request(app).get('/assets/heroku-nav.js').expect(200);
    expect(init.text).toContain('Boomerang.init(');
    expect(page.text).toContain('data-heroku-app="nav-app"');
    expect(page.text).toContain(`data-heroku-addon="${deps.config.heroku.addonId}"`);
    expect(page.headers['cache-control']).toBe('private, no-store');
  });

  it('shows the app, plan, limits and config var names, but never the API key', async () => {
    const { id, apiKey } = await newResource('basic');
    const page = await (await signIn(id, 'limits-app')).get('/dashboard');
    const basic = PLANS.basic!;
    expect(page.text).toContain('<h1>limits-app</h1>');
    expect(page.text).toContain('Herald Basic plan');
    expect(page.text).toContain('region eu');
    expect(page.text).toContain(`<dt>Endpoints</dt><dd>${basic.maxEndpoints}</dd>`);
    expect(page.text).toContain(`<dt>Messages per month</dt><dd>${basic.messagesPerMonth.toLocaleString('en-US')}</dd>`);
    expect(page.text).toContain(`<dt>History kept</dt><dd>${basic.retentionDays} days</dd>`);
    expect(page.text).toContain('<code>HERALD_URL</code>');
    expect(page.text).toContain('<code>HERALD_API_KEY</code>');
    expect(page.text).not.toContain(apiKey);
    expect(page.text).not.toContain(apiKey.slice(5, 20));
  });

  it('shows current usage: endpoints against the maximum, this month\'s messages against the quota', async () => {
    const { id } = await newResource();
    await tdb.db('endpoints').insert(
      [0, 1].map((i) => ({ id: randomUUID(), resource_id: id, url: `https://example.com/${i}`, secret: `whsec_${i}` })),
    );
    await tdb.db('usage_counters').insert([
      { resource_id: id, period: '2026-11-01', messages: 1234 },
      { resource_id: id, period: '2026-10-01', messages: 99999 },
    ]);
    const page = await (await signIn(id, 'usage-app')).get('/dashboard');
    expect(page.text).toContain(`Endpoints: <strong>2</strong> of ${PLANS.test!.maxEndpoints}`);
    expect(page.text).toContain(`Messages this month: <strong>1,234</strong> of ${PLANS.test!.messagesPerMonth.toLocaleString('en-US')}`);
    expect(page.text).not.toContain('99,999');
    expect(page.text).toContain('Month starting 2026-11-01');
  });

  it('a session can\'t see another resource: only the session\'s resource is shown, whatever the URL says', async () => {
    const a = await newResource('test');
    const b = await newResource('pro');
    await signIn(b.id, 'bravo-app');
    await tdb.db('usage_counters').insert({ resource_id: b.id, period: '2026-11-01', messages: 4242 });
    const agent = await signIn(a.id, 'alpha-app');
    for (const path of ['/dashboard', `/dashboard?resource_id=${b.id}`, `/dashboard?id=${b.id}`]) {
      const page = await agent.get(path);
      expect(page.status).toBe(200);
      expect(page.text).toContain('alpha-app');
      expect(page.text).toContain('Herald Test plan');
      expect(page.text).not.toContain('bravo-app');
      expect(page.text).not.toContain('Pro plan');
      expect(page.text).not.toContain('4,242');
    }
    expect((await agent.get(`/dashboard/${b.id}`)).status).toBe(404);
  });

  it('escapes what the SSO form carried (the app name is not covered by the v3 token)', async () => {
    const { id } = await newResource();
    const page = await (await signIn(id, '"><img src=x onerror=alert(1)>')).get('/dashboard');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  });

  it('once the add-on is deprovisioned, its session gets a 403 and is cleared', async () => {
    const { id } = await newResource();
    const agent = await signIn(id, 'gone-app');
    expect((await agent.get('/dashboard')).status).toBe(200);
    await request(app).delete(`/heroku/resources/${id}`).set('Authorization', partnerAuthHeader(deps.config)).expect(204);
    const res = await agent.get('/dashboard');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });
});
