import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createApp } from '../../src/app.js';
import { sha256Hex } from '../../src/crypto.js';
import type { Deps } from '../../src/deps.js';
import { canonicalJson } from '../../src/services/herokuEvents.js';
import { legacyToken, resourceToken, userScopedResourceToken } from '../../src/ssoTokens.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import { partnerAuthHeader } from '../helpers/heroku.js';
import {
  brokenJsonBodies,
  deeplyNested,
  describeRequest,
  expectSameJson,
  hostileBody,
  hostileId,
  hostileString,
  jsonRequest,
  NON_JSON_CONTENT_TYPES,
  plausibleObject,
  raw,
  rawClient,
  RUNS,
  sendHostile,
  Tally,
  toJsonText,
  type RawClient,
} from '../helpers/hostile.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { fixture, type Fixture } from './apiSetup.js';

/**
 * Property: what Heroku (or anyone pretending to be it) sends to the partner API, the events
 * receiver and the SSO entry points is answered with a 2xx/3xx or a 4xx (JSON for the partner API,
 * an HTML page for the browser), never a 5xx; a 4xx writes nothing; what is accepted is stored as
 * sent.
 */

const NOW = new Date('2026-11-23T12:00:00Z');
let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let live: Fixture;
let gone: Fixture;
let basic: string;
let tally: Tally;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock: manualClock(NOW), env: { LOG_LEVEL: 'warn' } });
  client = await rawClient(createApp(deps));
  live = await fixture(tdb.db, deps.config);
  gone = await fixture(tdb.db, deps.config);
  await tdb.db('resources').where({ id: gone.resourceId }).update({ state: 'deprovisioned', deprovisioned_at: NOW });
  basic = partnerAuthHeader(deps.config);
});
afterAll(async () => {
  await client.close();
  await tdb.destroy();
});
beforeEach(() => {
  tally = new Tally();
});

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const REGIONS = ['amazon-web-services::us-east-1', 'amazon-web-services::eu-west-1', 'us', 'eu', 'mars::north'];
const parsed = (body: unknown): Record<string, unknown> => JSON.parse(toJsonText(body)) as Record<string, unknown>;

describe('partner API (Basic auth given)', () => {
  it('POST /heroku/resources stores what it provisions, exactly', async () => {
    const fields = {
      uuid: fc.uuid(),
      plan: fc.constantFrom('test', 'basic', 'pro', 'enterprise', 'TEST'),
      region: fc.constantFrom(...REGIONS),
      name: fc.string({ maxLength: 30 }),
      heroku_id: fc.string({ maxLength: 30 }),
      callback_url: fc.constantFrom('https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef', 'javascript:alert(1)'),
      options: plausibleObject,
      log_input_url: fc.constant('https://token:t.0123@1.us.logplex.io/logs'),
    };
    const valid = { uuid: randomUUID(), plan: 'test', region: 'us' };
    await fc.assert(
      fc.asyncProperty(hostileBody(fields), async (body) => {
        const res = await sendHostile(client, tdb.db, jsonRequest('POST', '/heroku/resources', body, { Authorization: basic }));
        tally.add(res.status);
        if (res.status !== 200) return;
        const sent = parsed(body);
        const row = await tdb.db('resources').where({ id: (sent.uuid as string).toLowerCase() }).first();
        expect(row).toMatchObject({ state: 'provisioned', plan: sent.plan });
        const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
        expect([row.name, row.heroku_id, row.callback_url]).toEqual([text(sent.name), text(sent.heroku_id), text(sent.callback_url)]);
        const options = sent.options;
        expectSameJson(row.options, typeof options === 'object' && options !== null && !Array.isArray(options) ? options : {});
      }),
      {
        numRuns: RUNS,
        examples: [
          [{ ...valid, uuid: randomUUID(), name: 'a\u0000b' }],
          [{ ...valid, uuid: randomUUID(), heroku_id: '\ud800' }],
          [{ ...valid, uuid: randomUUID(), callback_url: 'x\u0000' }],
          [{ ...valid, uuid: randomUUID(), options: { k: '\u0000' } }],
          [{ ...valid, uuid: randomUUID(), options: { '\udc00': 1 } }],
          [{ ...valid, uuid: randomUUID(), options: { n: raw('1e400') } }],
          [{ ...valid, uuid: randomUUID(), options: { deep: deeplyNested(10_000) } }],
          [{ ...valid, uuid: randomUUID(), region: 'us\u0000' }],
          [{ ...valid, uuid: randomUUID(), plan: '<script>' }],
          [{ ...valid, uuid: randomUUID(), name: '<script>alert(1)</script>' }],
        ],
      },
    );
    tally.expectBoth();
  });

  it('PUT /heroku/resources/:id changes the plan to one that exists, or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody({ plan: fc.constantFrom('test', 'basic', 'pro', 'gold'), heroku_id: fc.string(), uuid: fc.uuid() }), async (body) => {
        const res = await sendHostile(client, tdb.db, jsonRequest('PUT', `/heroku/resources/${live.resourceId}`, body, { Authorization: basic }));
        tally.add(res.status);
        if (res.status !== 200) return;
        expect((await tdb.db('resources').where({ id: live.resourceId }).first()).plan).toBe(parsed(body).plan);
      }),
      { numRuns: RUNS, examples: [[{ plan: 'pro\u0000' }], [{ plan: '\ud800' }], [{ plan: 'pro' }]] },
    );
    tally.expectBoth();
  });

  it('PUT, DELETE and events on ids that name no live resource are a 4xx, and write nothing', async () => {
    const routes: Array<[string, string, string | undefined]> = [
      ['PUT', '/heroku/resources/:id', '{"plan":"basic"}'],
      ['DELETE', '/heroku/resources/:id', undefined],
      ['POST', '/heroku/resources/:id/events', '{"event":"deploy","heroku_id":"app1@heroku.com","detail":{}}'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.oneof(hostileId, fc.constant(gone.resourceId)), async ([method, path, body], id) => {
        const req = { method, path: path.replace(':id', id), headers: { Authorization: basic, 'Content-Type': 'application/json' }, body };
        const res = await sendHostile(client, tdb.db, req);
        if (![400, 404, 410].includes(res.status)) throw new Error(`${res.status} for ${describeRequest(req)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('broken JSON, other content types and oversized bodies are a 4xx on every partner route', async () => {
    const routes: Array<[string, string, string]> = [
      ['POST', '/heroku/resources', JSON.stringify({ uuid: randomUUID(), plan: 'test', region: 'us' })],
      ['PUT', `/heroku/resources/${live.resourceId}`, '{"plan":"basic"}'],
      ['POST', `/heroku/resources/${live.resourceId}/events`, '{"event":"deploy","detail":{}}'],
    ];
    const arb = fc.constantFrom(...routes).chain((r) =>
      fc.tuple(
        fc.constant(r),
        fc.oneof(
          brokenJsonBodies(r[2]).map((b) => ({ type: 'application/json' as string | undefined, body: b })),
          fc.constantFrom(...NON_JSON_CONTENT_TYPES).map((type) => ({ type, body: r[2] })),
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([[method, path], { type, body }]) => {
        const res = await sendHostile(client, tdb.db, { method, path, headers: { Authorization: basic, 'Content-Type': type }, body });
        tally.add(res.status);
      }),
      { numRuns: RUNS },
    );
    const limits = [
      ['POST', '/heroku/resources', 100 * 1024],
      ['PUT', `/heroku/resources/${live.resourceId}`, 100 * 1024],
      ['POST', `/heroku/resources/${live.resourceId}/events`, 1024 * 1024],
    ] as const;
    for (const [method, path, limit] of limits) {
      const res = await sendHostile(client, tdb.db, jsonRequest(method, path, `{"plan":"${'x'.repeat(limit)}"}`, { Authorization: basic }));
      expect(res.status).toBe(413);
    }
    // A fragment of a valid body is not valid: the property must have seen refusals.
    expect(tally.count((s) => s >= 400)).toBeGreaterThan(0);
  });
});

describe('Heroku events receiver', () => {
  it('POST /heroku/resources/:id/events stores the envelope as sent (minus log_token), or writes nothing', async () => {
    const fields = {
      event: fc.constantFrom('deploy', 'attach', 'detach', 'DEPLOY', 'scale up', 'x'.repeat(80)),
      heroku_id: fc.constantFrom('app123@heroku.com', ''),
      detail: plausibleObject.map((d) => ({ ...d, log_token: 't.secret' })),
    };
    await fc.assert(
      fc.asyncProperty(hostileBody(fields), async (body) => {
        const res = await sendHostile(client, tdb.db, jsonRequest('POST', `/heroku/resources/${live.resourceId}/events`, body, { Authorization: basic }));
        tally.add(res.status);
        if (res.status !== 200) return;
        expect(res.json).toEqual({});
        const sent = parsed(body);
        const row = await tdb.db('messages').where({ resource_id: live.resourceId, event_id: `heroku:${sha256Hex(canonicalJson(sent))}` }).first();
        expect(row).toBeDefined();
        const back = await client.send({ method: 'GET', path: `/v1/messages/${row.id}`, headers: { Authorization: `Bearer ${live.apiKey}` } });
        const detail = sent.detail ?? {};
        const isObject = typeof detail === 'object' && detail !== null && !Array.isArray(detail);
        const { log_token: _dropped, ...kept } = isObject ? (detail as Record<string, unknown>) : {};
        const expectedDetail = isObject ? kept : detail;
        expectSameJson((back.json as { data: unknown }).data, { event: sent.event, heroku_id: sent.heroku_id ?? null, detail: expectedDetail });
        expect((back.json as { source: string }).source).toBe('heroku');
      }),
      {
        numRuns: RUNS,
        examples: [
          [{ event: 'deploy', detail: { n: raw('1e400') } }],
          [{ event: 'deploy', detail: { s: 'a\u0000b', u: '\ud800', '\udc00': '<script>' } }],
          [{ event: 'deploy\u0000', heroku_id: '\u0000' }],
          [{ event: 'deploy', detail: deeplyNested(10_000, 'object') }],
          [{ event: 'deploy', detail: raw('"a string"') }],
        ],
      },
    );
    tally.expectBoth();
  });
});

describe('SSO', () => {
  const seconds = () => String(Math.floor(NOW.getTime() / 1000));
  /** Form values as a browser would send them: percent-encoded UTF-8 (plus raw escapes a browser never makes). */
  // At most 1,500 characters each: seven of them stay under Node's 16 KB header limit in a query.
  const formValue = fc.oneof(
    { weight: 4, arbitrary: hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd').slice(0, 1500))) },
    { weight: 1, arbitrary: fc.constantFrom('%00', '%ED%A0%80', '%ZZ', '%', 'a+b', '') },
  );
  const ssoFields = fc.record(
    {
      resource_id: fc.constantFrom(live?.resourceId ?? '', 'x'),
      timestamp: fc.constantFrom('now', '0', '-1', '1e3', '99999999999999', 'NaN'),
      email: formValue,
      app: formValue,
      user_id: formValue,
      'nav-data': formValue,
      extra: formValue,
    },
    { requiredKeys: [] },
  );

  type TokenKind = 'none' | 'resource' | 'user_scoped' | 'legacy' | 'forged';
  /** A form (or query) with a valid token for its own fields half the time, so the sign-in itself runs. */
  const ssoRequest = () =>
    fc
      .tuple(
        ssoFields,
        fc.constantFrom<TokenKind>('none', 'resource', 'user_scoped', 'legacy', 'forged'),
        fc.constantFrom(live.resourceId, gone.resourceId, randomUUID()),
      )
      .map(([f, kind, id]) => signed(f, kind, id));
  /** Valid sign-ins carrying what Postgres cannot store, tried first. */
  const signedExamples = (): Array<[Record<string, string>]> => [
    [signed({ email: 'a%00b', app: 'app' }, 'user_scoped', live.resourceId)],
    [signed({ email: 'dev%40example.com', app: '%00' }, 'resource', live.resourceId)],
    [signed({ user_id: '%ED%A0%80', email: 'x' }, 'user_scoped', live.resourceId)],
    [signed({ app: '%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'nav-data': '%00%3B%20' }, 'legacy', live.resourceId)],
    [signed({ app: 'myapp' }, 'resource', gone.resourceId)],
  ];
  function signed(f: Record<string, string | undefined>, kind: TokenKind, id: string): Record<string, string> {
    {
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(f)) if (v !== undefined) fields[k] = v;
      if (fields.timestamp === 'now' || fields.timestamp === undefined) fields.timestamp = seconds();
      if (fields.resource_id !== 'x') fields.resource_id = id;
      const decoded = (s: string | undefined) => {
        try {
          return decodeURIComponent((s ?? '').replace(/\+/g, ' '));
        } catch {
          return s ?? '';
        }
      };
      const rid = fields.resource_id ?? '';
      if (kind === 'resource') fields.resource_token = resourceToken(rid, deps.config.heroku.ssoSalt, fields.timestamp);
      if (kind === 'legacy') {
        fields.id = rid;
        delete fields.resource_id;
        fields.token = legacyToken(rid, deps.config.heroku.ssoSalt, fields.timestamp);
      }
      if (kind === 'user_scoped') {
        fields.user_scoped_resource_token = userScopedResourceToken(rid, deps.config.heroku.ssoSalt, fields.timestamp, decoded(fields.user_id), decoded(fields.email));
      }
      if (kind === 'forged') fields.resource_token = 'a'.repeat(40);
      return fields;
    }
  }

  const encode = (fields: Record<string, string>) =>
    Object.entries(fields)
      .map(([k, v]) => `${encodeURIComponent(k)}=${v}`)
      .join('&');

  async function checkSignIn(res: { status: number; headers: Record<string, unknown> }) {
    tally.add(res.status);
    if (res.status === 302 || res.status === 303) {
      expect(res.headers.location).toBe('/dashboard');
      expect(String(res.headers['set-cookie'])).toMatch(/herald_session=/);
    } else if (![400, 403, 413].includes(res.status)) {
      throw new Error(`unexpected ${res.status}`);
    }
  }

  it('POST /sso/login: a redirect to the dashboard or an HTML 4xx page, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(ssoRequest(), async (fields) => {
        const body = encode(fields);
        const res = await sendHostile(client, tdb.db, { method: 'POST', path: '/sso/login', headers: FORM, body }, { kind: 'html' });
        await checkSignIn(res);
        if (res.status !== 303) return;
        // What the sign-in recorded is what the form said, decoded as the form parser (qs) does:
        // '+' is a space, and a value whose escapes are not UTF-8 is kept as sent.
        const qsDecode = (v: string) => {
          const plus = v.replace(/\+/g, ' ');
          try {
            return decodeURIComponent(plus);
          } catch {
            return plus;
          }
        };
        const row = await tdb.db('resources').where({ id: live.resourceId }).first();
        for (const [field, column] of [['app', 'app_name'], ['email', 'owner_email']] as const) {
          const raw = fields[field];
          const value = raw === undefined ? undefined : qsDecode(raw);
          if (value && !value.includes('\u0000')) expect(row[column]).toBe(value);
        }
      }),
      { numRuns: RUNS * 2, examples: signedExamples() },
    );
    tally.expectBoth();
  });

  it('GET /heroku/resources/:id (legacy SSO): a redirect to the dashboard or an HTML 4xx page, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(ssoRequest(), async (fields) => {
        const id = fields.id ?? fields.resource_id ?? 'x';
        const { id: _id, resource_id: _rid, ...rest } = fields;
        const res = await sendHostile(client, tdb.db, { method: 'GET', path: `/heroku/resources/${encodeURIComponent(id)}?${encode(rest)}` }, { kind: 'html' });
        await checkSignIn(res);
      }),
      { numRuns: RUNS, examples: signedExamples() },
    );
    tally.expectBoth();
  });

  it('POST /sso/login with JSON, multipart, no body or 25 KB of form is an HTML 4xx', async () => {
    for (const type of ['application/json', 'multipart/form-data; boundary=x', 'text/plain', undefined]) {
      const req = { method: 'POST', path: '/sso/login', headers: { 'Content-Type': type }, body: '{"resource_id":"x"}' };
      const res = await sendHostile(client, tdb.db, req, { kind: 'html' });
      expect(res.status).toBe(403);
    }
    const big = await sendHostile(client, tdb.db, { method: 'POST', path: '/sso/login', headers: FORM, body: `app=${'x'.repeat(25_000)}` }, { kind: 'html' });
    expect(big.status).toBe(413);
    const many = await sendHostile(
      client,
      tdb.db,
      { method: 'POST', path: '/sso/login', headers: FORM, body: Array.from({ length: 60 }, (_, i) => `f${i}=1`).join('&') },
      { kind: 'html' },
    );
    expect(many.status).toBe(413);
  });
});
