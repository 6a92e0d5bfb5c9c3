import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { runOnce } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import { SESSION_COOKIE, PORTAL_COOKIE } from '../../src/session.js';
import type { Resolver } from '../../src/ssrf.js';
import { resourceToken, userScopedResourceToken } from '../../src/ssoTokens.js';
import { capturedLogs, testDeps } from '../helpers/deps.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { csrfOf } from '../integration/dashboardSetup.js';

/**
 * One representative run of everything Herald does with a secret, at LOG_LEVEL=debug, with every
 * log line any Herald logger wrote captured (testDeps sends them all to `capturedLogs`). Then: no
 * secret, in any encoding a log line could carry it, appears in any line.
 */

const rand = (n = 24) => randomBytes(n).toString('base64url');
const ENV = {
  LOG_LEVEL: 'debug',
  ALLOW_PRIVATE_TARGETS: 'true',
  HEROKU_API_PASSWORD: `partner-pw-${rand()}`,
  HEROKU_SSO_SALT: `sso-salt-${rand()}`,
  SESSION_SECRET: `session-secret-${rand(32)}`,
  API_KEY_SECRET: `api-key-secret-${rand(32)}`,
};

let tdb: TestDb;
let deps: Deps;
let app: Express;
let receiver: Receiver;
/** Every secret seen during the run, with what it is (for the failure message). */
const secrets = new Map<string, string>();
const remember = (what: string, value: string | null | undefined) => {
  if (value) secrets.set(value, what);
};

/** Slack and Discord resolve to a closed local port: their deliveries fail (and are logged) without the internet. */
const chatDns: Resolver = async (host) => {
  if (host === 'hooks.slack.com' || host === 'discord.com') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { env: ENV });
  setUrlResolver(chatDns);
  app = createApp(deps);
  receiver = await startReceiver();
  for (const [k, v] of Object.entries(ENV)) if (/PASSWORD|SALT|SECRET/.test(k)) remember(k, v);
});
afterAll(async () => {
  setUrlResolver(undefined);
  await receiver.close();
  await tdb.destroy();
});

const cookieValue = (res: request.Response, name: string): string | undefined => {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  const line = (header ?? []).find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0]!.slice(name.length + 1);
};

it('no secret reaches any log line during provisioning, sign-in, the dashboard, the API, delivery and the portal', async () => {
  const partner = `Basic ${Buffer.from(`${deps.config.heroku.addonId}:${ENV.HEROKU_API_PASSWORD}`).toString('base64')}`;

  // --- Heroku provisions: the answer carries the API key; the request carries Heroku's own secrets.
  const resourceId = randomUUID();
  const oauthCode = `oauth-code-${rand()}`;
  const logToken = `t.${rand()}`;
  remember('oauth_grant.code', oauthCode);
  remember('log_input_url token', logToken);
  const provisioned = await request(app)
    .post('/heroku/resources')
    .set('Authorization', partner)
    .send({
      uuid: resourceId,
      plan: 'basic',
      region: 'amazon-web-services::us-east-1',
      callback_url: `https://api.heroku.com/addons/${resourceId}`,
      log_input_url: `https://token:${logToken}@1.us.logplex.io/logs`,
      oauth_grant: { code: oauthCode, expires_at: '2026-11-23T12:00:00Z', type: 'authorization_code' },
      options: {},
    })
    .expect(200);
  const apiKey = provisioned.body.config.HERALD_API_KEY as string;
  remember('HERALD_API_KEY', apiKey);
  const api = {
    get: (path: string) => request(app).get(path).set('Authorization', `Bearer ${apiKey}`),
    post: (path: string, body: object = {}) => request(app).post(path).set('Authorization', `Bearer ${apiKey}`).send(body),
  };

  // --- Failed authentication, with wrong secrets that must not be logged either.
  for (let i = 0; i < 3; i++) {
    const wrong = `wrong-password-${rand()}`;
    remember('a wrong partner password', wrong);
    const wrongAuth = `Basic ${Buffer.from(`${deps.config.heroku.addonId}:${wrong}`).toString('base64')}`;
    await request(app).put(`/heroku/resources/${resourceId}`).set('Authorization', wrongAuth).send({ plan: 'pro' }).expect(401);
    const wrongKey = `hrld_${rand(32)}`;
    remember('a wrong API key', wrongKey);
    await request(app).get('/v1/endpoints').set('Authorization', `Bearer ${wrongKey}`).expect(401);
  }
  const forged = 'f'.repeat(40);
  const forgedForm = { resource_id: resourceId, timestamp: String(Math.floor(Date.now() / 1000)), resource_token: forged };
  await request(app).post('/sso/login').type('form').send(forgedForm).expect(403);

  // --- SSO into the dashboard (the user-scoped token, then the v3 one).
  const agent = request.agent(app);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const scopedToken = userScopedResourceToken(resourceId, ENV.HEROKU_SSO_SALT, timestamp, 'user-1', 'dev@example.com');
  remember('user_scoped_resource_token', scopedToken);
  const signedIn = await agent
    .post('/sso/login')
    .type('form')
    .send({ resource_id: resourceId, timestamp, user_scoped_resource_token: scopedToken, user_id: 'user-1', email: 'dev@example.com', app: 'demo', 'nav-data': 'bmF2' })
    .expect(303);
  remember('session cookie', cookieValue(signedIn, SESSION_COOKIE));
  const v3Token = resourceToken(resourceId, ENV.HEROKU_SSO_SALT, timestamp);
  remember('resource_token', v3Token);
  await request(app).get(`/heroku/resources/${resourceId}?timestamp=${timestamp}&token=${v3Token}&app=demo`).expect(302);

  // --- Dashboard: overview, the API key page, an endpoint made by form, its secret revealed and rotated.
  const overview = await agent.get('/dashboard').expect(200);
  const csrf = csrfOf(overview.text);
  remember('CSRF token', csrf);
  const keyPage = await agent.post('/dashboard/api-key').type('form').send({ _csrf: csrf }).expect(200);
  expect(keyPage.text).toContain(apiKey);
  const created = await agent
    .post('/dashboard/endpoints')
    .type('form')
    .send({
      _csrf: csrf,
      url: `${receiver.url}/dashboard-hook`,
      format: 'standard',
      active: 'on',
      headers: `Authorization: Bearer receiver-token-${rand()}`,
      timeout: '5',
    })
    .expect(303);
  const dashboardEndpoint = /endpoints\/([0-9a-f-]{36})/.exec(created.headers.location!)![1]!;
  const headerSecret = (await tdb.db('endpoints').where({ id: dashboardEndpoint }).first()).headers.Authorization as string;
  remember('a custom Authorization header value', headerSecret);
  remember('a custom Authorization header token', headerSecret.replace('Bearer ', ''));
  const revealed = await agent.post(`/dashboard/endpoints/${dashboardEndpoint}/secret`).type('form').send({ _csrf: csrf }).expect(200);
  remember('endpoint secret (dashboard)', /whsec_[A-Za-z0-9+/=]+/.exec(revealed.text)![0]);
  const rotated = await agent.post(`/dashboard/endpoints/${dashboardEndpoint}/secret/rotate`).type('form').send({ _csrf: csrf }).expect(200);
  remember('rotated endpoint secret (dashboard)', /whsec_[A-Za-z0-9+/=]+/.exec(rotated.text)![0]);

  // --- Customer API: endpoints with a given secret, secret read and rotated, messages sent.
  const given = `whsec_${randomBytes(32).toString('base64')}`;
  remember('endpoint secret (given)', given);
  const endpointBody = { url: `${receiver.url}/api-hook`, secret: given, headers: { 'X-Api-Key': `customer-key-${rand()}` } };
  const endpoint = (await api.post('/v1/endpoints', endpointBody).expect(201)).body;
  const customHeader = (await tdb.db('endpoints').where({ id: endpoint.id }).first()).headers['X-Api-Key'] as string;
  remember('a custom X-Api-Key header value', customHeader);
  remember('endpoint secret (read)', (await api.get(`/v1/endpoints/${endpoint.id}/secret`).expect(200)).body.secret);
  remember('endpoint secret (rotated)', (await api.post(`/v1/endpoints/${endpoint.id}/secret/rotate`).expect(200)).body.secret);
  // Slack's and Discord's webhook URLs carry their credential in the path.
  const slackToken = rand(18);
  const discordToken = rand(30);
  remember('Slack webhook token', slackToken);
  remember('Discord webhook token', discordToken);
  await api.post('/v1/endpoints', { url: `https://hooks.slack.com/services/T000/B000/${slackToken}`, format: 'slack' }).expect(201);
  await api.post('/v1/endpoints', { url: `https://discord.com/api/webhooks/123/${discordToken}`, format: 'discord' }).expect(201);
  receiver.script('/api-hook', { status: 500 }, { status: 200 });
  for (let i = 0; i < 3; i++) await api.post('/v1/messages', { event_type: 'invoice.paid', data: { n: i } }).expect(202);

  // --- Heroku notification with a log token in it.
  const eventLogToken = `log-token-${rand()}`;
  remember('detail.log_token', eventLogToken);
  const notification = { event: 'deploy', heroku_id: 'app1@heroku.com', detail: { log_token: eventLogToken, app: 'demo' } };
  await request(app).post(`/heroku/resources/${resourceId}/events`).set('Authorization', partner).send(notification).expect(200);

  // --- The worker delivers (signed, at debug level every success is logged), one failure included.
  await runOnce(deps, { resolve: chatDns });
  await runOnce(deps, { resolve: chatDns });
  expect(receiver.requests.length).toBeGreaterThanOrEqual(8);
  for (const r of receiver.requests) remember('a webhook-signature header', r.headers['webhook-signature']);

  // --- Portal: a link, opened; its cookie.
  const subscriber = (await api.post('/v1/subscribers', { name: 'Acme' }).expect(201)).body;
  const link = (await api.post(`/v1/subscribers/${subscriber.id}/portal-link`).expect(201)).body.url as string;
  const portalToken = new URL(link).searchParams.get('token')!;
  remember('portal link token', portalToken);
  const opened = await request(app).get(`/portal/open?token=${portalToken}`).expect(303);
  remember('portal cookie', cookieValue(opened, PORTAL_COOKIE));
  await request(app).get(`/portal/open?token=${portalToken.slice(0, -2)}xx`).expect(403);

  // --- Sign out.
  await agent.post('/dashboard/logout').type('form').send({ _csrf: csrf }).expect(200);

  // The run logged at debug level, through every logger: otherwise this proves nothing.
  const lines = capturedLogs;
  expect(lines.some((l) => l.includes('"level":"debug"') && l.includes('"message":"delivered"'))).toBe(true);
  expect(lines.some((l) => l.includes('"message":"delivery attempt failed"'))).toBe(true);
  expect(lines.filter((l) => l.includes('"message":"request"')).length).toBeGreaterThan(20);
  expect(lines.some((l) => l.includes('"message":"sso signed in"'))).toBe(true);
  expect(secrets.size).toBeGreaterThan(20);

  // Every form a secret could take in a JSON log line: as is, JSON-escaped, URL-encoded, and for
  // endpoint secrets the base64 key without its whsec_ prefix.
  const needles = new Map<string, string>();
  for (const [value, what] of secrets) {
    needles.set(value, what);
    needles.set(JSON.stringify(value).slice(1, -1), `${what} (JSON-escaped)`);
    needles.set(encodeURIComponent(value), `${what} (URL-encoded)`);
    if (value.startsWith('whsec_')) needles.set(value.slice(6), `${what} (base64 body)`);
  }
  const leaksIn = (candidates: readonly string[]): string[] => {
    const leaks: string[] = [];
    for (const line of candidates) {
      for (const [needle, what] of needles) if (line.includes(needle)) leaks.push(`${what} in: ${line.slice(0, 300)}`);
    }
    return leaks;
  };
  // The detector itself finds a planted leak (a test that cannot fail proves nothing).
  expect(leaksIn([JSON.stringify({ message: 'oops', url: `https://x/?k=${encodeURIComponent(given)}` })])).not.toEqual([]);
  expect(leaksIn(lines)).toEqual([]);
});
