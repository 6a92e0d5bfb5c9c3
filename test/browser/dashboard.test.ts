import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startWorker, type WorkerHandle } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { closeServer, listen } from '../../src/web.js';
import { createResource, type ResourceFixture } from '../helpers/factories.js';
import { testDeps } from '../helpers/deps.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';

/**
 * The dashboard and the portal in a real browser (Debian's Chromium, headless) against a real
 * server and a real worker in this process, delivering to a real receiver: what a person sees,
 * with the CSP in force (every page's script must run without 'unsafe-inline').
 */
const TIMEOUT = 60_000;

const SHOTS = path.resolve('test-artifacts/screenshots');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

let tdb: TestDb;
let deps: Deps;
let server: Server;
let worker: WorkerHandle;
let receiver: Receiver;
let browser: Browser;
let base: string;
let resource: ResourceFixture;
/** Console messages about the CSP refusing something of ours (boomerang is blocked on purpose). */
const cspViolations: string[] = [];

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // No internet here: Heroku's nav script is refused before it leaves the browser.
  await context.route('https://s3.amazonaws.com/**', (route) => route.abort());
  return context;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Reloads until `selector` appears: the worker delivers in the background. */
async function reloadUntil(page: Page, selector: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if ((await page.locator(selector).count()) > 0) return;
    if (Date.now() > until) throw new Error(`${selector} did not appear on ${page.url()}`);
    await new Promise((r) => setTimeout(r, 250));
    await page.reload();
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { env: { LOG_LEVEL: 'warn', WORKER_POLL_INTERVAL_MS: '200' } });
  server = await listen(deps, 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  worker = startWorker(deps, { retentionIntervalMs: 0 });
  receiver = await startReceiver();
  resource = await createResource(tdb.db, { plan: 'basic', name: 'browser-test' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  if (server) await closeServer(server, 2_000);
  await receiver?.close();
  await tdb?.destroy();
}, TIMEOUT);

describe('in a browser', () => {
  let dashboard: Page;
  let endpointUrl: string;

  it('signs in through SSO, creates an endpoint, sends a test event and sees the attempt succeed', async () => {
    const context = await newContext();
    dashboard = await newPage(context);
    await dashboard.goto(`${base}/dev/sso/${resource.id}`);
    await dashboard.waitForURL(`${base}/dashboard`);
    await dashboard.locator('h1').waitFor();
    // Chart.js ran under the CSP.
    await dashboard.locator('#chart-day-canvas[data-rendered="true"]').waitFor();
    await shot(dashboard, '01-overview');

    await dashboard.click('nav >> text=Endpoints');
    await dashboard.click('text=Add endpoint');
    // A mistake first: the service's message appears next to the field.
    await dashboard.fill('#url', `${receiver.url}/hook`);
    await dashboard.fill('#timeout', '99');
    await dashboard.click('button:has-text("Create endpoint")');
    await dashboard.locator('#field-timeout .field-error').waitFor();
    expect(await dashboard.textContent('#field-timeout .field-error')).toContain('timeout: must be a whole number of seconds between 1 and 30');
    await shot(dashboard, '02-endpoint-form-error');
    await dashboard.fill('#timeout', '5');
    await dashboard.fill('#description', 'Browser test receiver');
    await dashboard.fill('#event_types', 'order.*');
    await dashboard.click('button:has-text("Create endpoint")');
    await dashboard.locator('.notice').waitFor();
    expect(await dashboard.textContent('.notice')).toContain('Endpoint created.');
    endpointUrl = dashboard.url().split('?')[0]!;

    await dashboard.click('button:has-text("Reveal secret")');
    const secret = (await dashboard.textContent('#secret-value'))!.trim();
    expect(secret).toMatch(/^whsec_/);
    await shot(dashboard, '03-endpoint');

    await dashboard.goto(endpointUrl);
    await dashboard.click('button:has-text("Send test event")');
    await dashboard.waitForURL(/\/dashboard\/messages\/[0-9a-f-]{36}/);
    await reloadUntil(dashboard, '.badge[data-status="succeeded"]');
    expect(await dashboard.locator('details.attempt[open] summary').textContent()).toContain('HTTP 200');
    // The receiver got exactly what the page says was sent.
    const got = receiver.on('/hook')[0]!;
    expect(await dashboard.locator('.attempt-request-body').first().textContent()).toBe(got.body);
    await shot(dashboard, '04-test-message');
  }, TIMEOUT);

  it('shows a failing endpoint\'s failure and its retry, then recovers it', async () => {
    receiver.script('/hook', { status: 500, body: 'receiver is down' });
    const sent = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${resource.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event_type: 'order.created', event_id: 'order-1', data: { order: 1, note: '<script>alert(1)</script>' } }),
    });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    await dashboard.goto(`${base}/dashboard/messages/${id}`);
    await reloadUntil(dashboard, '.badge[data-status="failed"]');
    expect(await dashboard.textContent('#payload-json')).toContain('<script>alert(1)</script>');
    expect(await dashboard.locator('details.attempt').count()).toBe(1);
    // The first retry comes about 5 s later (±20 %).
    await reloadUntil(dashboard, 'details.attempt >> nth=1', 15_000);
    expect(await dashboard.locator('details.attempt').count()).toBe(2);
    expect(await dashboard.textContent('body')).toContain('receiver is down');
    await shot(dashboard, '05-failed-message');

    receiver.script('/hook', { status: 204 });
    await dashboard.goto(endpointUrl);
    await dashboard.click('text=Recover failed messages…');
    await dashboard.click('button:has-text("Count deliveries")');
    expect(await dashboard.textContent('#recover-count')).toMatch(/1 delivery since .* will be queued again/);
    await shot(dashboard, '06-recover-confirm');
    await dashboard.click('#recover-confirm button[type="submit"]');
    expect(await dashboard.textContent('.notice')).toContain('Recovery started: 1 delivery was queued again.');
    await dashboard.goto(`${base}/dashboard/messages/${id}`);
    await reloadUntil(dashboard, '.badge[data-status="succeeded"]');
    expect(await dashboard.locator('details.attempt').count()).toBe(3);

    await dashboard.goto(`${base}/dashboard/endpoints`);
    await shot(dashboard, '07-endpoints');
    await dashboard.goto(`${base}/dashboard`);
    await dashboard.locator('#chart-day-canvas[data-rendered="true"]').waitFor();
    await shot(dashboard, '07-overview-with-attempts');
  }, TIMEOUT);

  it('refuses a form whose CSRF token was tampered with', async () => {
    await dashboard.goto(endpointUrl);
    // A string, so this Node-typed file needs no DOM types.
    await dashboard.evaluate(`document.querySelectorAll('input[name="_csrf"]').forEach((i) => { i.value = 'forged'; })`);
    await dashboard.click('button:has-text("Disable")');
    await dashboard.locator('h1').waitFor();
    expect(await dashboard.textContent('h1')).toContain('403');
    expect(await dashboard.textContent('body')).toContain('This form has expired or did not come from a Herald page.');
    await shot(dashboard, '08-csrf-refused');
    await dashboard.goto(endpointUrl);
    expect(await dashboard.locator('.badge.active').count()).toBeGreaterThan(0);
  }, TIMEOUT);

  it('creates a subscriber and a portal link; the portal shows only that subscriber\'s things', async () => {
    await dashboard.goto(`${base}/dashboard/subscribers`);
    await dashboard.click('text=Add subscriber');
    await dashboard.fill('#name', 'Acme Corp');
    await dashboard.fill('#external_id', 'cus_acme');
    await dashboard.click('button:has-text("Create subscriber")');
    await dashboard.locator('.notice').waitFor();
    await dashboard.click('button:has-text("Create portal link")');
    const link = (await dashboard.textContent('#portal-link-url'))!.trim();
    expect(link).toContain('/portal/open?token=');
    await shot(dashboard, '09-subscriber');

    // The subscriber opens the link in their own browser (on this test server: PUBLIC_URL names
    // another port, since the server listens on a free one).
    expect(link.startsWith(`${deps.config.publicUrl}/portal/open?token=`)).toBe(true);
    const portal = await newPage(await newContext());
    await portal.goto(base + link.slice(deps.config.publicUrl.length));
    await portal.waitForURL(`${base}/portal`);
    expect(await portal.textContent('h1')).toContain('Webhooks for Acme Corp');
    expect(await portal.locator('#heroku-header').count()).toBe(0);
    await portal.click('text=Add endpoint');
    await portal.fill('#url', `${receiver.url}/acme`);
    await portal.click('button:has-text("Create endpoint")');
    await portal.locator('.notice').waitFor();
    await portal.click('button:has-text("Send test event")');
    await reloadUntil(portal, '.badge[data-status="succeeded"]');
    await portal.goto(`${base}/portal`);
    await shot(portal, '10-portal');
    // The app's own endpoint, by its id: not found. The dashboard: not signed in.
    const ownId = endpointUrl.split('/').pop()!;
    const own = await portal.goto(`${base}/portal/endpoints/${ownId}`);
    expect(own!.status()).toBe(404);
    const dash = await portal.goto(`${base}/dashboard`);
    expect(dash!.status()).toBe(401);
    await portal.goto(`${base}/portal/verify`);
    expect(await portal.textContent('body')).toContain('standardwebhooks');
    await shot(portal, '11-portal-verify');
  }, TIMEOUT);

  it('ran every script of ours under the CSP', () => {
    expect(cspViolations.filter((v) => !v.includes('s3.amazonaws.com'))).toEqual([]);
  });
});
