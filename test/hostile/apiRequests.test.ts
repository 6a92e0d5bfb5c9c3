import fc from 'fast-check';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { JSON_BODY_LIMIT } from '../../src/http/api/index.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import {
  brokenJsonBodies,
  clientErrorProblem,
  describeRequest,
  hostileId,
  hostileQueryValue,
  NON_JSON_CONTENT_TYPES,
  rawClient,
  RUNS,
  sendHostile,
  snapshotDb,
  type RawClient,
} from '../helpers/hostile.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { fakeDns, fixture, type Fixture } from './apiSetup.js';

/**
 * Property: requests to /v1 that are broken below the level of fields (not JSON, truncated JSON,
 * the wrong content type, too large, ids that name nothing, query strings from a fuzzer) are all
 * refused with a 4xx JSON error, and nothing is written.
 */

let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let a: Fixture;
let b: Fixture;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock: manualClock('2026-11-15T12:00:00Z'), env: { ALLOW_PRIVATE_TARGETS: 'false', LOG_LEVEL: 'warn' } });
  setUrlResolver(fakeDns);
  client = await rawClient(createApp(deps));
  a = await fixture(tdb.db, deps.config);
  b = await fixture(tdb.db, deps.config);
});
afterAll(async () => {
  setUrlResolver(undefined);
  await client.close();
  await tdb.destroy();
});

const auth = () => ({ Authorization: `Bearer ${a.apiKey}` });

/** Every /v1 route that reads a body, with a body it would accept. */
const bodyRoutes = (): Array<[method: string, path: string, valid: string]> => [
  ['POST', '/v1/subscribers', '{"name":"Acme","metadata":{"tier":"gold"}}'],
  ['PATCH', `/v1/subscribers/${a.subscriberId}`, '{"name":"Acme 2"}'],
  ['POST', `/v1/subscribers/${a.subscriberId}/portal-link`, '{"expires_in":3600}'],
  ['POST', '/v1/endpoints', '{"url":"https://public.example/hook","event_types":["a.*"],"headers":{"X-A":"1"}}'],
  ['PATCH', `/v1/endpoints/${a.endpointId}`, '{"description":"d","timeout":10}'],
  ['POST', `/v1/endpoints/${a.endpointId}/secret/rotate`, '{}'],
  ['POST', `/v1/endpoints/${a.endpointId}/recover`, '{"since":"2026-11-15T00:00:00Z"}'],
  ['POST', `/v1/endpoints/${a.endpointId}/test`, '{}'],
  ['POST', '/v1/event-types', '{"name":"invoice.paid","description":"Paid"}'],
  ['POST', '/v1/messages', '{"event_type":"invoice.paid","data":{"invoice":"in_1","amount":4200}}'],
  ['POST', `/v1/deliveries/${a.deliveryId}/retry`, '{}'],
];

/** Every /v1 route with an id in its path; `:id` is replaced. */
const ID_ROUTES: Array<[method: string, path: string]> = [
  ['GET', '/v1/subscribers/:id'],
  ['PATCH', '/v1/subscribers/:id'],
  ['DELETE', '/v1/subscribers/:id'],
  ['POST', '/v1/subscribers/:id/portal-link'],
  ['GET', '/v1/endpoints/:id'],
  ['PATCH', '/v1/endpoints/:id'],
  ['DELETE', '/v1/endpoints/:id'],
  ['GET', '/v1/endpoints/:id/secret'],
  ['POST', '/v1/endpoints/:id/secret/rotate'],
  ['POST', '/v1/endpoints/:id/recover'],
  ['POST', '/v1/endpoints/:id/test'],
  ['GET', '/v1/messages/:id'],
  ['GET', '/v1/deliveries/:id'],
  ['POST', '/v1/deliveries/:id/retry'],
];

/** Every list, with the query parameters it reads. */
const LISTS: Array<[path: string, params: string[]]> = [
  ['/v1/subscribers', ['limit', 'cursor']],
  ['/v1/endpoints', ['limit', 'cursor', 'subscriber_id']],
  ['/v1/event-types', ['limit', 'cursor']],
  ['/v1/messages', ['limit', 'cursor', 'event_type', 'since', 'until']],
  ['/v1/deliveries', ['limit', 'cursor', 'endpoint_id', 'message_id', 'status']],
];

/** A body the route may accept: a JSON object (or nothing, which express.json reads as {}; a leading BOM is skipped, as RFC 8259 allows). */
const isObjectText = (text: string): boolean => {
  if (text.trim() === '') return true;
  try {
    const v: unknown = JSON.parse(text.replace(/^\ufeff/, ''));
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
};

describe('bodies that are not one JSON object', () => {
  it('malformed, truncated, scalar, array or 10,000-level bodies are refused and write nothing', async () => {
    const routes = bodyRoutes();
    const arb = fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => fc.tuple(fc.constant(routes[i]!), brokenJsonBodies(routes[i]![2])));
    await fc.assert(
      fc.asyncProperty(arb, async ([[method, path], body]) => {
        const res = await sendHostile(client, tdb.db, { method, path, headers: { ...auth(), 'Content-Type': 'application/json' }, body });
        if (res.status < 400 && !isObjectText(body)) throw new Error(`${res.status} for a body that is not a JSON object: ${body.slice(0, 80)}`);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('the wrong content type (or none) is a 415 for every route, whatever the body', async () => {
    const routes = bodyRoutes();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.constantFrom(...NON_JSON_CONTENT_TYPES), async ([method, path, valid], type) => {
        const res = await sendHostile(client, tdb.db, { method, path, headers: { ...auth(), 'Content-Type': type }, body: valid });
        expect(res.status).toBe(415);
      }),
      { numRuns: RUNS },
    );
  });

  it('JSON in a charset other than UTF-8 is refused', async () => {
    for (const [method, path, valid] of bodyRoutes()) {
      for (const charset of ['latin1', 'x-unknown', 'utf-16']) {
        const res = await sendHostile(client, tdb.db, { method, path, headers: { ...auth(), 'Content-Type': `application/json; charset=${charset}` }, body: valid });
        // UTF-16 is a charset JSON parsers accept; these UTF-8 bytes read as UTF-16 are not JSON.
        expect(res.status).toBe(charset === 'utf-16' ? 400 : 415);
      }
    }
  });

  it('a body over the limit is a 413 for every route, and is not read to the end', async () => {
    const big = `{"name":"${'x'.repeat(JSON_BODY_LIMIT)}"}`;
    for (const [method, path] of bodyRoutes()) {
      const res = await sendHostile(client, tdb.db, { method, path, headers: { ...auth(), 'Content-Type': 'application/json' }, body: big });
      expect(res.status).toBe(413);
    }
  });

  it('a duplicated key means what JSON.parse says (the last one), and invalid UTF-8 is stored as U+FFFD', async () => {
    const dup = await sendHostile(client, tdb.db, {
      method: 'POST',
      path: '/v1/subscribers',
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body: '{"name":"first","name":"second","metadata":{"k":1,"k":2}}',
    });
    expect(dup.status).toBe(201);
    expect(dup.json).toMatchObject({ name: 'second', metadata: { k: 2 } });

    const bytes = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xed, 0xa0, 0x80, 0xff]), Buffer.from('b"}')]);
    const res = await sendHostile(client, tdb.db, { method: 'POST', path: '/v1/subscribers', headers: { ...auth(), 'Content-Type': 'application/json' }, body: bytes });
    expect(res.status).toBe(201);
    const id = (res.json as { id: string }).id;
    const back = await client.send({ method: 'GET', path: `/v1/subscribers/${id}`, headers: auth() });
    expect((back.json as { name: string }).name).toBe(bytes.subarray(9, -2).toString('utf8'));
  });
});

describe('ids and query strings', () => {
  it('an id that names nothing of this resource is a 404 (or 400 when it is not even text), on every route', async () => {
    const others = [b.subscriberId, b.endpointId, b.messageId, b.deliveryId];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_ROUTES), fc.oneof(hostileId, fc.constantFrom(...others)), async ([method, path], id) => {
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
        const req = { method, path: path.replace(':id', id), headers: { ...auth(), ...(body ? { 'Content-Type': 'application/json' } : {}) }, body };
        const res = await sendHostile(client, tdb.db, req);
        if (res.status !== 404 && res.status !== 400) throw new Error(`${res.status} for ${describeRequest(req)}`);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('hostile query parameters on every list are a 200 or a 400 naming the parameter, and read only', async () => {
    const query = fc.constantFrom(...LISTS).chain(([path, params]) =>
      fc.tuple(fc.constant(path), fc.array(fc.tuple(fc.constantFrom(...params), hostileQueryValue), { minLength: 1, maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(query, async ([path, pairs]) => {
        const req = { method: 'GET', path: `${path}?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`, headers: auth() };
        const res = await sendHostile(client, tdb.db, req, { readOnly: true });
        if (res.status !== 200 && res.status !== 400 && res.status !== 404) throw new Error(`${res.status} for ${describeRequest(req)}`);
      }),
      {
        numRuns: RUNS * 2,
        examples: [[['/v1/messages', [['event_type', '%00']]]], [['/v1/event-types', [['cursor', Buffer.from('["\\u0000"]').toString('base64url')]]]]],
      },
    );
  });

  it('forged cursors (valid base64, wrong content) are a 400, never a database error', async () => {
    const forged = [
      ['2026-13-45T99:99:99.000000Z', a.subscriberId],
      ['0000-01-01T00:00:00.000000Z', a.subscriberId],
      ['2026-02-30T00:00:00.000000Z', a.subscriberId],
      ['2026-11-15T00:00:00.000000Z', 'not-a-uuid'],
      ['\u0000'],
      ['x', 'y', 'z'],
      [1, 2],
      { a: 1 },
    ].map((k) => Buffer.from(JSON.stringify(k)).toString('base64url'));
    for (const [path] of LISTS) {
      for (const cursor of forged) {
        const req = { method: 'GET', path: `${path}?cursor=${cursor}`, headers: auth() };
        const before = await snapshotDb(tdb.db);
        const res = await client.send(req);
        if (res.status !== 200 && res.status !== 400) throw new Error(`${res.status} for ${describeRequest(req)}: ${res.text.slice(0, 200)}`);
        if (res.status === 400) expect(clientErrorProblem(res)).toBeUndefined();
        expect(await snapshotDb(tdb.db)).toEqual(before);
      }
    }
  });
});
