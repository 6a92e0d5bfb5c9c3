import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { createPortalLink } from '../../src/services/portal.js';
import { MAX_SESSION_SECONDS, SESSION_COOKIE } from '../../src/session.js';
import { getResource } from '../../src/db/resources.js';
import { createEndpoint, createResource } from '../helpers/factories.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf, ssoAgent } from './dashboardSetup.js';

const START = '2026-11-23T12:00:00Z';
const clock = manualClock(START);
let tdb: TestDb;
let deps: Deps;
let app: Express;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
  app = createApp(deps);
});
afterEach(() => clock.set(START));
afterAll(async () => {
  await tdb.destroy();
});

const cookieLine = (res: request.Response, name: string): string | undefined => {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return raw?.find((c) => c.startsWith(`${name}=`));
};

describe('CSRF', () => {
  it('refuses a state-changing form without the token, with a wrong one, or with another session\'s: 403 page, nothing changed', async () => {
    const r = await createResource(tdb.db);
    const e = await createEndpoint(tdb.db, r.id);
    const agent = await ssoAgent(app, deps, r.id);
    const otherAgent = await ssoAgent(app, deps, (await createResource(tdb.db)).id);
    const othersToken = csrfOf((await otherAgent.get('/dashboard').expect(200)).text);
    const mine = csrfOf((await agent.get('/dashboard').expect(200)).text);
    const attempts: Array<[string, Record<string, string> | string]> = [
      ['none', {}],
      ['empty', { _csrf: '' }],
      ['wrong', { _csrf: mine.slice(0, -2) + (mine.endsWith('AA') ? 'BB' : 'AA') }],
      ['another session\'s', { _csrf: othersToken }],
    ];
    for (const path of [`/dashboard/endpoints/${e.id}/disable`, `/dashboard/endpoints/${e.id}/delete`, '/dashboard/api-key', `/dashboard/endpoints/${e.id}/secret`, '/dashboard/logout']) {
      for (const [what, form] of attempts) {
        const res = await agent.post(path).type('form').send(form);
        expect([path, what, res.status]).toEqual([path, what, 403]);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.text).toContain('This form has expired or did not come from a Herald page.');
        expect(res.text).not.toContain(r.apiKey);
        expect(res.text).not.toContain(e.secret);
      }
    }
    // A JSON body cannot carry a form token either.
    expect((await agent.post(`/dashboard/endpoints/${e.id}/disable`).send({ _csrf: mine })).status).toBe(403);
    expect(await tdb.db('endpoints').where({ id: e.id }).first()).toMatchObject({ active: true });
    // Still signed in: the refused logout did nothing.
    expect((await agent.get('/dashboard')).status).toBe(200);
    // And the right token works.
    expect((await agent.post(`/dashboard/endpoints/${e.id}/disable`).type('form').send({ _csrf: mine })).status).toBe(303);
  });

  it('a portal session\'s token is not valid for the dashboard, even for the same resource', async () => {
    const r = await createResource(tdb.db);
    const e = await createEndpoint(tdb.db, r.id);
    const sub = randomUUID();
    await tdb.db('subscribers').insert({ id: sub, resource_id: r.id, name: 'S' });
    const link = await createPortalLink(deps, (await getResource(tdb.db, r.id))!, sub);
    const agent = await ssoAgent(app, deps, r.id);
    await agent.get(new URL(link.url).pathname + new URL(link.url).search).expect(303);
    const portalToken = csrfOf((await agent.get('/portal').expect(200)).text);
    expect(portalToken).not.toBe(csrfOf((await agent.get('/dashboard').expect(200)).text));
    expect((await agent.post(`/dashboard/endpoints/${e.id}/disable`).type('form').send({ _csrf: portalToken })).status).toBe(403);
  });
});

describe('security headers', () => {
  it('sends a CSP that allows only our origin and Heroku\'s boomerang, and no inline script or style in any page', async () => {
    const r = await createResource(tdb.db);
    const e = await createEndpoint(tdb.db, r.id);
    const agent = await ssoAgent(app, deps, r.id);
    const page = await agent.get('/dashboard').expect(200);
    const csp = page.headers['content-security-policy']!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self' https://s3.amazonaws.com/assets.heroku.com/boomerang/");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['strict-transport-security']).toBeUndefined();
    for (const path of ['/dashboard', '/dashboard/endpoints', `/dashboard/endpoints/${e.id}`, '/dashboard/endpoints/new', '/dashboard/messages', '/dashboard/subscribers', '/dashboard/event-types', '/dashboard/api-key']) {
      const html = (await agent.get(path).expect(200)).text;
      // Every <script> has a src; no style attribute or element anywhere.
      expect([path, html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)]).toEqual([path, null]);
      expect([path, /\sstyle=|<style/.test(html)]).toEqual([path, false]);
    }
  });

  it('adds HSTS and upgrade-insecure-requests in production only', async () => {
    const prod = createApp(
      testDeps(tdb.db, {
        clock,
        env: {
          NODE_ENV: 'production',
          ALLOW_PRIVATE_TARGETS: 'false',
          DATABASE_URL: tdb.url,
          PUBLIC_URL: 'https://herald.example.com',
          HEROKU_API_PASSWORD: 'production-password-0123456789',
          HEROKU_SSO_SALT: 'production-sso-salt-0123456789',
          SESSION_SECRET: 'production-session-secret-0123456789abcdef',
          API_KEY_SECRET: 'production-api-key-secret-0123456789abcdef',
        },
      }),
    );
    const res = await request(prod).get('/healthz');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
  });

  it('serves the stylesheet, scripts and Chart.js from /assets', async () => {
    expect((await request(app).get('/assets/herald.css').expect(200)).headers['content-type']).toMatch(/^text\/css/);
    expect((await request(app).get('/assets/herald.js').expect(200)).headers['content-type']).toMatch(/javascript/);
    const chart = await request(app).get('/assets/vendor/chart.umd.min.js').expect(200);
    expect(chart.headers['content-type']).toMatch(/javascript/);
    expect(chart.text).toContain('Chart');
    expect((await request(app).get('/assets/../package.json')).status).toBe(404);
    expect((await request(app).get('/assets/nope.js')).status).toBe(404);
  });
});

describe('session lifetime', () => {
  const ttl = () => deps.config.sessionTtlSeconds;

  it('is renewed once more than half of it is used, so an active person stays signed in', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    clock.advance((ttl() / 2 - 60) * 1000);
    const early = await agent.get('/dashboard').expect(200);
    expect(cookieLine(early, SESSION_COOKIE)).toBeUndefined();
    clock.advance(120 * 1000);
    const renewed = await agent.get('/dashboard').expect(200);
    expect(cookieLine(renewed, SESSION_COOKIE)).toContain(`Max-Age=${ttl()}`);
    // Past the first cookie's end, the renewed one still works...
    clock.advance((ttl() - 60) * 1000);
    expect((await agent.get('/dashboard')).status).toBe(200);
    // ...and an idle one still ends a TTL after its last renewal.
    clock.advance(ttl() * 1000);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });

  it('ends 24 hours after sign-in however active the person is', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    let elapsed = 0;
    while (elapsed + ttl() / 2 + 60 < MAX_SESSION_SECONDS) {
      clock.advance((ttl() / 2 + 60) * 1000);
      elapsed += ttl() / 2 + 60;
      expect((await agent.get('/dashboard')).status).toBe(200);
    }
    clock.advance((MAX_SESSION_SECONDS - elapsed) * 1000);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });
});

describe('logout', () => {
  it('POST /dashboard/logout with the token clears the session', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    const token = csrfOf((await agent.get('/dashboard').expect(200)).text);
    const res = await agent.post('/dashboard/logout').type('form').send({ _csrf: token });
    expect(res.status).toBe(200);
    expect(res.text).toContain('Signed out');
    expect(cookieLine(res, SESSION_COOKIE)).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });

  it('the legacy POST /logout refuses what the browser marks as cross-site', async () => {
    const r = await createResource(tdb.db);
    const agent = await ssoAgent(app, deps, r.id);
    expect((await agent.post('/logout').set('Sec-Fetch-Site', 'cross-site')).status).toBe(403);
    expect((await agent.get('/dashboard')).status).toBe(200);
    expect((await agent.post('/logout').set('Sec-Fetch-Site', 'same-origin')).status).toBe(200);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });
});
