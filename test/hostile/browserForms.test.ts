import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createApp } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import { csrfToken } from '../../src/http/dashboard/csrf.js';
import { setUrlResolver } from '../../src/services/endpoints.js';
import { encodeSession, PORTAL_COOKIE, SESSION_COOKIE, type Session } from '../../src/session.js';
import { manualClock, testDeps } from '../helpers/deps.js';
import {
  describeRequest,
  expectSameJson,
  hostileId,
  hostileQueryValue,
  hostileString,
  rawClient,
  RUNS,
  sendHostile,
  Tally,
  type RawClient,
  type RawRequest,
} from '../helpers/hostile.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { fakeDns, fixture, type Fixture } from './apiSetup.js';

/**
 * Property: the dashboard's and the portal's forms and pages, posted with a valid session and CSRF
 * token but hostile fields (NUL, broken escapes, lone surrogates, huge values, HTML, JSON that is
 * not), ids and query strings: the answer is a redirect, a page, or an HTML 4xx page that says
 * what is wrong, never a 5xx; a 4xx writes nothing; what a form creates is stored as typed.
 */

const START = '2026-11-23T12:00:00Z';
let tdb: TestDb;
let deps: Deps;
let client: RawClient;
let a: Fixture;
let b: Fixture;
let dashboard: { cookie: string; csrf: string };
let portal: { cookie: string; csrf: string };
let tally: Tally;

function sessionFor(kind: 'heroku' | 'portal', subscriberId?: string): { cookie: string; csrf: string } {
  const now = Math.floor(new Date(START).getTime() / 1000);
  const session: Session = {
    resourceId: a.resourceId,
    email: null,
    userId: null,
    app: 'demo',
    kind,
    sid: `sid-${kind}`,
    iat: now,
    exp: now + 3600,
    max: now + 3600,
    ...(subscriberId ? { subscriberId } : {}),
  };
  return { cookie: `${kind === 'portal' ? PORTAL_COOKIE : SESSION_COOKIE}=${encodeSession(deps.config, session)}`, csrf: csrfToken(deps.config, session) };
}

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { clock: manualClock(START), env: { ALLOW_PRIVATE_TARGETS: 'false', LOG_LEVEL: 'warn' } });
  setUrlResolver(fakeDns);
  client = await rawClient(createApp(deps));
  a = await fixture(tdb.db, deps.config, 'pro');
  b = await fixture(tdb.db, deps.config);
  dashboard = sessionFor('heroku');
  portal = sessionFor('portal', a.subscriberId);
});
afterAll(async () => {
  setUrlResolver(undefined);
  await client.close();
  await tdb.destroy();
});
beforeEach(() => {
  tally = new Tally();
});

/** A form value: how it travels, and what the server reads (undefined when a browser would never send it). */
interface Field {
  enc: string;
  dec: string | undefined;
}
const field: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: hostileString.map((s) => s.replace(/[\ud800-\udfff]/g, '\ufffd')).map((s) => ({ enc: encodeURIComponent(s), dec: s })) },
  { weight: 1, arbitrary: fc.constantFrom('%00', '%ED%A0%80', '%ZZ', '%', '%E0%A4%A').map((enc) => ({ enc, dec: undefined })) },
);
const valid = (values: string[]): fc.Arbitrary<Field> => fc.constantFrom(...values).map((s) => ({ enc: encodeURIComponent(s), dec: s }));

/**
 * A form: each field left out, valid (most often, so that whole forms get accepted too), wrong in
 * a way the field's rules know (`bad`), or hostile; sometimes a key a form never has.
 */
function hostileForm(fields: Record<string, string[]>, bad: Record<string, string[]> = {}): fc.Arbitrary<Record<string, Field>> {
  const model: Record<string, fc.Arbitrary<Field>> = {};
  for (const [name, values] of Object.entries(fields)) {
    model[name] = fc.oneof({ weight: 8, arbitrary: valid(values) }, { weight: 1, arbitrary: valid(bad[name] ?? ['']) }, { weight: 1, arbitrary: field });
  }
  const oddKey = fc.constantFrom('a[b]', '_csrf[]', '__proto__', 'constructor', 'url[]', 'x'.repeat(300));
  return fc.tuple(fc.record(model, { requiredKeys: [] }), fc.option(fc.tuple(oddKey, field), { freq: 6 })).map(([form, extra]) => {
    const out: Record<string, Field> = {};
    for (const [k, v] of Object.entries(form)) if (v) out[k] = v;
    if (extra) out[extra[0]] = extra[1];
    return out;
  });
}

const encodeForm = (form: Record<string, Field>, csrf: string) =>
  [`_csrf=${encodeURIComponent(csrf)}`, ...Object.entries(form).map(([k, v]) => `${encodeURIComponent(k)}=${v.enc}`)].join('&');

function post(surface: { cookie: string; csrf: string }, path: string, form: Record<string, Field>): RawRequest {
  return { method: 'POST', path, headers: { Cookie: surface.cookie, 'Content-Type': 'application/x-www-form-urlencoded' }, body: encodeForm(form, surface.csrf) };
}

async function submit(req: RawRequest, opts: { readOnly?: boolean } = {}) {
  const res = await sendHostile(client, tdb.db, req, { kind: 'html', ...opts });
  tally.add(res.status);
  if (res.status >= 300 && res.status < 400 && !res.headers.location) throw new Error(`${res.status} without a Location for ${describeRequest(req)}`);
  if (res.status < 300 && !/text\/html/.test(String(res.headers['content-type']))) throw new Error(`not a page for ${describeRequest(req)}`);
  return res;
}

const ENDPOINT_FORM = {
  url: ['http://93.184.216.34/hook', ' https://public.example/x '],
  description: ['Billing', '<script>alert(1)</script>', ''],
  event_types: ['invoice.paid, customer.*', 'a.b\nc.d', ''],
  format: ['standard'],
  version: ['', '2026-01'],
  headers: ['X-Env: production\nX-Team: billing', ''],
  timeout: ['7', '30'],
  active: ['on', ''],
  secret: ['', `whsec_${Buffer.alloc(32, 1).toString('base64')}`],
};
const ENDPOINT_FORM_BAD = {
  url: ['http://127.0.0.1/', 'javascript:alert(1)', 'http://nowhere.invalid/', 'https://hooks.slack.com/services/T/B/X'],
  event_types: ['bad type!', 'heroku.*.x'],
  format: ['slack', 'xml'],
  headers: ['no colon', 'Host: evil', 'X-A: 1\nX-A: 2', 'X-Bad: \u0001'],
  timeout: ['0', '31', '1.5', 'NaN', '-1', '1e3'],
  secret: ['whsec_short', 'secret'],
};

describe('dashboard forms', () => {
  it('POST /dashboard/endpoints creates what the form says, or re-renders the form with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileForm({ ...ENDPOINT_FORM, subscriber_id: [a.subscriberId, ''] }, { ...ENDPOINT_FORM_BAD, subscriber_id: [b.subscriberId, 'junk'] }),
        async (form) => {
          const res = await submit(post(dashboard, '/dashboard/endpoints', form));
          if (res.status !== 303) return;
          const id = /\/dashboard\/endpoints\/([0-9a-f-]{36})\?/.exec(res.headers.location!)![1]!;
          const row = await tdb.db('endpoints').where({ id, resource_id: a.resourceId }).first();
          if (form.url?.dec !== undefined) expect(row.url).toBe(new URL(form.url.dec.trim()).href);
          if (form.description?.dec !== undefined) expect(row.description).toBe(form.description.dec);
        },
      ),
      { numRuns: RUNS, examples: [[{ url: { enc: 'http%3A%2F%2F93.184.216.34%2F', dec: 'http://93.184.216.34/' }, description: { enc: '%00', dec: undefined } }]] },
    );
    tally.expectBoth();
  });

  it('POST /dashboard/endpoints/:id (edit) changes what the form says, or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileForm(ENDPOINT_FORM, ENDPOINT_FORM_BAD), async (form) => {
        const res = await submit(post(dashboard, `/dashboard/endpoints/${a.endpointId}`, form));
        if (res.status !== 303) return;
        const row = await tdb.db('endpoints').where({ id: a.endpointId }).first();
        if (form.description?.dec !== undefined) expect(row.description).toBe(form.description.dec);
      }),
      { numRuns: RUNS },
    );
    tally.expectBoth();
  });

  it('POST /dashboard/subscribers and /dashboard/subscribers/:id store what the form says, metadata included', async () => {
    const fields = { name: ['Acme', ' Globex ', '<b>bold</b>'], external_id: ['', 'cus_1', 'cus_2'], metadata: ['{}', '{"tier":"gold"}', '{"html":"<script>"}'] };
    const bad = { metadata: ['[1]', '{"a":', '{"u":"\\ud800"}', '{"n":1e400}', '{"z":"\\u0000"}', `{"d":${'['.repeat(5000)}${']'.repeat(5000)}}`] };
    await fc.assert(
      fc.asyncProperty(hostileForm(fields, bad), fc.boolean(), async (form, edit) => {
        const path = edit ? `/dashboard/subscribers/${a.subscriberId}` : '/dashboard/subscribers';
        const res = await submit(post(dashboard, path, form));
        if (res.status !== 303) return;
        const id = edit ? a.subscriberId : /subscribers\/([0-9a-f-]{36})\?/.exec(res.headers.location!)![1]!;
        const row = await tdb.db('subscribers').where({ id, resource_id: a.resourceId }).first();
        if (form.name?.dec !== undefined) expect(row.name).toBe(form.name.dec.trim());
        const metadata = form.metadata?.dec?.trim();
        if (metadata) expectSameJson(row.metadata, JSON.parse(metadata));
      }),
      { numRuns: RUNS },
    );
    tally.expectBoth();
  });

  it('POST /dashboard/event-types declares what the form says, or re-renders the list with a 4xx', async () => {
    const fields = { name: ['invoice.paid', ' order.shipped ', 'a-b_c.d9'], description: ['', 'Paid', '<script>alert(1)</script>'] };
    const bad = { name: ['heroku.deploy', 'herald.x', 'bad name', 'a..b', 'x'.repeat(101)], description: ['x'.repeat(1001)] };
    await fc.assert(
      fc.asyncProperty(hostileForm(fields, bad), async (form) => {
        const res = await submit(post(dashboard, '/dashboard/event-types', form));
        if (res.status !== 303) return;
        const name = form.name?.dec?.trim();
        if (name === undefined) return;
        const row = await tdb.db('event_types').where({ resource_id: a.resourceId, name }).first();
        if (form.description?.dec !== undefined) expect(row.description).toBe(form.description.dec);
      }),
      { numRuns: RUNS },
    );
    tally.expectBoth();
  });

  it('the action forms (portal link, recover, enable, test, retry, secret, API key) take any fields without a 5xx', async () => {
    const actions: Array<[string, Record<string, string[]>]> = [
      [`/dashboard/subscribers/${a.subscriberId}/portal-link`, { expires_in: ['3600', '', '59', '604801', '1.5', 'NaN', '-1', '1e400'] }],
      [`/dashboard/endpoints/${a.endpointId}/recover`, { since: ['2026-11-23T00:00', '2026-11-23', '2020-01-01T00:00', '2026-13-45T99:99', '2026-11-24T00:00'] }],
      [`/dashboard/endpoints/${a.endpointId}/enable`, {}],
      [`/dashboard/endpoints/${a.endpointId}/disable`, {}],
      [`/dashboard/endpoints/${a.endpointId}/test`, {}],
      [`/dashboard/endpoints/${a.endpointId}/secret`, {}],
      [`/dashboard/deliveries/${a.deliveryId}/retry`, {}],
      ['/dashboard/api-key', {}],
      ['/dashboard/logout', {}],
      ['/logout', {}],
    ];
    const arb = fc.constantFrom(...actions).chain(([path, fields]) => fc.tuple(fc.constant(path), hostileForm(fields)));
    await fc.assert(
      fc.asyncProperty(arb, async ([path, form]) => {
        await submit(post(dashboard, path, form));
      }),
      { numRuns: RUNS },
    );
    tally.expectBoth();
  });
});

describe('portal forms', () => {
  it('POST /portal/endpoints creates an endpoint of the portal\'s subscriber only, whatever the form says', async () => {
    await fc.assert(
      fc.asyncProperty(hostileForm({ ...ENDPOINT_FORM, subscriber_id: [b.subscriberId, randomUUID()] }, ENDPOINT_FORM_BAD), async (form) => {
        const res = await submit(post(portal, '/portal/endpoints', form));
        if (res.status !== 303) return;
        const id = /\/portal\/endpoints\/([0-9a-f-]{36})\?/.exec(res.headers.location!)![1]!;
        const row = await tdb.db('endpoints').where({ id }).first();
        expect(row).toMatchObject({ resource_id: a.resourceId, subscriber_id: a.subscriberId });
      }),
      { numRuns: RUNS },
    );
    tally.expectBoth();
  });

  it('POST /portal/endpoints/:id (edit) and its actions never reach another subscriber\'s endpoint', async () => {
    const actions = ['', '/enable', '/disable', '/test', '/secret', '/secret/rotate', '/recover', '/delete'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...actions),
        fc.constantFrom(b.endpointId, randomUUID()),
        hostileForm({ description: ['x'], since: ['2026-11-23T00:00'] }),
        async (action, id, form) => {
          const res = await submit(post(portal, `/portal/endpoints/${id}${action}`, form));
          // 404 (not theirs), or 400 when the form is refused before the lookup: nothing written either way.
          expect([400, 404]).toContain(res.status);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

describe('ids, query strings and bodies that are not forms', () => {
  const ID_PAGES: Array<[string, string]> = [
    ['GET', '/dashboard/endpoints/:id'],
    ['GET', '/dashboard/endpoints/:id/edit'],
    ['GET', '/dashboard/endpoints/:id/delete'],
    ['GET', '/dashboard/endpoints/:id/recover'],
    ['POST', '/dashboard/endpoints/:id'],
    ['POST', '/dashboard/endpoints/:id/delete'],
    ['POST', '/dashboard/endpoints/:id/secret/rotate'],
    ['POST', '/dashboard/endpoints/:id/recover'],
    ['GET', '/dashboard/messages/:id'],
    ['POST', '/dashboard/deliveries/:id/retry'],
    ['GET', '/dashboard/subscribers/:id'],
    ['POST', '/dashboard/subscribers/:id'],
    ['GET', '/dashboard/subscribers/:id/delete'],
    ['POST', '/dashboard/subscribers/:id/delete'],
    ['POST', '/dashboard/subscribers/:id/portal-link'],
    ['GET', '/portal/endpoints/:id'],
    ['GET', '/portal/messages/:id'],
    ['POST', '/portal/deliveries/:id/retry'],
  ];

  it('an id that names nothing of the session\'s is a 404 page (or 400), never a 5xx, nothing written', async () => {
    const others = [b.endpointId, b.messageId, b.deliveryId, b.subscriberId];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_PAGES), fc.oneof(hostileId, fc.constantFrom(...others)), async ([method, path], id) => {
        const surface = path.startsWith('/portal') ? portal : dashboard;
        const url = path.replace(':id', id);
        const req: RawRequest =
          method === 'GET'
            ? { method, path: url, headers: { Cookie: surface.cookie } }
            : post(surface, url, { since: { enc: '2026-11-23T00%3A00', dec: '2026-11-23T00:00' } });
        const res = await sendHostile(client, tdb.db, req, { kind: 'html' });
        if (res.status !== 404 && res.status !== 400) throw new Error(`${res.status} for ${describeRequest(req)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('hostile query strings on every page are a page or an HTML 4xx, and read only', async () => {
    const PAGES: Array<[string, string[]]> = [
      ['/dashboard', ['notice', 'n']],
      ['/dashboard/endpoints', ['cursor', 'limit', 'notice']],
      ['/dashboard/endpoints/new', ['subscriber_id']],
      [`/dashboard/endpoints/${a.endpointId}/recover`, ['since']],
      ['/dashboard/messages', ['event_type', 'status', 'since', 'until', 'q', 'cursor', 'limit']],
      ['/dashboard/subscribers', ['cursor', 'limit']],
      ['/dashboard/event-types', ['cursor', 'limit', 'notice']],
      ['/portal', ['notice']],
      ['/portal/messages', ['event_type', 'status', 'since', 'until', 'q', 'cursor']],
    ];
    const arb = fc.constantFrom(...PAGES).chain(([path, params]) =>
      fc.tuple(fc.constant(path), fc.array(fc.tuple(fc.constantFrom(...params), hostileQueryValue), { minLength: 1, maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([path, pairs]) => {
        const surface = path.startsWith('/portal') ? portal : dashboard;
        await submit({ method: 'GET', path: `${path}?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`, headers: { Cookie: surface.cookie } }, { readOnly: true });
      }),
      {
        numRuns: RUNS * 2,
        examples: [[['/dashboard/messages', [['q', '%00']]]], [['/dashboard/messages', [['event_type', '%00']]]], [['/portal/messages', [['q', 'a%00']]]]],
      },
    );
    tally.expectBoth();
  });

  it('JSON, multipart or no body on a form route is a 403 page; a form over 200 KB is a 413 page', async () => {
    for (const surface of [dashboard, portal]) {
      const base = surface === dashboard ? '/dashboard' : '/portal';
      for (const type of ['application/json', 'multipart/form-data; boundary=x', 'text/plain', undefined]) {
        const body = type === 'application/json' ? JSON.stringify({ _csrf: surface.csrf, url: 'http://93.184.216.34/' }) : `_csrf=${surface.csrf}`;
        const req = { method: 'POST', path: `${base}/endpoints`, headers: { Cookie: surface.cookie, 'Content-Type': type }, body };
        const res = await sendHostile(client, tdb.db, req, { kind: 'html' });
        expect(res.status).toBe(403);
      }
      const big = await sendHostile(client, tdb.db, post(surface, `${base}/endpoints`, { description: { enc: 'x'.repeat(210_000), dec: undefined } }), { kind: 'html' });
      expect(big.status).toBe(413);
    }
  });
});
