import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { getResource } from '../../src/db/resources.js';
import type { Deps } from '../../src/deps.js';
import { provisionResource } from '../../src/services/resources.js';
import { SESSION_COOKIE } from '../../src/session.js';
import { legacyToken, resourceToken, userScopedResourceToken } from '../../src/ssoTokens.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { capturedLogs, manualClock, testDeps } from '../helpers/deps.js';
import { partnerAuthHeader } from '../helpers/heroku.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const clock = manualClock(NOW);
let tdb: TestDb;
let deps: Deps;
let app: Express;
let SALT: string;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock });
  app = createApp(deps);
  SALT = deps.config.heroku.ssoSalt;
});
afterEach(() => clock.set(NOW));
afterAll(async () => {
  await tdb.destroy();
});

async function newResource(): Promise<string> {
  const { id } = await provisionResource(deps, {
    uuid: randomUUID(),
    plan: 'test',
    region: 'amazon-web-services::us-east-1',
    name: null,
    herokuId: null,
    callbackUrl: null,
    options: {},
  });
  return id;
}

const seconds = (d: Date) => String(Math.floor(d.getTime() / 1000));
// base64 of JSON as kensa builds it, with the characters that tempt a cookie library to escape them.
const NAV_DATA = Buffer.from(JSON.stringify({ addon: 'Herald', appname: 'myapp', addons: [{ slug: 'herald', name: 'Herald', current: true }] }))
  .toString('base64')
  .concat('+/=');

/** The form kensa posts: legacy `id` and `token`. */
function kensaForm(id: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const timestamp = overrides.timestamp ?? seconds(clock.now());
  const form: Record<string, string | undefined> = {
    id,
    token: legacyToken(id, SALT, timestamp),
    timestamp,
    'nav-data': NAV_DATA,
    email: 'username@example.com',
    app: 'myapp',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

function v3Form(id: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const timestamp = seconds(clock.now());
  const form: Record<string, string | undefined> = {
    resource_id: id,
    resource_token: resourceToken(id, SALT, timestamp),
    timestamp,
    user_id: '11111111-2222-3333-4444-555555555555',
    email: 'owner@example.com',
    app: 'v3-app',
    context_app: 'v3-app',
    'nav-data': NAV_DATA,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

const postSso = (form: Record<string, string>, agent: ReturnType<typeof request.agent> | ReturnType<typeof request> = request(app)) =>
  agent.post('/sso/login').type('form').send(form);

function cookieLine(res: request.Response, name: string): string | undefined {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return raw?.find((c) => c.startsWith(`${name}=`));
}

function expect403Page(res: request.Response): void {
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.text).toContain('<!doctype html>');
  expect(cookieLine(res, SESSION_COOKIE)).toBeUndefined();
}

describe('SSO: POST /sso/login', () => {
  it('21: token=invalid with every other parameter valid → 403 HTML page', async () => {
    const id = await newResource();
    expect403Page(await postSso(kensaForm(id, { token: 'invalid' })));
  });

  it('22: timestamp six minutes old with a token valid for it → 403', async () => {
    const id = await newResource();
    const sixMinutesAgo = seconds(new Date(NOW.getTime() - 6 * 60_000));
    const res = await postSso(kensaForm(id, { timestamp: sixMinutesAgo }));
    expect403Page(res);
    expect(res.text).toContain('expired');
  });

  it('22: a timestamp more than a minute in the future → 403; five minutes old still works', async () => {
    const id = await newResource();
    expect403Page(await postSso(kensaForm(id, { timestamp: seconds(new Date(NOW.getTime() + 2 * 60_000)) })));
    expect((await postSso(kensaForm(id, { timestamp: seconds(new Date(NOW.getTime() - 5 * 60_000)) }))).status).toBe(303);
  });

  it('23: valid id/token/timestamp/nav-data/email/app → redirect to /dashboard, then 200', async () => {
    const id = await newResource();
    const agent = request.agent(app);
    const res = await postSso(kensaForm(id), agent);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/dashboard');
    const page = await agent.get(res.headers.location!);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it('23: the session cookie is httpOnly, SameSite=Lax, Path=/, lasts the configured TTL, not Secure outside production', async () => {
    const id = await newResource();
    const line = cookieLine(await postSso(kensaForm(id)), SESSION_COOKIE)!;
    expect(line).toBeDefined();
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Lax/);
    expect(line).toMatch(/; Path=\//);
    expect(line).toContain(`Max-Age=${deps.config.sessionTtlSeconds}`);
    expect(line).not.toMatch(/; Secure/);
  });

  it('24: cookie heroku-nav-data equals the posted nav-data exactly, at Path=/, readable by scripts', async () => {
    const id = await newResource();
    const line = cookieLine(await postSso(kensaForm(id)), 'heroku-nav-data')!;
    expect(line.split(';')[0]).toBe(`heroku-nav-data=${NAV_DATA}`);
    expect(line).toMatch(/; Path=\//);
    expect(line).not.toMatch(/HttpOnly/);
  });

  it('24: nav-data that a cookie cannot hold raw is percent-encoded rather than refused', async () => {
    const id = await newResource();
    const res = await postSso(kensaForm(id, { 'nav-data': 'a b;c' }));
    expect(res.status).toBe(303);
    expect(cookieLine(res, 'heroku-nav-data')!.split(';')[0]).toBe('heroku-nav-data=a%20b%3Bc');
  });

  it('25: the page after the redirect has div#heroku-header and the boomerang script', async () => {
    const id = await newResource();
    const agent = request.agent(app);
    await postSso(kensaForm(id), agent);
    const page = await agent.get('/dashboard');
    expect(page.text).toContain('<div id="heroku-header"></div>');
    expect(page.text).toMatch(/<script src="[^"]*boomerang[^"]*"><\/script>/);
  });

  it('26: v3 resource_id + resource_token → signed in; app and email recorded on the resource', async () => {
    const id = await newResource();
    const res = await postSso(v3Form(id));
    expect(res.status).toBe(303);
    expect(cookieLine(res, SESSION_COOKIE)).toBeDefined();
    const stored = await getResource(tdb.db, id);
    expect(stored).toMatchObject({ appName: 'v3-app', ownerEmail: 'owner@example.com' });
  });

  it('26: user_scoped_resource_token (sha256) → signed in', async () => {
    const id = await newResource();
    const timestamp = seconds(clock.now());
    const form = v3Form(id, {
      resource_token: undefined,
      user_scoped_resource_token: userScopedResourceToken(id, SALT, timestamp, '11111111-2222-3333-4444-555555555555', 'owner@example.com'),
    });
    expect((await postSso(form)).status).toBe(303);
    expect403Page(await postSso({ ...form, email: 'someone-else@example.com' }));
  });

  it('26: a token made with the wrong salt → 403', async () => {
    const id = await newResource();
    const timestamp = seconds(clock.now());
    expect403Page(await postSso(v3Form(id, { resource_token: resourceToken(id, 'wrong-salt', timestamp) })));
  });

  it('26: each missing parameter → 403', async () => {
    const id = await newResource();
    for (const missing of ['resource_id', 'resource_token', 'timestamp']) {
      expect403Page(await postSso(v3Form(id, { [missing]: undefined })));
    }
    expect403Page(await request(app).post('/sso/login').type('form').send(''));
  });

  it('26: a deprovisioned resource → 403, and a valid token for an unknown resource → 403', async () => {
    const id = await newResource();
    await request(app).delete(`/heroku/resources/${id}`).set('Authorization', partnerAuthHeader(deps.config)).expect(204);
    expect403Page(await postSso(v3Form(id)));
    expect403Page(await postSso(v3Form(randomUUID())));
    expect403Page(await postSso(kensaForm('1')));
  });

  it('never logs SSO tokens or the salt', async () => {
    const id = await newResource();
    const form = kensaForm(id);
    await postSso(form);
    await postSso({ ...form, token: 'invalid' });
    const logs = capturedLogs.join('\n');
    expect(logs).toContain('sso signed in');
    expect(logs).toContain('sso refused');
    expect(logs).not.toContain(form.token);
    expect(logs).not.toContain(SALT);
  });
});

describe('SSO: legacy GET /heroku/resources/:id (checklist 27)', () => {
  // kensa does not URL-encode the values: the raw '+' of base64 must survive.
  const legacyUrl = (id: string, token: string, timestamp: string) =>
    `/heroku/resources/${id}?token=${token}&timestamp=${timestamp}&nav-data=${NAV_DATA}&email=username@example.com&app=myapp`;

  it('27: a valid token without Basic auth → 302 to /dashboard, then 200; nav-data kept byte for byte', async () => {
    const id = await newResource();
    const timestamp = seconds(clock.now());
    const agent = request.agent(app);
    const res = await agent.get(legacyUrl(id, legacyToken(id, SALT, timestamp), timestamp));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/dashboard');
    expect(cookieLine(res, 'heroku-nav-data')!.split(';')[0]).toBe(`heroku-nav-data=${NAV_DATA}`);
    const page = await agent.get('/dashboard');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="heroku-header"></div>');
  });

  it('27: a bad token → 403 HTML (not 401: this path is not behind Basic auth)', async () => {
    const id = await newResource();
    expect403Page(await request(app).get(legacyUrl(id, 'invalid', seconds(clock.now()))));
    expect403Page(await request(app).get(`/heroku/resources/${id}`));
    expect403Page(await request(app).get(legacyUrl('not-a-uuid', 'x', seconds(clock.now()))));
  });
});

describe('sessions', () => {
  async function signedInAgent(): Promise<{ agent: ReturnType<typeof request.agent>; cookie: string }> {
    const id = await newResource();
    const agent = request.agent(app);
    const res = await postSso(kensaForm(id), agent);
    return { agent, cookie: cookieLine(res, SESSION_COOKIE)!.split(';')[0]!.slice(SESSION_COOKIE.length + 1) };
  }

  function flipOneByte(value: string, at: number): string {
    const c = value[at]!;
    return value.slice(0, at) + (c === 'A' ? 'B' : 'A') + value.slice(at + 1);
  }

  it('a session cookie altered by one byte is refused (payload or signature)', async () => {
    const { cookie } = await signedInAgent();
    const ok = await request(app).get('/dashboard').set('Cookie', `${SESSION_COOKIE}=${cookie}`);
    expect(ok.status).toBe(200);
    for (const at of [3, cookie.indexOf('.') - 1, cookie.length - 2]) {
      const tampered = flipOneByte(cookie, at);
      expect(tampered).not.toBe(cookie);
      const res = await request(app).get('/dashboard').set('Cookie', `${SESSION_COOKIE}=${tampered}`);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
  });

  it('a session ends after the configured lifetime without activity', async () => {
    const { agent } = await signedInAgent();
    // Before half its life, a request does not renew it (the dashboard tests cover renewal).
    clock.advance((deps.config.sessionTtlSeconds / 2 - 1) * 1000);
    expect((await agent.get('/dashboard')).status).toBe(200);
    clock.advance((deps.config.sessionTtlSeconds / 2 + 2) * 1000);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });

  it('a session signed with another secret is refused', async () => {
    const { cookie } = await signedInAgent();
    const other = createApp(testDeps(tdb.db, { clock, env: { SESSION_SECRET: 'another-secret-that-is-long-enough-0123456789' } }));
    expect((await request(other).get('/dashboard').set('Cookie', `${SESSION_COOKIE}=${cookie}`)).status).toBe(401);
  });

  it('POST /logout clears the session', async () => {
    const { agent } = await signedInAgent();
    const res = await agent.post('/logout');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(cookieLine(res, SESSION_COOKIE)).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await agent.get('/dashboard')).status).toBe(401);
  });
});

describe('development SSO helper: GET /dev/sso/:id', () => {
  it('signs the developer in and lands on the dashboard', async () => {
    const id = await newResource();
    const agent = request.agent(app);
    const res = await agent.get(`/dev/sso/${id}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/dashboard');
    const page = await agent.get('/dashboard');
    expect(page.status).toBe(200);
  });

  it('answers 404 for an unknown resource', async () => {
    expect((await request(app).get(`/dev/sso/${randomUUID()}`)).status).toBe(404);
    expect((await request(app).get('/dev/sso/nope')).status).toBe(404);
  });

  it('answers 404 in production, where the session cookie is also Secure', async () => {
    const prod = testDeps(tdb.db, {
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
    });
    const prodApp = createApp(prod);
    const id = await newResource();
    expect((await request(prodApp).get(`/dev/sso/${id}`)).status).toBe(404);
    const timestamp = seconds(clock.now());
    const res = await request(prodApp)
      .post('/sso/login')
      .type('form')
      .send({ resource_id: id, timestamp, resource_token: resourceToken(id, prod.config.heroku.ssoSalt, timestamp) });
    expect(res.status).toBe(303);
    expect(cookieLine(res, SESSION_COOKIE)).toMatch(/; Secure/);
  });
});
