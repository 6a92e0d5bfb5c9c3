import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { manualClock } from '../../src/clock.js';
import { retryDelayBounds } from '../../src/delivery/retrySchedule.js';
import { claimDeliveries } from '../../src/delivery/sql/claimDeliveries.js';
import { runOnce } from '../../src/delivery/worker.js';
import { capturedLogs, testDeps } from '../helpers/deps.js';
import { createDelivery, createDeliveryGraph, createEndpoint, createManyDeliveries, createMessage, createResource } from '../helpers/factories.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';

let tdb: TestDb;
let receiver: Receiver;

beforeAll(async () => {
  tdb = await createTestDb();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await tdb.destroy();
});
beforeEach(async () => {
  receiver.clear();
  receiver.setDefault({ status: 200, body: 'ok' });
  await tdb.db.raw('truncate resources, subscribers, endpoints, messages, deliveries, attempts cascade');
});

const S = 1000;
const M = 60 * S;

async function deliveryRow(id: string) {
  return tdb.db('deliveries').where({ id }).first();
}
async function attemptsOf(deliveryId: string) {
  return tdb.db('attempts').where({ delivery_id: deliveryId }).orderBy('attempt_number');
}

describe('runOnce: one successful delivery', () => {
  it('POSTs the signed standard body and records the attempt', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, {
      endpoint: { url: `${receiver.url}/hook?token=querysecret`, headers: { 'X-Team': 'payments', Authorization: 'Bearer custom-token' } },
      message: { eventType: 'invoice.paid', payloadText: '{"invoice": "in_1",  "amount": 4200}', version: '2026-01-01' },
    });
    receiver.script('/hook', { status: 204, headers: { 'x-receiver': 'yes' } });

    const counts = await runOnce(deps);
    expect(counts).toEqual({ claimed: 1, succeeded: 1, failed: 0, dead: 0, skipped: 0 });

    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hook?token=querysecret');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^Herald-Webhooks\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/.+\)$/);
    expect(req.headers['x-team']).toBe('payments');
    expect(req.headers.authorization).toBe('Bearer custom-token');
    expect(req.headers['webhook-id']).toBe(`msg_${g.message.id.replace(/-/g, '')}`);
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now().getTime() / 1000)));
    expect(req.body).toBe(
      `{"type":"invoice.paid","timestamp":"${g.message.createdAt.toISOString()}","data":{"invoice": "in_1",  "amount": 4200},"version":"2026-01-01"}`,
    );
    expect(new Webhook(g.endpoint.secret).verify(req.body, req.headers)).toBeTruthy();

    const row = await deliveryRow(g.delivery.id);
    expect(row).toMatchObject({ status: 'succeeded', attempt_count: 1, last_status_code: 204, last_error: null, next_attempt_at: null, locked_by: null, locked_until: null });
    expect(row.completed_at.getTime()).toBe(clock.now().getTime());
    expect(row.last_attempt_at.getTime()).toBe(clock.now().getTime());

    const [attempt, ...more] = await attemptsOf(g.delivery.id);
    expect(more).toHaveLength(0);
    expect(attempt).toMatchObject({
      attempt_number: 1,
      url: `${receiver.url}/hook?token=querysecret`,
      status_code: 204,
      outcome: 'succeeded',
      error_kind: null,
      next_attempt_at: null,
      request_body: null, // standard bodies are rebuilt from the message, not stored again
      resource_id: g.resource.id,
      message_id: g.message.id,
      endpoint_id: g.endpoint.id,
    });
    expect(attempt.attempted_at.getTime()).toBe(clock.now().getTime());
    expect(attempt.duration_ms).toBeGreaterThanOrEqual(0);
    expect(attempt.response_headers['x-receiver']).toBe('yes');
    expect(attempt.request_headers['webhook-id']).toBe(req.headers['webhook-id']);
    expect(attempt.request_headers['webhook-signature']).toBe(req.headers['webhook-signature']);
    expect(attempt.request_headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(attempt)).not.toContain(g.endpoint.secret);

    // Nothing else is due: a second run claims nothing.
    expect((await runOnce(deps)).claimed).toBe(0);
  });

  it('never logs the endpoint secret, the url path or its query string', async () => {
    capturedLogs.length = 0;
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/logged?token=querysecret` } });
    receiver.script('/logged', { status: 500 });
    await runOnce(deps);
    const logs = capturedLogs.join('\n');
    expect(logs).toContain('delivery attempt failed');
    // The origin only: paths carry credentials too (Slack's and Discord's webhook URLs).
    expect(logs).toContain(`"target":"${receiver.url}"`);
    expect(logs).not.toContain('/logged');
    expect(logs).toContain(g.delivery.id);
    expect(logs).not.toContain('querysecret');
    expect(logs).not.toContain(g.endpoint.secret);
  });

  it('records the rendered body of chat formats, and caps the response excerpt at 20 KiB', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/slack`, format: 'slack' } });
    receiver.script('/slack', { status: 200, body: 'y'.repeat(100_000) });
    await runOnce(deps);
    const [attempt] = await attemptsOf(g.delivery.id);
    expect(attempt.request_body).toBe(receiver.requests[0]!.body);
    expect(JSON.parse(attempt.request_body)).toHaveProperty('blocks');
    expect(attempt.response_body).toBe('y'.repeat(20 * 1024));
  });

  it('claims only due deliveries', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, {
      endpoint: { url: `${receiver.url}/later` },
      delivery: { status: 'failed', attemptCount: 1, nextAttemptAt: new Date(clock.now().getTime() + 5 * S) },
    });
    expect((await runOnce(deps)).claimed).toBe(0);
    clock.advance(5 * S);
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'succeeded', attempt_count: 2 });
  });
});

describe('runOnce: retries', () => {
  it('500, then 429 with Retry-After, then a timeout, then 410: attempts, delays and final states', async () => {
    const start = Date.now();
    const clock = manualClock(start);
    const deps = testDeps(tdb.db, { clock });
    const resource = await createResource(tdb.db);
    const endpoint = await createEndpoint(tdb.db, resource.id, { url: `${receiver.url}/flaky`, timeoutMs: 300 });
    const message = await createMessage(tdb.db, resource.id);
    const d = await createDelivery(tdb.db, { resourceId: resource.id, messageId: message.id, endpointId: endpoint.id });
    // A second message for the same endpoint, waiting for a later retry: the 410 must skip it.
    const other = await createMessage(tdb.db, resource.id);
    const waiting = await createDelivery(
      tdb.db,
      { resourceId: resource.id, messageId: other.id, endpointId: endpoint.id },
      { status: 'failed', attemptCount: 1, nextAttemptAt: new Date(start + 24 * 3600 * S) },
    );
    receiver.script(
      '/flaky',
      { status: 500, body: 'boom' },
      { status: 429, headers: { 'retry-after': '420' } },
      { hang: true },
      { status: 410 },
    );

    const scheduled: number[] = [];
    // 1: 500 → retry after 5 s ± 20 %
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, failed: 1 });
    let row = await deliveryRow(d.id);
    scheduled.push(row.next_attempt_at.getTime());
    expect(row).toMatchObject({ status: 'failed', attempt_count: 1, last_status_code: 500, locked_by: null });
    expect(row.last_error).toBe('http_error: HTTP 500');
    let wait = row.next_attempt_at.getTime() - clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(retryDelayBounds(1, 'other')!.min);
    expect(wait).toBeLessThanOrEqual(retryDelayBounds(1, 'other')!.max);
    expect((await endpointRow(endpoint.id)).failing_since.getTime()).toBe(clock.now().getTime());

    // Not a moment early.
    clock.set(row.next_attempt_at.getTime() - 1);
    expect((await runOnce(deps)).claimed).toBe(0);

    // 2: 429 with Retry-After 420 s → the schedule says 5 min (429 floor 60 s), clamp [5, 10] min → 7 min exactly.
    clock.set(row.next_attempt_at);
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, failed: 1 });
    row = await deliveryRow(d.id);
    scheduled.push(row.next_attempt_at.getTime());
    expect(row).toMatchObject({ status: 'failed', attempt_count: 2, last_status_code: 429 });
    expect(row.next_attempt_at.getTime() - clock.now().getTime()).toBe(7 * M);

    // 3: timeout (the endpoint allows 300 ms; the receiver never answers) → 30 min ± 20 %, at least 60 s.
    clock.set(row.next_attempt_at);
    const t0 = Date.now();
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, failed: 1 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    row = await deliveryRow(d.id);
    scheduled.push(row.next_attempt_at.getTime());
    expect(row).toMatchObject({ status: 'failed', attempt_count: 3, last_status_code: null });
    expect(row.last_error).toMatch(/^timeout: /);
    wait = row.next_attempt_at.getTime() - clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(retryDelayBounds(3, 'throttled')!.min);
    expect(wait).toBeLessThanOrEqual(retryDelayBounds(3, 'throttled')!.max);

    // 4: 410 → the endpoint is disabled at once; this delivery and the waiting one are skipped, kept for recover.
    clock.set(row.next_attempt_at);
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, skipped: 1 });
    row = await deliveryRow(d.id);
    expect(row).toMatchObject({ status: 'skipped', attempt_count: 4, last_status_code: 410, next_attempt_at: null, completed_at: null });
    const ep = await endpointRow(endpoint.id);
    expect(ep).toMatchObject({ active: false, disabled_reason: 'gone' });
    expect(ep.disabled_at.getTime()).toBe(clock.now().getTime());
    expect(await deliveryRow(waiting.id)).toMatchObject({ status: 'skipped', next_attempt_at: null, attempt_count: 1 });

    const attempts = await attemptsOf(d.id);
    expect(attempts.map((a) => [a.attempt_number, a.status_code, a.error_kind, a.outcome])).toEqual([
      [1, 500, 'http_error', 'failed'],
      [2, 429, 'http_error', 'failed'],
      [3, null, 'timeout', 'failed'],
      [4, 410, 'http_error', 'failed'],
    ]);
    expect(attempts[0].response_body).toBe('boom');
    expect(attempts[1].response_headers['retry-after']).toBe('420');
    expect(attempts[2].duration_ms).toBeGreaterThanOrEqual(250);
    expect(attempts.map((a) => a.next_attempt_at?.getTime() ?? null)).toEqual([...scheduled, null]);
    // The same webhook-id on every retry, a fresh timestamp each time.
    const hits = receiver.on('/flaky');
    expect(hits).toHaveLength(4);
    expect(new Set(hits.map((h) => h.headers['webhook-id'])).size).toBe(1);
    expect(new Set(hits.map((h) => h.headers['webhook-timestamp'])).size).toBe(4);

    // Disabled: even when its time comes, nothing more is sent.
    clock.advance(48 * 3600 * S);
    expect((await runOnce(deps)).claimed).toBe(0);
    expect(receiver.on('/flaky')).toHaveLength(4);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/busy` }, delivery: { attemptCount: 1, status: 'failed' } });
    const at = new Date(Math.ceil((clock.now().getTime() + 8 * M) / 1000) * 1000);
    receiver.script('/busy', { status: 503, headers: { 'retry-after': at.toUTCString() } });
    await runOnce(deps);
    const row = await deliveryRow(g.delivery.id);
    // 2nd failure: scheduled 5 min, clamp [5, 10] min → the date asked for.
    expect(row.next_attempt_at.getTime()).toBe(at.getTime());
  });

  it('marks the delivery dead after the 10th failed attempt', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/down` }, delivery: { status: 'failed', attemptCount: 9 } });
    receiver.script('/down', { status: 502 });
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, dead: 1 });
    const row = await deliveryRow(g.delivery.id);
    expect(row).toMatchObject({ status: 'dead', attempt_count: 10, next_attempt_at: null });
    expect(row.completed_at.getTime()).toBe(clock.now().getTime());
    const [attempt] = await attemptsOf(g.delivery.id);
    expect(attempt).toMatchObject({ attempt_number: 10, outcome: 'failed', next_attempt_at: null });
  });

  it('stops at once when the receiver answers webhook-delivery: abort-message', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/abort` } });
    receiver.script('/abort', { status: 400, headers: { 'webhook-delivery': 'abort-message' } });
    expect(await runOnce(deps)).toMatchObject({ dead: 1 });
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'dead', attempt_count: 1 });
  });

  it('treats a redirect as a failure and does not follow it', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/moved` } });
    receiver.script('/moved', { status: 302, headers: { location: `${receiver.url}/elsewhere` } });
    expect(await runOnce(deps)).toMatchObject({ failed: 1 });
    expect(receiver.on('/elsewhere')).toHaveLength(0);
    const [attempt] = await attemptsOf(g.delivery.id);
    expect(attempt).toMatchObject({ status_code: 302, error_kind: 'redirect', outcome: 'failed' });
  });

  it('names network failures: connection refused, reset', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await createDeliveryGraph(tdb.db, { endpoint: { url: `http://127.0.0.1:${port}/x` } });
    const reset = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/reset` } });
    receiver.script('/reset', { destroy: true });
    expect(await runOnce(deps)).toMatchObject({ claimed: 2, failed: 2 });
    expect((await attemptsOf(refused.delivery.id))[0]).toMatchObject({ error_kind: 'connection_refused', status_code: null });
    expect((await attemptsOf(reset.delivery.id))[0]).toMatchObject({ error_kind: 'connection_reset', status_code: null });
  });
});

// A self-signed certificate (EC P-256, CN=localhost, valid to 2126) for the TLS failure test.
const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjLjbfq3HwBZ5JWfK
boNYz4QCiKl9NO2iqbGj91IZ1jmhRANCAASYh2MW44ntYJRFRrfMSAq9OyTX79ap
PWGNWjneWs9YeKVkhLfruCuYqa1NYQvhS/N0EWh6tOF9SP4JoIBPaoV3
-----END PRIVATE KEY-----`;
const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUHGtHyVnGztKi2Q7fR3OnQq/ye9EwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzE0MTc1NFoYDzIxMjYxMDMw
MTQxNzU0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASYh2MW44ntYJRFRrfMSAq9OyTX79apPWGNWjneWs9YeKVkhLfruCuY
qa1NYQvhS/N0EWh6tOF9SP4JoIBPaoV3o1MwUTAdBgNVHQ4EFgQUHHrLt54vHkcv
Ux83EppzSB0WN+AwHwYDVR0jBBgwFoAUHHrLt54vHkcvUx83EppzSB0WN+AwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBofdSXwYlTmd2opZ33y2Xb
pwzPVlsZkYGPq32rs69k1AIgb9HuzIl3n06ftMjbo60KwT56Jj7f9V8RUM1z2KuY
uVE=
-----END CERTIFICATE-----`;

describe('runOnce: network failures are named', () => {
  it('tls: a certificate that does not verify', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    let reached = 0;
    const server = https.createServer({ key: SELF_SIGNED_KEY, cert: SELF_SIGNED_CERT }, (_req, res) => {
      reached++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/tls` } });
      expect(await runOnce(deps)).toMatchObject({ failed: 1 });
      expect((await attemptsOf(g.delivery.id))[0]).toMatchObject({ error_kind: 'tls', status_code: null });
      expect(reached).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('dns: a host that does not resolve', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: 'http://no-such-host.invalid/hook' } });
    const resolve = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND' });
    };
    expect(await runOnce(deps, { resolve })).toMatchObject({ failed: 1 });
    expect((await attemptsOf(g.delivery.id))[0]).toMatchObject({ error_kind: 'dns' });
  });
});

describe('runOnce: what is never sent', () => {
  it('marks deliveries of a deprovisioned add-on dead without sending them', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { resource: { state: 'deprovisioned' }, endpoint: { url: `${receiver.url}/gone-resource` } });
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, dead: 1 });
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'dead', attempt_count: 0, last_error: 'add-on deprovisioned', locked_by: null });
    expect(await attemptsOf(g.delivery.id)).toHaveLength(0);
  });

  it('marks a delivery dead, unsent, when its endpoint was deleted after it was written (no foreign key stops that race)', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/deleted` } });
    // The race: the fan-out read the endpoint, the endpoint's delete ran, then the row was written.
    await tdb.db('endpoints').where({ id: g.endpoint.id }).del();
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'pending' });
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, dead: 1 });
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'dead', attempt_count: 0, last_error: 'endpoint deleted', locked_by: null });
    // Settled: never claimed again.
    expect(await runOnce(deps)).toMatchObject({ claimed: 0 });
  });

  it('skips deliveries claimed for a disabled endpoint, keeping them for recover', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/off`, active: false, disabledReason: 'manual' } });
    expect(await runOnce(deps)).toMatchObject({ claimed: 1, skipped: 1 });
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'skipped', attempt_count: 0, next_attempt_at: null });
  });

  it('refuses private targets when they are not allowed: IP literals and names resolving to them', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()), env: { ALLOW_PRIVATE_TARGETS: 'false' } });
    const literal = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/literal` } });
    const named = await createDeliveryGraph(tdb.db, { endpoint: { url: `http://internal.example:${receiver.port}/named` } });
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    expect(await runOnce(deps, { resolve })).toMatchObject({ claimed: 2, failed: 2 });
    expect(receiver.requests).toHaveLength(0);
    expect((await attemptsOf(literal.delivery.id))[0]).toMatchObject({ error_kind: 'ssrf_blocked' });
    expect((await attemptsOf(named.delivery.id))[0]).toMatchObject({ error_kind: 'ssrf_blocked' });
    expect((await attemptsOf(named.delivery.id))[0].error_message).toContain('127.0.0.1');
  });

  it('connects to the address the guarded lookup resolved', async () => {
    const deps = testDeps(tdb.db, { clock: manualClock(Date.now()) });
    await createDeliveryGraph(tdb.db, { endpoint: { url: `http://receiver.example:${receiver.port}/resolved` } });
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    expect(await runOnce(deps, { resolve })).toMatchObject({ succeeded: 1 });
    expect(receiver.on('/resolved')).toHaveLength(1);
    expect(receiver.on('/resolved')[0]!.headers.host).toBe(`receiver.example:${receiver.port}`);
  });
});

describe('claiming', () => {
  it('leases claimed rows: a crashed worker\'s claims are due again after the lease, not before', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock, env: { WORKER_LEASE_SECONDS: '60' } });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/lease` } });
    // A worker claims it and dies before sending.
    const crashed = await claimDeliveries(tdb.db, { workerId: 'crashed', now: clock.now(), leaseMs: 60 * S, limit: 10 });
    expect(crashed.map((c) => c.id)).toEqual([g.delivery.id]);
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ locked_by: 'crashed' });

    clock.advance(59 * S);
    expect((await runOnce(deps)).claimed).toBe(0);
    clock.advance(1 * S);
    expect(await runOnce(deps, { workerId: 'rescuer' })).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(await deliveryRow(g.delivery.id)).toMatchObject({ status: 'succeeded', attempt_count: 1, locked_by: null });
  });

  it('never hands the same row to two concurrent claimers', async () => {
    const now = new Date();
    const resource = await createResource(tdb.db);
    const endpoint = await createEndpoint(tdb.db, resource.id);
    await createManyDeliveries(tdb.db, { resourceId: resource.id, endpointId: endpoint.id }, 600, { nextAttemptAt: new Date(now.getTime() - 1000) });
    const claim = (workerId: string) => claimDeliveries(tdb.db, { workerId, now, leaseMs: 60 * S, limit: 100 });
    const batches = await Promise.all(['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd'].map(claim));
    const ids = batches.flat().map((d) => d.id);
    expect(ids).toHaveLength(600);
    expect(new Set(ids).size).toBe(600);
  });

  it('bounds a claim by payload bytes too, always taking the first due row', async () => {
    const now = new Date();
    const resource = await createResource(tdb.db);
    const endpoint = await createEndpoint(tdb.db, resource.id);
    const refs = { resourceId: resource.id, endpointId: endpoint.id };
    await createManyDeliveries(tdb.db, refs, 10, { nextAttemptAt: new Date(now.getTime() - 1000), payload: { b: 'x'.repeat(100_000) } });
    const claim = (maxBytes: number) => claimDeliveries(tdb.db, { workerId: 'w', now, leaseMs: 60 * S, limit: 100, maxBytes });
    // Taken while the payloads before a row add up to less than 250,000 bytes: 0, 100k, 200k.
    expect(await claim(250_000)).toHaveLength(3);
    // A budget smaller than one payload still takes one: a large message is never stuck.
    expect(await claim(1)).toHaveLength(1);
    // The rest were left due, untouched.
    expect(await claim(10_000_000)).toHaveLength(6);
  });

  it('returns what sending needs, joined in the same statement', async () => {
    const now = new Date();
    const g = await createDeliveryGraph(tdb.db, {
      endpoint: { url: 'http://127.0.0.1:9/x', format: 'discord', headers: { 'X-A': 'b' }, timeoutMs: 5000, previousSecrets: [{ secret: 'whsec_b2xk', expires_at: now.toISOString() }] },
      message: { eventType: 'a.b', payloadText: '{"x":1}', version: 'v2' },
    });
    const [c] = await claimDeliveries(tdb.db, { workerId: 'w', now, leaseMs: 60 * S, limit: 10 });
    expect(c).toMatchObject({
      id: g.delivery.id,
      status: 'pending',
      attemptCount: 0,
      url: 'http://127.0.0.1:9/x',
      format: 'discord',
      headers: { 'X-A': 'b' },
      timeoutMs: 5000,
      secret: g.endpoint.secret,
      previousSecrets: [{ secret: 'whsec_b2xk', expires_at: now.toISOString() }],
      endpointExists: true,
      endpointActive: true,
      eventType: 'a.b',
      payload: '{"x":1}',
      version: 'v2',
      resourceState: 'provisioned',
    });
    const row = await deliveryRow(g.delivery.id);
    expect(row.locked_until.getTime()).toBe(now.getTime() + 60 * S);
    expect(row.next_attempt_at.getTime()).toBe(now.getTime() + 60 * S);
  });
});

async function endpointRow(id: string) {
  return tdb.db('endpoints').where({ id }).first();
}

describe('endpoint health', () => {
  it('sets failing_since on the first failure and clears it on a success', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const g = await createDeliveryGraph(tdb.db, { endpoint: { url: `${receiver.url}/health` } });
    receiver.script('/health', { status: 500 }, { status: 500 }, { status: 500 }, { status: 200 });
    await runOnce(deps);
    const first = clock.now().getTime();
    expect((await endpointRow(g.endpoint.id)).failing_since.getTime()).toBe(first);

    clock.advance(10 * M);
    await createDelivery(tdb.db, { resourceId: g.resource.id, messageId: (await createMessage(tdb.db, g.resource.id)).id, endpointId: g.endpoint.id }, { nextAttemptAt: clock.now() });
    await runOnce(deps); // both fail: the streak keeps its start
    let ep = await endpointRow(g.endpoint.id);
    expect(ep.failing_since.getTime()).toBe(first);
    expect(ep.last_failure_at.getTime()).toBe(clock.now().getTime());

    clock.advance(10 * M);
    expect(await runOnce(deps)).toMatchObject({ claimed: 2, succeeded: 2 });
    ep = await endpointRow(g.endpoint.id);
    expect(ep.failing_since).toBeNull();
    expect(ep.active).toBe(true);
  });

  it('disables an endpoint failing for 5 days with 12 h between first and last failure', async () => {
    const clock = manualClock(Date.now());
    const deps = testDeps(tdb.db, { clock });
    const now = clock.now().getTime();
    const resource = await createResource(tdb.db);
    const failing = await createEndpoint(tdb.db, resource.id, {
      url: `${receiver.url}/failing`,
      failingSince: new Date(now - 5 * 24 * 3600 * S),
      lastFailureAt: new Date(now - 3600 * S),
    });
    const young = await createEndpoint(tdb.db, resource.id, {
      url: `${receiver.url}/young`,
      failingSince: new Date(now - 5 * 24 * 3600 * S + 60 * S),
      lastFailureAt: new Date(now - 3600 * S),
    });
    receiver.script('/failing', { status: 500 });
    receiver.script('/young', { status: 500 });
    const m = await createMessage(tdb.db, resource.id);
    await createDelivery(tdb.db, { resourceId: resource.id, messageId: m.id, endpointId: failing.id }, { nextAttemptAt: clock.now() });
    await createDelivery(tdb.db, { resourceId: resource.id, messageId: m.id, endpointId: young.id }, { nextAttemptAt: clock.now() });
    const waiting = await createDelivery(
      tdb.db,
      { resourceId: resource.id, messageId: (await createMessage(tdb.db, resource.id)).id, endpointId: failing.id },
      { status: 'failed', attemptCount: 2, nextAttemptAt: new Date(now + 3600 * S) },
    );

    await runOnce(deps);
    expect(await endpointRow(failing.id)).toMatchObject({ active: false, disabled_reason: 'failing' });
    expect(await endpointRow(young.id)).toMatchObject({ active: true, disabled_reason: null });
    expect(await deliveryRow(waiting.id)).toMatchObject({ status: 'skipped' });
  });
});
