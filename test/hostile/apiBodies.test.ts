import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import { generateEndpointSecret } from '../../src/signing.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import {
  deeplyNested,
  expectSameJson,
  hostileBody,
  jsonRequest,
  plausibleObject,
  raw,
  rawClient,
  RUNS,
  sendHostile,
  Tally,
  toJsonText,
  type RawClient,
  type RawResponse,
} from '../helpers/hostile.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { endpointUrl, eventTypeName, fakeDns, fixture, headerSet, isoTime, type Fixture } from './apiSetup.js';

/**
 * Property: whatever JSON body reaches a /v1 route that takes one, the answer is a 2xx or a
 * well-formed 4xx; a 4xx writes nothing; a 2xx stored exactly what was sent (read back through the
 * API). Bodies mix valid fields (to reach the deeper checks) with hostile values in every field.
 */

let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let a: Fixture;
let b: Fixture;
const clock = manualClock('2026-11-15T12:00:00Z');

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock, env: { ALLOW_PRIVATE_TARGETS: 'false', LOG_LEVEL: 'warn' } });
  setUrlResolver(fakeDns);
  client = await rawClient(createApp(deps));
  a = await fixture(tdb.db, deps.config, 'pro');
  b = await fixture(tdb.db, deps.config);
});
afterAll(async () => {
  setUrlResolver(undefined);
  await client.close();
  await tdb.destroy();
});

const auth = () => ({ Authorization: `Bearer ${a.apiKey}` });
const get = (path: string) => client.send({ method: 'GET', path, headers: auth() });
/** What the server saw: the body as JSON.parse reads the text we sent (last duplicate key wins, -0 is 0...). */
const parsed = (body: unknown): Record<string, unknown> => JSON.parse(toJsonText(body)) as Record<string, unknown>;

let tally: Tally;
beforeEach(() => {
  tally = new Tally();
});
afterEach(() => {
  // Every property must have reached both a refusal and an acceptance: the read-back is checked.
  tally.expectBoth();
});

async function post(path: string, body: unknown, method = 'POST'): Promise<{ res: RawResponse; sent: Record<string, unknown> }> {
  const res = await sendHostile(client, tdb.db, jsonRequest(method, path, body, auth()));
  tally.add(res.status);
  return { res, sent: res.status < 300 ? parsed(body) : {} };
}

/** Values that broke (or could break) storage: every property tries them first, in its fields. */
const POISON_STRINGS: unknown[] = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'a\udfffb',
  '<script>alert(1)</script>',
  "'; drop table subscribers; --",
  'x'.repeat(5000),
];
const POISON_OBJECTS: unknown[] = [
  { v: '\u0000' },
  { v: 'a\ud800' },
  { ['k\u0000']: 1 },
  { '\udc00': 1 },
  { n: raw('1e400') },
  { n: [raw('-1e400')] },
  { deep: deeplyNested(10_000) },
  { deep: deeplyNested(10_000, 'object') },
  { html: '<img src=x onerror=alert(1)>', sql: "' or 1=1 --", emoji: '\u{1F600}', rtl: '\u202e' },
];
const examples = (base: Record<string, unknown>, field: string, values: unknown[]): Array<[Record<string, unknown>]> =>
  values.map((v) => [{ ...base, [field]: v }]);

const someIds = () => fc.constantFrom(a.subscriberId, b.subscriberId, randomUUID(), null);

describe('subscribers', () => {
  const fields = () => ({
    name: fc.string({ minLength: 1, maxLength: 30 }),
    external_id: fc.option(fc.string({ minLength: 1, maxLength: 30 })),
    metadata: plausibleObject,
  });

  it('POST /v1/subscribers stores exactly what it accepts', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(fields()), async (body) => {
        const { res, sent } = await post('/v1/subscribers', body);
        if (res.status !== 201) return;
        const id = (res.json as { id: string }).id;
        const back = (await get(`/v1/subscribers/${id}`)).json as Record<string, unknown>;
        expect(back).toMatchObject({ id, name: sent.name, external_id: sent.external_id ?? null });
        expectSameJson(back.metadata, sent.metadata ?? {});
      }),
      {
        numRuns: RUNS,
        examples: [
          ...examples({ name: 'n' }, 'name', POISON_STRINGS),
          ...examples({ name: 'n' }, 'external_id', POISON_STRINGS),
          ...examples({ name: 'n' }, 'metadata', POISON_OBJECTS),
        ],
      },
    );
  });

  it('PATCH /v1/subscribers/:id changes only what it accepts', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(fields()), async (body) => {
        const before = (await get(`/v1/subscribers/${a.subscriberId}`)).json as Record<string, unknown>;
        const { res, sent } = await post(`/v1/subscribers/${a.subscriberId}`, body, 'PATCH');
        if (res.status !== 200) return;
        const back = (await get(`/v1/subscribers/${a.subscriberId}`)).json as Record<string, unknown>;
        expect(back.name).toBe(sent.name ?? before.name);
        expect(back.external_id).toBe(sent.external_id === undefined ? before.external_id : sent.external_id);
        expectSameJson(back.metadata, sent.metadata ?? before.metadata);
      }),
      {
        numRuns: RUNS,
        examples: [
          ...examples({}, 'name', POISON_STRINGS),
          ...examples({}, 'external_id', POISON_STRINGS),
          ...examples({}, 'metadata', POISON_OBJECTS),
        ],
      },
    );
  });

  it('POST /v1/subscribers/:id/portal-link accepts only a whole number of seconds, and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ expires_in: fc.integer({ min: 0, max: 8 * 86_400 }) }), async (body) => {
        const before = await tdb.db('resources').count();
        const { res, sent } = await post(`/v1/subscribers/${a.subscriberId}/portal-link`, body);
        if (res.status !== 201) return;
        const expiresIn = (sent.expires_in as number | undefined) ?? 86_400;
        expect((res.json as { expires_at: string }).expires_at).toBe(new Date(clock.now().getTime() + expiresIn * 1000).toISOString());
        expect(await tdb.db('resources').count()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('event types', () => {
  it('POST /v1/event-types stores exactly what it accepts', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ name: eventTypeName, description: fc.string({ maxLength: 40 }) }), async (body) => {
        const { res, sent } = await post('/v1/event-types', body);
        if (res.status >= 300) return;
        const list = (await get('/v1/event-types?limit=250')).json as { data: Array<Record<string, unknown>> };
        expect(list.data.find((t) => t.name === sent.name)).toMatchObject({ description: sent.description ?? '', builtin: false });
      }),
      {
        numRuns: RUNS,
        examples: [
          ...examples({ name: 'poison.test' }, 'description', POISON_STRINGS),
          ...examples({}, 'name', POISON_STRINGS),
        ],
      },
    );
  });
});

describe('endpoints', () => {
  const fields = () => ({
    url: endpointUrl,
    description: fc.string({ maxLength: 40 }),
    subscriber_id: someIds(),
    event_types: fc.array(fc.oneof(eventTypeName, eventTypeName.map((n) => `${n}.*`)), { maxLength: 3 }),
    format: fc.constantFrom('standard', 'slack', 'discord', 'STANDARD', 'xml'),
    active: fc.boolean(),
    version: fc.option(fc.string({ minLength: 1, maxLength: 10 })),
    headers: headerSet,
    timeout: fc.integer({ min: 0, max: 31 }),
  });

  async function expectEndpoint(id: string, sent: Record<string, unknown>, before?: Record<string, unknown>) {
    const back = (await get(`/v1/endpoints/${id}`)).json as Record<string, unknown>;
    const want = (field: string, fallback: unknown) => (sent[field] === undefined ? (before ? before[field] : fallback) : sent[field]);
    expect(back.url).toBe(sent.url === undefined ? before?.url : new URL(sent.url as string).href);
    expect(back.description).toBe(want('description', ''));
    expect(back.subscriber_id).toBe(want('subscriber_id', null));
    expect(back.event_types).toEqual(sent.event_types === undefined ? (before?.event_types ?? []) : [...new Set(sent.event_types as string[])]);
    expect(back.format).toBe(want('format', 'standard'));
    expect(back.active).toBe(want('active', true));
    expect(back.version).toBe(want('version', null));
    expect(back.headers).toEqual(want('headers', {}));
    expect(back.timeout).toBe(want('timeout', 15));
    expect(back).not.toHaveProperty('secret');
  }

  it('POST /v1/endpoints stores exactly what it accepts, secret included', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ ...fields(), secret: fc.constantFrom(generateEndpointSecret(), 'whsec_short', 'secret') }), async (body) => {
        const { res, sent } = await post('/v1/endpoints', body);
        if (res.status !== 201) return;
        const created = res.json as { id: string; secret: string };
        await expectEndpoint(created.id, sent);
        if (sent.secret !== undefined) expect(created.secret).toBe(sent.secret);
        expect(((await get(`/v1/endpoints/${created.id}/secret`)).json as { secret: string }).secret).toBe(created.secret);
      }),
      {
        numRuns: RUNS,
        examples: [
          ...examples({ url: 'http://93.184.216.34/x' }, 'description', POISON_STRINGS),
          ...examples({ url: 'http://93.184.216.34/x' }, 'version', POISON_STRINGS),
          ...examples({ url: 'http://93.184.216.34/x' }, 'headers', POISON_OBJECTS),
          ...examples({}, 'url', POISON_STRINGS),
        ],
      },
    );
  });

  it('PATCH /v1/endpoints/:id changes only what it accepts', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(fields()), async (body) => {
        const before = (await get(`/v1/endpoints/${a.endpointId}`)).json as Record<string, unknown>;
        const { res, sent } = await post(`/v1/endpoints/${a.endpointId}`, body, 'PATCH');
        if (res.status !== 200) return;
        await expectEndpoint(a.endpointId, sent, before);
      }),
      {
        numRuns: RUNS,
        examples: [
          ...examples({}, 'description', POISON_STRINGS),
          ...examples({}, 'version', POISON_STRINGS),
          ...examples({}, 'headers', POISON_OBJECTS),
          ...examples({}, 'url', POISON_STRINGS),
        ],
      },
    );
  });

  it('POST /v1/endpoints/:id/secret/rotate takes only a valid whsec_ secret', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ secret: fc.constantFrom(generateEndpointSecret(), `whsec_${'A'.repeat(400)}`) }), async (body) => {
        const { res, sent } = await post(`/v1/endpoints/${a.endpointId}/secret/rotate`, body);
        if (res.status !== 200) return;
        const secret = (res.json as { secret: string }).secret;
        if (sent.secret !== undefined) expect(secret).toBe(sent.secret);
        expect(((await get(`/v1/endpoints/${a.endpointId}/secret`)).json as { secret: string }).secret).toBe(secret);
      }),
      { numRuns: RUNS },
    );
  });

  it('POST /v1/endpoints/:id/recover takes only a sane since', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ since: isoTime }), async (body) => {
        const { res } = await post(`/v1/endpoints/${a.endpointId}/recover`, body);
        if (res.status === 202) expect(typeof (res.json as { requeued: unknown }).requeued).toBe('number');
      }),
      {
        numRuns: RUNS,
        examples: [[{ since: '2026-11-15T11:00:00Z' }], [{ since: '2026-11-15T11:00:00Z', extra: 1 }], [{ since: '2026-11-15T11:00:00\u0000Z' }]],
      },
    );
  });

  it('POST /v1/endpoints/:id/test takes no fields', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({}), async (body) => {
        const { res } = await post(`/v1/endpoints/${a.endpointId}/test`, body);
        if (res.status === 202) expect(Object.keys(parsed(body))).toEqual([]);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

describe('messages and deliveries', () => {
  const fields = () => ({
    event_type: eventTypeName,
    data: plausibleObject,
    version: fc.option(fc.string({ minLength: 1, maxLength: 10 })),
    event_id: fc.option(fc.string({ minLength: 1, maxLength: 30 })),
    subscriber_id: someIds(),
    endpoint_id: fc.constantFrom(a.endpointId, b.endpointId, randomUUID(), null),
  });

  it('POST /v1/messages stores data that reads back byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(fields()), async (body) => {
        const { res, sent } = await post('/v1/messages', body);
        if (res.status !== 202 && res.status !== 200) return;
        const id = (res.json as { id: string }).id;
        const back = await get(`/v1/messages/${id}`);
        expect(back.status).toBe(200);
        const message = back.json as Record<string, unknown>;
        if (res.status === 202) {
          // The text the API answers is the JSON of the very value the server parsed, in its key order.
          expectSameJson(message.data, sent.data);
          expect(JSON.stringify(message.data)).toBe(JSON.stringify(sent.data));
          expect(message).toMatchObject({
            event_type: sent.event_type,
            version: sent.version ?? null,
            event_id: sent.event_id ?? null,
            subscriber_id: sent.subscriber_id ?? null,
            endpoint_id: sent.endpoint_id ?? null,
            source: 'api',
          });
        } else {
          expect(message.event_id).toBe(sent.event_id);
        }
      }),
      {
        numRuns: RUNS * 2,
        examples: [
          ...examples({ event_type: 'poison.test' }, 'data', POISON_OBJECTS),
          ...examples({ event_type: 'poison.test', data: {} }, 'event_id', POISON_STRINGS),
          ...examples({ event_type: 'poison.test', data: {} }, 'version', POISON_STRINGS),
          ...examples({ data: {} }, 'event_type', POISON_STRINGS),
        ],
      },
    );
  });

  it('POST /v1/deliveries/:id/retry takes no fields', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({}), async (body) => {
        const { res } = await post(`/v1/deliveries/${a.deliveryId}/retry`, body);
        if (res.status === 202) expect((res.json as { status: string }).status).toBe('pending');
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
