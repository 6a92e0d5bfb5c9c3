import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { deriveApiKey } from '../../src/apiKeys.js';
import type { Deps } from '../../src/deps.js';
import { getResource } from '../../src/db/resources.js';
import { csrfToken } from '../../src/http/dashboard/csrf.js';
import { createPortalLink } from '../../src/services/portal.js';
import { encodeSession, PORTAL_COOKIE, SESSION_COOKIE, type Session } from '../../src/session.js';
import { legacyToken, resourceToken, userScopedResourceToken } from '../../src/ssoTokens.js';
import { manualClock, testConfig, testDeps } from '../helpers/deps.js';
import { partnerAuthHeader } from '../helpers/heroku.js';
import {
  clientErrorProblem,
  describeRequest,
  jsonRequest,
  rawClient,
  snapshotDb,
  type RawClient,
  type RawRequest,
  type RawResponse,
} from '../helpers/hostile.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { fixture, type Fixture } from './apiSetup.js';

/**
 * Table-driven: every protected route against every way of presenting no, wrong, stale, altered or
 * someone else's credentials. Each is refused with the status the surface promises, a proper body,
 * and nothing written. (A right credential is shown to work once per surface, so a refusal cannot
 * come from a broken route.)
 */

const START = '2026-11-23T12:00:00Z';
const clock = manualClock(START);
let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let a: Fixture;
let b: Fixture;
let gone: Fixture;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock, env: { LOG_LEVEL: 'warn' } });
  client = await rawClient(createApp(deps));
  a = await fixture(tdb.db, deps.config);
  b = await fixture(tdb.db, deps.config);
  gone = await fixture(tdb.db, deps.config);
  await tdb.db('resources').where({ id: gone.resourceId }).update({ state: 'deprovisioned', deprovisioned_at: new Date(START) });
});
afterEach(() => clock.set(START));
afterAll(async () => {
  await client.close();
  await tdb.destroy();
});

/** Sends `req`, expects `status` with a proper refusal body, and that nothing was written. */
async function refused(req: RawRequest, status: number, kind: 'json' | 'html' = 'json'): Promise<RawResponse> {
  const before = await snapshotDb(tdb.db);
  const res = await client.send(req);
  const where = describeRequest(req);
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} for ${where}: ${res.text.slice(0, 200)}`);
  const problem = clientErrorProblem(res, kind);
  if (problem) throw new Error(`${problem} for ${where}`);
  expect(await snapshotDb(tdb.db)).toEqual(before);
  return res;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const bearer = () => ({ Authorization: `Bearer ${a.apiKey}` });
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

describe('partner API: Basic auth on every route', () => {
  const routes = (): RawRequest[] => [
    { method: 'POST', path: '/heroku/resources', body: JSON.stringify({ uuid: randomUUID(), plan: 'test', region: 'us' }) },
    { method: 'PUT', path: `/heroku/resources/${a.resourceId}`, body: '{"plan":"pro"}' },
    { method: 'DELETE', path: `/heroku/resources/${a.resourceId}` },
    { method: 'PUT', path: `/heroku/resources/${randomUUID()}`, body: '{"plan":"pro"}' },
    { method: 'DELETE', path: `/heroku/resources/${gone.resourceId}` },
    { method: 'POST', path: `/heroku/resources/${a.resourceId}/events`, body: '{"event":"deploy","detail":{}}' },
  ];
  const id = () => deps.config.heroku.addonId;
  const pass = () => deps.config.heroku.apiPassword;
  const CREDENTIALS: Array<[string, () => string | undefined]> = [
    ['none', () => undefined],
    ['empty header', () => ''],
    ['scheme only', () => 'Basic'],
    ['not base64', () => 'Basic !!!%%%'],
    ['no colon', () => `Basic ${Buffer.from(id() + pass()).toString('base64')}`],
    ['empty user and password', () => basic('', '')],
    ['wrong user', () => basic('someone-else', pass())],
    ['wrong password', () => basic(id(), 'wrong-password')],
    ['password one character short', () => basic(id(), pass().slice(0, -1))],
    ['password with one more character', () => basic(id(), `${pass()}x`)],
    ['password with a different last byte', () => basic(id(), pass().slice(0, -1) + (pass().endsWith('a') ? 'b' : 'a'))],
    ['user and password swapped', () => basic(pass(), id())],
    ['password as a Bearer token', () => `Bearer ${pass()}`],
    ['a customer API key', () => `Bearer ${a.apiKey}`],
  ];

  it.each(CREDENTIALS)('%s → 401 with a Basic challenge on every route, nothing written', async (_name, auth) => {
    for (const route of routes()) {
      const res = await refused({ ...route, headers: { 'Content-Type': 'application/json', Authorization: auth() } }, 401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="heroku"');
      expect(res.json).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('the right credentials reach each route (so the refusals above are the auth)', async () => {
    const res = await client.send(jsonRequest('PUT', `/heroku/resources/${a.resourceId}`, '{"plan":"basic"}', { Authorization: partnerAuthHeader(deps.config) }));
    expect(res.status).toBe(200);
  });
});

describe('customer API: Bearer API key on every route', () => {
  const routes = (r: Fixture): RawRequest[] => [
    { method: 'GET', path: '/v1/subscribers' },
    { method: 'POST', path: '/v1/subscribers', body: '{"name":"x"}' },
    { method: 'GET', path: `/v1/subscribers/${r.subscriberId}` },
    { method: 'PATCH', path: `/v1/subscribers/${r.subscriberId}`, body: '{"name":"y"}' },
    { method: 'DELETE', path: `/v1/subscribers/${r.subscriberId}` },
    { method: 'POST', path: `/v1/subscribers/${r.subscriberId}/portal-link`, body: '{}' },
    { method: 'GET', path: '/v1/endpoints' },
    { method: 'POST', path: '/v1/endpoints', body: '{"url":"http://93.184.216.34/"}' },
    { method: 'GET', path: `/v1/endpoints/${r.endpointId}` },
    { method: 'PATCH', path: `/v1/endpoints/${r.endpointId}`, body: '{"description":"d"}' },
    { method: 'DELETE', path: `/v1/endpoints/${r.endpointId}` },
    { method: 'GET', path: `/v1/endpoints/${r.endpointId}/secret` },
    { method: 'POST', path: `/v1/endpoints/${r.endpointId}/secret/rotate`, body: '{}' },
    { method: 'POST', path: `/v1/endpoints/${r.endpointId}/recover`, body: '{"since":"2026-11-23T00:00:00Z"}' },
    { method: 'POST', path: `/v1/endpoints/${r.endpointId}/test`, body: '{}' },
    { method: 'GET', path: '/v1/event-types' },
    { method: 'POST', path: '/v1/event-types', body: '{"name":"a.b"}' },
    { method: 'GET', path: '/v1/messages' },
    { method: 'POST', path: '/v1/messages', body: '{"event_type":"a.b","data":{}}' },
    { method: 'GET', path: `/v1/messages/${r.messageId}` },
    { method: 'GET', path: '/v1/deliveries' },
    { method: 'GET', path: `/v1/deliveries/${r.deliveryId}` },
    { method: 'POST', path: `/v1/deliveries/${r.deliveryId}/retry`, body: '{}' },
  ];
  const json = (req: RawRequest, auth: string | undefined): RawRequest => ({
    ...req,
    headers: { Authorization: auth, ...(req.body ? { 'Content-Type': 'application/json' } : {}) },
  });
  const altered = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
  const KEYS: Array<[string, () => string | undefined]> = [
    ['no header', () => undefined],
    ['empty', () => ''],
    ['scheme only', () => 'Bearer'],
    ['Basic instead of Bearer', () => basic('x', a.apiKey)],
    ['a wrong key', () => 'Bearer hrld_wrongwrongwrongwrongwrongwrongwrongwrong'],
    ['the key with its last character changed', () => `Bearer ${altered(a.apiKey)}`],
    ['the key one character short', () => `Bearer ${a.apiKey.slice(0, -1)}`],
    ['the key with a suffix', () => `Bearer ${a.apiKey}x`],
    ['the key as derived under another API_KEY_SECRET', () => `Bearer ${deriveApiKey('another-secret-of-at-least-32-characters', a.resourceId, 1)}`],
    ['the next generation of the key', () => `Bearer ${deriveApiKey(deps.config.apiKeySecret, a.resourceId, 2)}`],
    ["a deprovisioned resource's key", () => `Bearer ${gone.apiKey}`],
    ['the partner password', () => `Bearer ${deps.config.heroku.apiPassword}`],
    ['two keys', () => `Bearer ${a.apiKey} ${b.apiKey}`],
  ];

  it.each(KEYS)('%s → 401 with a Bearer challenge on every route, nothing written', async (_name, auth) => {
    for (const route of routes(a)) {
      const res = await refused(json(route, auth()), 401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="herald"');
    }
  });

  it("another resource's key → 404 on every route that names one of this resource's rows", async () => {
    for (const route of routes(a).filter((r) => /[0-9a-f]{8}-/.test(r.path))) {
      await refused(json(route, `Bearer ${b.apiKey}`), 404);
    }
  });

  it("another resource's key lists none of this resource's rows", async () => {
    const mine = new Set([a.subscriberId, a.endpointId, a.messageId, a.deliveryId]);
    for (const path of ['/v1/subscribers', '/v1/endpoints', '/v1/messages', '/v1/deliveries']) {
      const res = await client.send({ method: 'GET', path, headers: { Authorization: `Bearer ${b.apiKey}` } });
      expect(res.status).toBe(200);
      const ids = (res.json as { data: Array<{ id: string }> }).data.map((d) => d.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.filter((id) => mine.has(id))).toEqual([]);
    }
  });

  it('the right key reaches each route', async () => {
    for (const route of routes(a).filter((r) => r.method === 'GET')) {
      expect((await client.send(json(route, `Bearer ${a.apiKey}`))).status).toBe(200);
    }
  });
});

describe('dashboard: the session cookie', () => {
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const session = (over: Partial<Session> = {}): Session => ({
    resourceId: a.resourceId,
    email: 'dev@example.com',
    userId: null,
    app: 'demo',
    kind: 'heroku',
    sid: 'sid-of-the-test-session',
    iat: now(),
    exp: now() + 3600,
    max: now() + 86_400,
    ...over,
  });
  const cookie = (value: string, name = SESSION_COOKIE) => ({ Cookie: `${name}=${value}` });
  const pages = (s: Session): RawRequest[] => {
    const form = `_csrf=${encodeURIComponent(csrfToken(deps.config, s))}`;
    const post = (path: string): RawRequest => ({ method: 'POST', path, headers: FORM, body: form });
    return [
      { method: 'GET', path: '/dashboard' },
      { method: 'GET', path: '/dashboard/endpoints' },
      { method: 'GET', path: `/dashboard/endpoints/${a.endpointId}` },
      { method: 'GET', path: '/dashboard/messages' },
      { method: 'GET', path: '/dashboard/subscribers' },
      { method: 'GET', path: '/dashboard/api-key' },
      post('/dashboard/api-key'),
      post(`/dashboard/endpoints/${a.endpointId}/secret`),
      post(`/dashboard/endpoints/${a.endpointId}/secret/rotate`),
      post(`/dashboard/endpoints/${a.endpointId}/delete`),
      post(`/dashboard/deliveries/${a.deliveryId}/retry`),
      post('/dashboard/logout'),
    ];
  };
  const withCookie = (req: RawRequest, c: Record<string, string>): RawRequest => ({ ...req, headers: { ...req.headers, ...c } });

  /** Every single-byte change of the cookie that stays within its alphabet. */
  const alterations = (value: string): string[] => {
    const positions = [0, 1, Math.floor(value.indexOf('.') / 2), value.indexOf('.') - 1, value.indexOf('.'), value.indexOf('.') + 1, value.length - 2, value.length - 1];
    return positions.map((i) => value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1));
  };

  const good = () => encodeSession(deps.config, session());
  const CASES: Array<[string, number, () => Record<string, string>]> = [
    ['no cookie', 401, () => ({})],
    ['an empty cookie', 401, () => cookie('')],
    ['garbage', 401, () => cookie('not-a-session')],
    ['no signature', 401, () => cookie(good().split('.')[0]!)],
    ['an expired session', 401, () => cookie(encodeSession(deps.config, session({ iat: now() - 7200, exp: now() - 1 })))],
    [
      'a session signed with another SESSION_SECRET',
      401,
      () => cookie(encodeSession(testConfig({ SESSION_SECRET: 'a-completely-different-session-secret-32' }), session())),
    ],
    ['a portal session in the dashboard cookie', 401, () => cookie(encodeSession(deps.config, session({ kind: 'portal', subscriberId: a.subscriberId })))],
    ['the dashboard session in the portal cookie only', 401, () => cookie(good(), PORTAL_COOKIE)],
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((n): [string, number, () => Record<string, string>] => [
      `the cookie altered at sample byte ${n}`,
      401,
      () => cookie(alterations(good())[n]!),
    ]),
    ['a session for a deprovisioned resource', 403, () => cookie(encodeSession(deps.config, session({ resourceId: gone.resourceId })))],
    ['a session for a resource that never existed', 403, () => cookie(encodeSession(deps.config, session({ resourceId: randomUUID() })))],
  ];

  it.each(CASES)('%s → %i page on every dashboard route, nothing written', async (_name, status, c) => {
    for (const page of pages(session())) await refused(withCookie(page, c()), status, 'html');
  });

  it('a valid session without the CSRF token cannot post anything', async () => {
    const good = cookie(encodeSession(deps.config, session()));
    for (const page of pages(session()).filter((p) => p.method === 'POST')) {
      await refused({ ...page, headers: { ...page.headers, ...good }, body: '_csrf=wrong' }, 403, 'html');
      await refused({ ...page, headers: { ...good, 'Content-Type': 'application/json' }, body: '{}' }, 403, 'html');
    }
  });

  it('the valid session reaches each page', async () => {
    const good = cookie(encodeSession(deps.config, session()));
    for (const page of pages(session()).filter((p) => p.method === 'GET')) {
      expect((await client.send(withCookie(page, good))).status).toBe(200);
    }
  });
});

describe('SSO: tokens', () => {
  const ts = (offsetSeconds: number) => String(Math.floor(clock.now().getTime() / 1000) + offsetSeconds);
  const salt = () => deps.config.heroku.ssoSalt;
  const WRONG_SALT = 'a-salt-that-is-not-ours';
  type Form = Record<string, string>;
  const v3 = (t: string, sl = salt(), rid = a.resourceId): Form => ({ resource_id: rid, timestamp: t, resource_token: resourceToken(rid, sl, t) });
  const scoped = (t: string, sl = salt()): Form => ({
    resource_id: a.resourceId,
    timestamp: t,
    user_id: 'u1',
    email: 'dev@example.com',
    user_scoped_resource_token: userScopedResourceToken(a.resourceId, sl, t, 'u1', 'dev@example.com'),
  });
  const legacy = (t: string, sl = salt()): Form => ({ id: a.resourceId, timestamp: t, token: legacyToken(a.resourceId, sl, t) });
  const FORMS: Array<[string, () => Form]> = [
    ['an expired v3 token (301 s old)', () => v3(ts(-301))],
    ['an expired user-scoped token', () => scoped(ts(-301))],
    ['an expired legacy token', () => legacy(ts(-301))],
    ['a v3 token from the future (61 s ahead)', () => v3(ts(61))],
    ['a legacy token from the future', () => legacy(ts(61))],
    ['a forged v3 token', () => ({ ...v3(ts(0)), resource_token: 'f'.repeat(40) })],
    ['a forged user-scoped token', () => ({ ...scoped(ts(0)), user_scoped_resource_token: '0'.repeat(64) })],
    ['a v3 token made with the wrong salt', () => v3(ts(0), WRONG_SALT)],
    ['a user-scoped token made with the wrong salt', () => scoped(ts(0), WRONG_SALT)],
    ['a legacy token made with the wrong salt', () => legacy(ts(0), WRONG_SALT)],
    ['a user-scoped token with the email changed', () => ({ ...scoped(ts(0)), email: 'attacker@example.com' })],
    ['a v3 token of another resource', () => ({ ...v3(ts(0)), resource_id: b.resourceId })],
    ['a v3 token with another timestamp', () => ({ ...v3(ts(0)), timestamp: ts(-1) })],
    ['a valid token for a deprovisioned resource', () => v3(ts(0), salt(), gone.resourceId)],
    ['the salt itself as the token', () => ({ ...v3(ts(0)), resource_token: salt() })],
    ['no token', () => ({ resource_id: a.resourceId, timestamp: ts(0) })],
  ];
  const encode = (f: Form) => new URLSearchParams(f).toString();

  it.each(FORMS)('%s → 403 page, by POST /sso/login and by the legacy GET', async (_name, makeForm) => {
    const form = makeForm();
    const res = await refused({ method: 'POST', path: '/sso/login', headers: FORM, body: encode(form) }, 403, 'html');
    expect(String(res.headers['set-cookie'] ?? '')).not.toMatch(/herald_session=[^;]/);
    const { id, resource_id, ...rest } = form;
    await refused({ method: 'GET', path: `/heroku/resources/${id ?? resource_id}?${encode(rest)}` }, 403, 'html');
  });

  it('the right token signs in (so the refusals above are the token checks)', async () => {
    const t = ts(0);
    const form = encode({ resource_id: a.resourceId, timestamp: t, resource_token: resourceToken(a.resourceId, salt(), t) });
    const res = await client.send({ method: 'POST', path: '/sso/login', headers: FORM, body: form });
    expect(res.status).toBe(303);
  });
});

describe('portal: signed links and the portal cookie', () => {
  const link = async (expiresIn = 3600): Promise<string> => {
    const res = await client.send(jsonRequest('POST', `/v1/subscribers/${a.subscriberId}/portal-link`, { expires_in: expiresIn }, bearer()));
    expect(res.status).toBe(201);
    return new URL((res.json as { url: string }).url).searchParams.get('token')!;
  };
  const open = (token: string): RawRequest => ({ method: 'GET', path: `/portal/open?token=${encodeURIComponent(token)}` });

  it('forged, altered, expired, foreign-key-signed, oversized or empty links → 403 page, no cookie', async () => {
    const token = await link();
    const [data, sig] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Record<string, unknown>;
    const reclaimed = (c: Record<string, unknown>) => `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${sig}`;
    const portalSession = { resourceId: a.resourceId, subscriberId: a.subscriberId, kind: 'portal' as const, email: null, userId: null, app: null, sid: 's' };
    const bad: Array<[string, string]> = [
      ['empty', ''],
      ['no signature', data],
      ['signature only', `.${sig}`],
      ['signature altered', `${data}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`],
      ['data altered', `${data.slice(0, -1)}${data.endsWith('A') ? 'B' : 'A'}.${sig}`],
      ['another subscriber in the claims', reclaimed({ ...claims, s: b.subscriberId })],
      ['a later expiry in the claims', reclaimed({ ...claims, exp: (claims.exp as number) + 86_400 })],
      ['a session cookie as a link', encodeSession(deps.config, { ...portalSession, iat: 0, exp: 2e9, max: 2e9 })],
      ['oversized', `${'A'.repeat(2000)}.${sig}`],
    ];
    for (const [, t] of bad) {
      const res = await refused(open(t), 403, 'html');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    clock.advance(3601 * 1000);
    await refused(open(token), 403, 'html');
  });

  it('a link for a deleted subscriber or a deprovisioned resource → 403 page', async () => {
    const res = await client.send(jsonRequest('POST', '/v1/subscribers', '{"name":"Temp"}', bearer()));
    const temp = (res.json as { id: string }).id;
    const tl = await client.send(jsonRequest('POST', `/v1/subscribers/${temp}/portal-link`, '{}', bearer()));
    const token = new URL((tl.json as { url: string }).url).searchParams.get('token')!;
    await tdb.db('subscribers').where({ id: temp }).delete();
    await refused(open(token), 403, 'html');
    // Signed while the resource was live (the service signs whatever it is asked to): opening it now fails.
    const goneLink = await createPortalLink(deps, (await getResource(tdb.db, gone.resourceId))!, gone.subscriberId);
    await refused(open(new URL(goneLink.url).searchParams.get('token')!), 403, 'html');
  });

  it('portal pages: no cookie, an expired, altered or dashboard cookie → 401; a deleted subscriber → 403', async () => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const portal = (over: Partial<Session> = {}): Session => ({
      resourceId: a.resourceId,
      subscriberId: a.subscriberId,
      kind: 'portal',
      email: null,
      userId: null,
      app: null,
      sid: 'portal-sid',
      iat: now,
      exp: now + 3600,
      max: now + 3600,
      ...over,
    });
    const good = encodeSession(deps.config, portal());
    const dashboard = encodeSession(deps.config, { ...portal(), kind: 'heroku', subscriberId: undefined } as Session);
    const pages: RawRequest[] = [
      { method: 'GET', path: '/portal' },
      { method: 'GET', path: '/portal/endpoints' },
      { method: 'GET', path: '/portal/messages' },
      { method: 'GET', path: '/portal/verify' },
      { method: 'POST', path: `/portal/endpoints/${a.endpointId}/secret`, headers: FORM, body: `_csrf=${encodeURIComponent(csrfToken(deps.config, portal()))}` },
    ];
    const cases: Array<[string | undefined, number]> = [
      [undefined, 401],
      [`${PORTAL_COOKIE}=${encodeSession(deps.config, portal({ iat: now - 7200, exp: now - 1 }))}`, 401],
      [`${PORTAL_COOKIE}=${good.slice(0, 5)}${good[5] === 'A' ? 'B' : 'A'}${good.slice(6)}`, 401],
      [`${PORTAL_COOKIE}=${dashboard}`, 401],
      [`${SESSION_COOKIE}=${good}`, 401],
      [`${PORTAL_COOKIE}=${encodeSession(deps.config, portal({ subscriberId: randomUUID() }))}`, 403],
      [`${PORTAL_COOKIE}=${encodeSession(deps.config, portal({ resourceId: gone.resourceId, subscriberId: gone.subscriberId }))}`, 403],
    ];
    for (const [c, status] of cases) {
      for (const page of pages) await refused({ ...page, headers: { ...page.headers, ...(c ? { Cookie: c } : {}) } }, status, 'html');
    }
    expect((await client.send({ method: 'GET', path: '/portal', headers: { Cookie: `${PORTAL_COOKIE}=${good}` } })).status).toBe(200);
    // A portal session never opens the add-on owner's dashboard.
    await refused({ method: 'GET', path: '/dashboard', headers: { Cookie: `${SESSION_COOKIE}=${good}` } }, 401, 'html');
  });
});
