import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import fc from 'fast-check';
import type { Knex } from 'knex';

/**
 * Shared kit of the hostile-input tests (test/hostile/): a raw HTTP client that sends exactly the
 * bytes and headers it is given, database snapshots to prove a refused request wrote nothing, JSON
 * text generators that can say what JSON.stringify cannot (duplicate keys, 1e400, 10,000 levels of
 * nesting, lone surrogate escapes), and the assertions every answer must pass.
 */

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed body when the answer is JSON, else undefined. */
  json: unknown;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | undefined>;
  /** Sent as is; no Content-Type is added unless `headers` has one. */
  body?: string | Buffer;
}

export interface RawClient {
  readonly url: string;
  send(req: RawRequest): Promise<RawResponse>;
  close(): Promise<void>;
}

/**
 * Starts `app` on 127.0.0.1 port 0 and returns a client built on node:http, not supertest:
 * superagent would pick a Content-Type for a string body and refuse to send some bytes, and these
 * tests must control every header (none at all included).
 */
export async function rawClient(app: Express): Promise<RawClient> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  return {
    url: `http://127.0.0.1:${port}`,
    send(req) {
      return new Promise<RawResponse>((resolve, reject) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k] = v;
        if (req.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding')) {
          headers['Content-Length'] = String(Buffer.byteLength(req.body));
        }
        const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            if (/json/.test(String(res.headers['content-type'] ?? ''))) {
              try {
                json = JSON.parse(text);
              } catch {
                json = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
          res.on('error', reject);
        });
        r.on('error', reject);
        if (req.body !== undefined) r.write(req.body);
        r.end();
      });
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JSON request: `body` is JSON text (sent as is) or a value serialised by `toJsonText`. */
export function jsonRequest(method: string, path: string, body: unknown, headers: Record<string, string> = {}): RawRequest {
  return {
    method,
    path,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : toJsonText(body),
  };
}

// ---------------------------------------------------------------------------------------------
// Database snapshots

/** Every table of the schema (migrations/), in foreign-key order. */
export const TABLES = ['resources', 'subscribers', 'endpoints', 'event_types', 'messages', 'deliveries', 'attempts', 'usage_counters'] as const;

/** Per table: its row count and an md5 of all its rows' text. Equal snapshots = nothing written. */
export type DbSnapshot = Record<(typeof TABLES)[number], string>;

const SNAPSHOT_SQL = TABLES.map(
  (t) => `select '${t}' as t, count(*) || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '-') as v from ${t} x`,
).join(' union all ');

/** One round trip; cheap on the small databases of these tests. */
export async function snapshotDb(db: Knex): Promise<DbSnapshot> {
  const { rows } = await db.raw<{ rows: Array<{ t: string; v: string }> }>(SNAPSHOT_SQL);
  return Object.fromEntries(rows.map((r) => [r.t, r.v])) as DbSnapshot;
}

/** The tables whose rows differ between two snapshots (empty when nothing was written). */
export function changedTables(before: DbSnapshot, after: DbSnapshot): string[] {
  return TABLES.filter((t) => before[t] !== after[t]);
}

// ---------------------------------------------------------------------------------------------
// JSON text that JSON.stringify cannot produce

/** Emitted verbatim: `1e400`, `-0`, a truncated fragment, 10,000 brackets. */
export class RawJson {
  constructor(readonly text: string) {}
  /** How fast-check prints a counterexample: 10,000 brackets would bury the report. */
  [fc.toStringMethod](): string {
    return this.text.length > 80 ? `raw(${JSON.stringify(this.text.slice(0, 40))}…${this.text.length} chars)` : `raw(${JSON.stringify(this.text)})`;
  }
}
export const raw = (text: string): RawJson => new RawJson(text);

/** An object whose keys may repeat (JSON.parse keeps the last). */
export class DupObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
  [fc.toStringMethod](): string {
    return `dup(${fc.stringify(this.entries)})`;
  }
}

/** Serialises generated values; iterative where depth can be large is not needed: deep values are RawJson. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof DupObject) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : toJsonText(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `depth` levels of arrays or objects around `inner`, as text (no recursion anywhere). */
export function deeplyNested(depth: number, kind: 'array' | 'object' = 'array', inner = '1'): RawJson {
  return kind === 'array'
    ? raw('['.repeat(depth) + inner + ']'.repeat(depth))
    : raw('{"a":'.repeat(depth) + inner + '}'.repeat(depth));
}

// ---------------------------------------------------------------------------------------------
// Generators

const LONE_HIGH = '\ud800';
const LONE_LOW = '\udfff';

/** Strings that have broken web services before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  `x${LONE_HIGH}`,
  `${LONE_LOW}y`,
  `${LONE_LOW}${LONE_HIGH}`,
  '\u{1F600} émoji ÿ \u202e reversed',
  '\ufeffbom',
  "'; drop table resources; --",
  "' or '1'='1",
  '$1',
  '?',
  ':id',
  '\\',
  '\\u0000',
  '%00',
  '%',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '<%= it.secret %>',
  '{{7*7}}',
  '${process.env}',
  '../../../etc/passwd',
  '\r\nX-Injected: yes',
  'NaN',
  'Infinity',
  '-1',
  '1e400',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  '00000000-0000-0000-0000-000000000000',
];

export const nastyString = fc.constantFrom(...NASTY_STRINGS);

/** Over every limit the API states (200, 1000, 2048 characters, 16 KiB of metadata). */
export const hugeString = fc.constantFrom(201, 1001, 2049, 20_000).map((n) => 'x'.repeat(n));

/** A string with a NUL or a lone surrogate somewhere inside. */
export const poisonedString = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\u0000', LONE_HIGH, LONE_LOW), fc.string({ maxLength: 10 }))
  .map(([a, p, b]) => a + p + b);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: nastyString },
  { weight: 2, arbitrary: poisonedString },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: hugeString },
);

/** Numbers as JSON text, including the ones JSON.stringify cannot write. */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    raw('1e400'),
    raw('-1e400'),
    raw('1e-400'),
    raw('-0'),
    raw('0.5'),
    raw('1.0'),
    raw('99999999999999999999999999'),
    raw('9007199254740993'),
    -1,
    0,
    2 ** 31,
    -(2 ** 31) - 1,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** A JSON object key that has caused trouble (prototype names, NUL, surrogates, empty). */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', '', '\u0000', 'a\u0000', LONE_HIGH, 'log_token', '$where', 'a.b', "'"),
  fc.string({ maxLength: 8 }),
);

/** Any JSON value: scalars, small arrays and objects of them, duplicate keys, and deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: hostileScalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileKey, tie('value'), { maxKeys: 3 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom('a', 'b'), tie('value')), { minLength: 2, maxLength: 3 }).map((e) => new DupObject(e)) },
    { weight: 1, arbitrary: fc.constantFrom(deeplyNested(10_000), deeplyNested(10_000, 'object'), deeplyNested(200, 'object')) },
  ),
})).value;

/** Plausible JSON (what a customer would send as `data` or `metadata`), with the odd nasty string. */
export const plausibleJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      nastyString,
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

export const plausibleObject: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(fc.string({ maxLength: 12 }), plausibleJson, { maxKeys: 5 });

/**
 * A body for a route with the given fields: each field is left out, given a valid value (so deeper
 * checks are reached) or a hostile one; sometimes an unknown field is added.
 */
export function hostileBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, valid] of Object.entries(fields)) {
    model[name] = fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: hostileValue });
  }
  return fc
    .tuple(fc.record(model, { requiredKeys: [] }), fc.option(fc.tuple(hostileKey, hostileValue), { freq: 6 }))
    .map(([body, extra]) => (extra ? { ...body, [extra[0]]: extra[1] } : body));
}

/** Ids that must name nothing: not uuids, uuids of nobody, uuids with tricks around them. */
export const hostileId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'x',
    '0',
    '-1',
    '1e400',
    'null',
    'undefined',
    '%00',
    '%ZZ',
    '%E0%A4%A',
    '%2e%2e',
    '..',
    "'%20or%20'1'%3D'1",
    '%3Cscript%3E',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '{00000000-0000-0000-0000-000000000000}',
    '00000000000000000000000000000000',
    '00000000-0000-0000-0000-0000000000000',
    '%F0%9F%98%80',
    'a'.repeat(5000),
  ),
  fc.uuid().map((u) => encodeURIComponent(u)),
  fc.uuid().map((u) => encodeURIComponent(`${u}\u0000`)),
  fc.uuid().map((u) => encodeURIComponent(` ${u}`)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))),
);

/**
 * Query-string values, percent-encoded as they travel (including malformed escapes). At most a few
 * KB: past 16 KB of headers Node's HTTP parser answers 431 before Herald sees the request (and in
 * production Heroku's router refuses a request line over 8 KB first).
 */
export const hostileQueryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('%00', '%', '%ZZ', '%E0%A4%A', '-1', '0', '1.5', '1e3', '99999999999', 'NaN', '', 'a'.repeat(3000)),
  hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd').slice(0, 2000))),
);

/**
 * Bodies that are not one well-formed JSON document: truncated, malformed, not JSON at all, or
 * JSON of the wrong kind (a scalar, an array, 10,000 levels of nesting).
 */
export function brokenJsonBodies(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 0, max: Math.max(0, valid.length - 1) }).map((n) => valid.slice(0, n)),
    fc.constantFrom(
      '',
      '{',
      '}',
      '{"a":}',
      "{'a': 1}",
      '{"a": 1,}',
      '{"a": NaN}',
      '{"a": Infinity}',
      '{"a": undefined}',
      '{"a": 01}',
      '{"a": 1} trailing',
      '{"a": "\u0000raw NUL"}',
      '{"a": "\\x41"}',
      '{"a": "\\ud800"}',
      'null',
      'true',
      '0',
      '"string"',
      '[]',
      '[{}]',
      '\ufeff{}',
      '<?xml version="1.0"?><a/>',
      'a=1&b=2',
      deeplyNested(10_000).text,
      deeplyNested(10_000, 'object').text,
      `{"data": ${deeplyNested(10_000).text}}`,
    ),
  );
}

/** Content types that are not JSON (undefined: no Content-Type header at all). */
export const NON_JSON_CONTENT_TYPES: ReadonlyArray<string | undefined> = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/octet-stream',
  undefined,
];

// ---------------------------------------------------------------------------------------------
// Comparing JSON values

/**
 * Where two parsed JSON values differ, or undefined when they are the same JSON: numbers by value
 * (so -0 and 0 agree, Infinity and null do not), objects whatever their key order (jsonb reorders
 * keys). Iterative, for values nested 10,000 deep.
 */
export function jsonDifference(actual: unknown, expected: unknown): string | undefined {
  const stack: Array<[unknown, unknown, string]> = [[actual, expected, '$']];
  while (stack.length > 0) {
    const [x, y, path] = stack.pop()!;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return `${path}: ${x} != ${y}`;
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return `${path}: ${x.length} items != ${y.length}`;
      x.forEach((item, i) => stack.push([item, y[i], `${path}[${i}]`]));
    } else if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      const kx = Object.keys(x).sort();
      const ky = Object.keys(y).sort();
      if (JSON.stringify(kx) !== JSON.stringify(ky)) return `${path}: keys ${JSON.stringify(kx)} != ${JSON.stringify(ky)}`;
      for (const k of kx) stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`]);
    } else if (x !== y) {
      const show = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));
      return `${path}: ${show(x)} != ${show(y)}`;
    }
  }
  return undefined;
}

export function expectSameJson(actual: unknown, expected: unknown): void {
  const difference = jsonDifference(actual, expected);
  if (difference) throw new Error(`read back differs from what was accepted at ${difference}`);
}

// ---------------------------------------------------------------------------------------------
// Assertions

const CODE = /^[a-z][a-z0-9_]*$/;

/**
 * A client error the caller can act on: a 4xx with `{error: snake_case, message}` in JSON, or an
 * HTML page for browser routes. Returns a description of what is wrong, or undefined when fine
 * (so a property can report the request that caused it).
 */
export function clientErrorProblem(res: RawResponse, kind: 'json' | 'html' = 'json'): string | undefined {
  if (res.status < 400 || res.status >= 500) return `expected a 4xx, got ${res.status}: ${res.text.slice(0, 300)}`;
  if (kind === 'html') {
    if (!/text\/html/.test(String(res.headers['content-type']))) return `expected an HTML page, got ${res.headers['content-type']}`;
    if (!/<p>|<main|<form/.test(res.text)) return 'the HTML page says nothing';
    return undefined;
  }
  const body = res.json as { error?: unknown; message?: unknown } | undefined;
  if (!body) return `expected a JSON error body, got ${res.headers['content-type']}: ${res.text.slice(0, 200)}`;
  if (typeof body.error !== 'string' || !CODE.test(body.error)) return `error code missing or not snake_case: ${res.text.slice(0, 200)}`;
  if (typeof body.message !== 'string' || body.message.length < 5) return `message missing: ${res.text.slice(0, 200)}`;
  return undefined;
}

/** Describes a request in a failure message without dumping 10,000 brackets. */
export function describeRequest(req: RawRequest): string {
  const body = req.body === undefined ? '' : String(req.body);
  const shown = body.length > 300 ? `${body.slice(0, 150)}…(${body.length} chars)…${body.slice(-60)}` : body;
  return `${req.method} ${req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path} ${JSON.stringify(req.headers ?? {})} ${JSON.stringify(shown)}`;
}

/**
 * Sends `req` and checks the one rule of these tests: never a 5xx; a 4xx is a well-formed client
 * error and leaves every table as it was. Returns the response for further checks of a 2xx.
 */
export async function sendHostile(
  client: RawClient,
  db: Knex,
  req: RawRequest,
  opts: { kind?: 'json' | 'html'; readOnly?: boolean } = {},
): Promise<RawResponse> {
  const before = await snapshotDb(db);
  const res = await client.send(req);
  const where = describeRequest(req);
  if (res.status >= 500) throw new Error(`${res.status} for ${where}\n${res.text.slice(0, 500)}`);
  if (res.status >= 400) {
    const problem = clientErrorProblem(res, opts.kind ?? 'json');
    if (problem) throw new Error(`${problem}\nfor ${where}`);
  }
  if (res.status >= 400 || opts.readOnly) {
    const changed = changedTables(before, await snapshotDb(db));
    if (changed.length > 0) throw new Error(`${res.status} but ${changed.join(', ')} changed, for ${where}`);
  }
  return res;
}

/**
 * Counts the answers a property got, so it can insist that it reached both sides: a property
 * whose every case was refused never checked a read-back (and one never refused tested nothing
 * hostile).
 */
export class Tally {
  readonly statuses = new Map<number, number>();
  add(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }
  count(pred: (status: number) => boolean): number {
    let n = 0;
    for (const [s, c] of this.statuses) if (pred(s)) n += c;
    return n;
  }
  expectBoth(): void {
    const summary = JSON.stringify(Object.fromEntries(this.statuses));
    if (this.count((s) => s < 400) === 0) throw new Error(`no case was accepted: ${summary}`);
    if (this.count((s) => s >= 400) === 0) throw new Error(`no case was refused: ${summary}`);
  }
}

/** numRuns for the properties: enough to hit every generator branch, small enough for 2 cores. */
export const RUNS = Number(process.env.HOSTILE_RUNS ?? 60);
