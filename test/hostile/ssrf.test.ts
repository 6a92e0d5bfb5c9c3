import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { runOnce } from '../../src/delivery/worker.js';
import type { Deps } from '../../src/deps.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import type { Resolver } from '../../src/ssrf.js';
import { testDeps } from '../helpers/deps.js';
import { createDelivery, createEndpoint, createMessage, createResource, type ResourceFixture } from '../helpers/factories.js';
import { jsonRequest, rawClient, type RawClient } from '../helpers/hostile.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';

/**
 * SSRF, with ALLOW_PRIVATE_TARGETS=false as in production: every spelling of a private address is
 * refused when an endpoint is saved (POST and PATCH) and again when a delivery is sent, where the
 * attempt says `ssrf_blocked` and the private receiver never sees a connection. Redirects are never
 * followed.
 */

let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let receiver: Receiver;
let tenant: ResourceFixture;

/** DNS as an attacker would arrange it; `rebind.example` answers public now and private later. */
let rebound = false;
const PUBLIC = '93.184.216.34';
const dns: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    localhost: ['127.0.0.1'],
    'public.example': [PUBLIC],
    'private.example': ['10.1.2.3'],
    'loopback.example': ['127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'v6private.example': ['fd00::1'],
    'mixed.example': [PUBLIC, '127.0.0.1'],
    'rebind.example': [rebound ? '127.0.0.1' : PUBLIC],
  };
  const addresses = table[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { env: { ALLOW_PRIVATE_TARGETS: 'false', LOG_LEVEL: 'warn' } });
  setUrlResolver(dns);
  client = await rawClient(createApp(deps));
  receiver = await startReceiver();
  tenant = await createResource(tdb.db, { plan: 'pro' });
});
afterAll(async () => {
  setUrlResolver(undefined);
  await client.close();
  await receiver.close();
  await tdb.destroy();
});

/** Hosts (with :port where a port fits) that must never be a target, however they are spelled. */
const PRIVATE_HOSTS = [
  '127.0.0.1',
  'localhost',
  '[::1]',
  '0.0.0.0',
  '0',
  '10.0.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '100.64.0.1',
  '169.254.169.254',
  '[fd00::1]',
  '[fe80::1]',
  '[::]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[::ffff:a9fe:a9fe]',
  '[::127.0.0.1]',
  '[64:ff9b::7f00:1]',
  '[2002:7f00:1::]',
  '2130706433',
  '0177.0.0.1',
  '0x7f.0.0.1',
  '0x7f000001',
  '127.1',
  '127.0.0.1.',
  '224.0.0.1',
  '255.255.255.255',
  'private.example',
  'loopback.example',
  'metadata.example',
  'v6private.example',
  'mixed.example',
];

const auth = () => ({ Authorization: `Bearer ${tenant.apiKey}` });

describe('at save time (ALLOW_PRIVATE_TARGETS=false)', () => {
  it.each(PRIVATE_HOSTS)('POST /v1/endpoints refuses http://%s/ with 422 url_not_allowed', async (host) => {
    const before = await tdb.db('endpoints').count();
    const res = await client.send(jsonRequest('POST', '/v1/endpoints', { url: `http://${host}/hook` }, auth()));
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ error: 'url_not_allowed', field: 'url' });
    expect(await tdb.db('endpoints').count()).toEqual(before);
  });

  it.each(PRIVATE_HOSTS)('PATCH /v1/endpoints/:id refuses http://%s/ and keeps the old URL', async (host) => {
    const endpoint = await createEndpoint(tdb.db, tenant.id, { url: `http://${PUBLIC}/old` });
    const res = await client.send(jsonRequest('PATCH', `/v1/endpoints/${endpoint.id}`, { url: `https://${host}:8443/new` }, auth()));
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ error: 'url_not_allowed' });
    expect((await tdb.db('endpoints').where({ id: endpoint.id }).first()).url).toBe(`http://${PUBLIC}/old`);
  });

  it('the same URLs with a public address are accepted (the refusals are the address, not the shape)', async () => {
    for (const url of [`http://${PUBLIC}/hook`, 'http://public.example:8080/hook', `http://[2606:2800:220:1:248:1893:25c8:1946]/`]) {
      const res = await client.send(jsonRequest('POST', '/v1/endpoints', { url }, auth()));
      expect(res.status).toBe(201);
    }
  });
});

describe('at send time (ALLOW_PRIVATE_TARGETS=false)', () => {
  /** An endpoint row written straight to the table (as an old row, or a bypass of the API, would be) and one due delivery. */
  async function due(url: string): Promise<{ deliveryId: string }> {
    const endpoint = await createEndpoint(tdb.db, tenant.id, { url });
    const message = await createMessage(tdb.db, tenant.id);
    const delivery = await createDelivery(tdb.db, { resourceId: tenant.id, messageId: message.id, endpointId: endpoint.id });
    return { deliveryId: delivery.id };
  }

  async function attemptsOf(deliveryIds: string[]) {
    return tdb.db('attempts').whereIn('delivery_id', deliveryIds).select('delivery_id', 'error_kind', 'error_message', 'status_code', 'url');
  }

  it('every private spelling, stored in the row as is, is blocked without a connection', async () => {
    receiver.clear();
    const ids: string[] = [];
    for (const host of PRIVATE_HOSTS) {
      // The receiver listens on 127.0.0.1:port: each loopback spelling would reach it if the guard let it through.
      const port = host.startsWith('[') || /^\d+$/.test(host) || host.includes('.') || host === 'localhost' ? `:${receiver.port}` : '';
      ids.push((await due(`http://${host}${port}/hook`)).deliveryId);
    }
    const counts = await runOnce(deps, { resolve: dns });
    expect(counts).toMatchObject({ claimed: ids.length, failed: ids.length });
    const attempts = await attemptsOf(ids);
    expect(attempts).toHaveLength(ids.length);
    for (const a of attempts) {
      expect({ url: a.url, kind: a.error_kind }).toEqual({ url: a.url, kind: 'ssrf_blocked' });
      expect(a.status_code).toBeNull();
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('a host that resolved public when saved and private when sent (DNS rebinding) is blocked', async () => {
    receiver.clear();
    rebound = false;
    const saved = await client.send(jsonRequest('POST', '/v1/endpoints', { url: `http://rebind.example:${receiver.port}/hook` }, auth()));
    expect(saved.status).toBe(201);
    const endpointId = (saved.json as { id: string }).id;
    const sent = await client.send(jsonRequest('POST', '/v1/messages', { event_type: 'rebind.test', data: {}, endpoint_id: endpointId }, auth()));
    expect(sent.status).toBe(202);
    rebound = true;
    try {
      await runOnce(deps, { resolve: dns });
    } finally {
      rebound = false;
    }
    const [attempt] = await tdb.db('attempts').where({ endpoint_id: endpointId });
    expect(attempt).toMatchObject({ error_kind: 'ssrf_blocked', status_code: null });
    expect(receiver.requests).toHaveLength(0);
  });

  it('a hostname that resolves to one public and one private address is blocked, whichever comes first', async () => {
    receiver.clear();
    const reversed: Resolver = async (host) => (await dns(host)).reverse();
    for (const resolve of [dns, reversed]) {
      const { deliveryId } = await due(`http://mixed.example:${receiver.port}/hook`);
      await runOnce(deps, { resolve });
      expect((await attemptsOf([deliveryId]))[0]).toMatchObject({ error_kind: 'ssrf_blocked' });
    }
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('redirects are never followed', () => {
  it('a 3xx to a private address is a failed attempt of kind redirect, and the target sees nothing', async () => {
    // The redirecting receiver is itself on loopback, so this worker allows private targets: the
    // point is that no redirect is followed at all, to any address.
    const open = testDeps(tdb.db, { env: { ALLOW_PRIVATE_TARGETS: 'true', LOG_LEVEL: 'warn' } });
    const target = await startReceiver();
    try {
      const cases: Array<[number, string]> = [
        [302, `http://127.0.0.1:${target.port}/internal`],
        [301, `http://[::ffff:127.0.0.1]:${target.port}/internal`],
        [307, 'http://169.254.169.254/latest/meta-data/'],
        [308, `http://localhost:${target.port}/internal`],
        [303, '/relative/internal'],
      ];
      const ids: string[] = [];
      for (const [status, location] of cases) {
        const path = `/redirect-${status}`;
        receiver.script(path, { status, headers: { Location: location } });
        const endpoint = await createEndpoint(tdb.db, tenant.id, { url: `${receiver.url}${path}` });
        const message = await createMessage(tdb.db, tenant.id, { id: randomUUID() });
        ids.push((await createDelivery(tdb.db, { resourceId: tenant.id, messageId: message.id, endpointId: endpoint.id })).id);
      }
      await runOnce(open);
      const attempts = await tdb.db('attempts').whereIn('delivery_id', ids).orderBy('id');
      expect(attempts.map((a) => [a.status_code, a.error_kind, a.outcome])).toEqual(cases.map(([status]) => [status, 'redirect', 'failed']));
      expect(target.requests).toHaveLength(0);
      expect(receiver.requests.filter((r) => r.path.startsWith('/relative'))).toHaveLength(0);
    } finally {
      await target.close();
    }
  });
});
