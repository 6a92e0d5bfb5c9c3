import { createRequire } from 'node:module';
import { jest } from '@jest/globals';

/**
 * Every secret check ends in node:crypto's timingSafeEqual on two fixed-size digests: these tests
 * watch that function (node:crypto is replaced by itself plus a call recorder) while each check
 * runs with right, wrong, shorter and longer secrets, and assert that the comparison happens, once
 * per secret, on 32-byte buffers whatever the lengths presented. A comparison that returned early
 * on a length mismatch (or used ===) would show up here as a missing or odd-sized call.
 *
 * Everything from src/ is imported after the mock is registered, so it gets the recorder.
 */

const real = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
const compared: Array<[number, number]> = [];
let hashes = 0;
jest.unstable_mockModule('node:crypto', () => ({
  ...real,
  default: real,
  timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    compared.push([a.byteLength, b.byteLength]);
    return real.timingSafeEqual(a, b);
  },
  createHash: (algorithm: string) => {
    hashes++;
    return real.createHash(algorithm);
  },
}));

/** The comparisons `fn` made: [length of a, length of b] per call of timingSafeEqual. */
async function comparisonsOf(fn: () => unknown): Promise<Array<[number, number]>> {
  const start = compared.length;
  await fn();
  return compared.slice(start);
}

const DIGEST = [32, 32];

describe('safeEqual', () => {
  it('compares once, on two 32-byte digests, whatever the lengths, and hashes both sides', async () => {
    const { safeEqual } = await import('../../src/crypto.js');
    const secret = 'correct horse battery staple';
    const cases: Array<[string, boolean]> = [
      [secret, true],
      ['', false],
      ['c', false],
      [secret.slice(0, -1), false],
      [`${secret}!`, false],
      [`x${secret.slice(1)}`, false],
      [`${secret.slice(0, -1)}x`, false],
      ['x'.repeat(10_000), false],
      ['\u0000'.repeat(secret.length), false],
    ];
    for (const [given, expected] of cases) {
      const hashesBefore = hashes;
      const calls = await comparisonsOf(() => expect(safeEqual(given, secret)).toBe(expected));
      expect(calls).toEqual([DIGEST]);
      expect(hashes - hashesBefore).toBe(2);
    }
  });

  it('is symmetric and tells strings apart that share a digest-length prefix', async () => {
    const { safeEqual } = await import('../../src/crypto.js');
    const a = 'a'.repeat(64);
    expect(safeEqual(a, `${a}a`)).toBe(false);
    expect(safeEqual(`${a}a`, a)).toBe(false);
    expect(safeEqual('é', 'e\u0301')).toBe(false);
  });
});

describe('every secret check goes through it', () => {
  it('partner Basic auth compares user and password, both, every time', async () => {
    const { partnerAuth } = await import('../../src/http/partnerAuth.js');
    const { testConfig } = await import('../helpers/deps.js');
    const config = testConfig();
    const { addonId, apiPassword } = config.heroku;
    const check = partnerAuth(config);
    const run = (authorization: string | undefined) =>
      new Promise<unknown>((resolve) => {
        check({ headers: authorization === undefined ? {} : { authorization } } as never, {} as never, resolve);
      });
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const attempts = [basic(addonId, apiPassword), basic(addonId, 'x'), basic(addonId, `${apiPassword}x`), basic('x', apiPassword), basic('', ''), 'Basic !!', undefined];
    for (const auth of attempts) {
      let outcome: unknown;
      const calls = await comparisonsOf(async () => {
        outcome = await run(auth);
      });
      expect(calls).toEqual([DIGEST, DIGEST]);
      expect(outcome === undefined).toBe(auth === basic(addonId, apiPassword));
    }
  });

  it('SSO tokens (user-scoped, v3, legacy): one comparison, right or wrong, short or long', async () => {
    const { verifySso, resourceToken, userScopedResourceToken, legacyToken } = await import('../../src/ssoTokens.js');
    const now = new Date('2026-11-23T12:00:00Z');
    const ts = String(now.getTime() / 1000);
    const id = '6c0a3f0e-1b2c-4d5e-8f90-123456789abc';
    const salt = 'the-salt';
    const forms: Array<[Record<string, string>, boolean]> = [
      [{ resource_id: id, timestamp: ts, resource_token: resourceToken(id, salt, ts) }, true],
      [{ resource_id: id, timestamp: ts, resource_token: 'a' }, false],
      [{ resource_id: id, timestamp: ts, resource_token: `${resourceToken(id, salt, ts)}0` }, false],
      [{ resource_id: id, timestamp: ts, user_id: 'u', email: 'e@x', user_scoped_resource_token: userScopedResourceToken(id, salt, ts, 'u', 'e@x') }, true],
      [{ resource_id: id, timestamp: ts, user_id: 'u', email: 'e@x', user_scoped_resource_token: 'short' }, false],
      [{ id, timestamp: ts, token: legacyToken(id, salt, ts) }, true],
      [{ id, timestamp: ts, token: legacyToken(id, 'wrong-salt', ts) }, false],
    ];
    for (const [form, ok] of forms) {
      const calls = await comparisonsOf(() => expect(verifySso(form, salt, now).ok).toBe(ok));
      expect(calls).toEqual([DIGEST]);
    }
  });

  it('session cookies: the signature is compared, whatever its length', async () => {
    const { encodeSession, decodeSession } = await import('../../src/session.js');
    const { testConfig } = await import('../helpers/deps.js');
    const config = testConfig();
    const now = new Date('2026-11-23T12:00:00Z');
    const t = now.getTime() / 1000;
    const good = encodeSession(config, { resourceId: 'r', email: null, userId: null, app: null, kind: 'heroku', sid: 's', iat: t, exp: t + 60, max: t + 60 });
    const [data] = good.split('.');
    for (const [value, ok] of [[good, true], [`${data}.x`, false], [`${data}.${'A'.repeat(200)}`, false], [`${good}A`, false]] as const) {
      const calls = await comparisonsOf(() => expect(decodeSession(config, value, now) !== undefined).toBe(ok));
      expect(calls).toEqual([DIGEST]);
    }
  });

  it('portal links: the signature is compared before anything else is looked at', async () => {
    const { openPortalLink } = await import('../../src/services/portal.js');
    const { testConfig } = await import('../helpers/deps.js');
    // No database: a forged link must be refused before one is needed.
    const deps = { config: testConfig(), clock: { now: () => new Date() }, db: undefined, logger: undefined } as never;
    for (const token of ['e30.x', `e30.${'A'.repeat(43)}`, `e30.${'A'.repeat(500)}`]) {
      const calls = await comparisonsOf(async () => expect((await openPortalLink(deps, token)).ok).toBe(false));
      expect(calls).toEqual([DIGEST]);
    }
  });

  it('CSRF tokens: compared for every form post, short or long', async () => {
    const express = (await import('express')).default;
    const request = (await import('supertest')).default;
    const { formGuard, csrfToken } = await import('../../src/http/dashboard/csrf.js');
    const { testConfig } = await import('../helpers/deps.js');
    const { createLogger } = await import('../../src/logger.js');
    const config = testConfig();
    const session = { resourceId: 'r', email: null, userId: null, app: null, kind: 'heroku' as const, sid: 'sid', iat: 0, exp: 1, max: 1 };
    const app = express();
    app.use((_req, res, next) => {
      res.locals.session = session;
      res.locals.log = createLogger({ level: 'error', service: 'test', silent: true });
      next();
    });
    app.use(formGuard(config));
    app.post('/form', (_req, res) => {
      res.send('ok');
    });
    app.use((_err: unknown, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => res.status(403).send('no'));
    const good = csrfToken(config, session);
    for (const [token, status] of [[good, 200], ['x', 403], [`${good}x`, 403], ['A'.repeat(1000), 403]] as const) {
      const calls = await comparisonsOf(async () => {
        expect((await request(app).post('/form').type('form').send({ _csrf: token })).status).toBe(status);
      });
      expect(calls).toEqual([DIGEST]);
    }
  });

  it('API keys: the key is looked up by its SHA-256 and the stored hash compared once; a wrong key reveals only a hash miss', async () => {
    const { createTestDb } = await import('../helpers/testDb.js');
    const { testDeps } = await import('../helpers/deps.js');
    const { fixture } = await import('./apiSetup.js');
    const { authenticateApiKey } = await import('../../src/services/apiAuth.js');
    const tdb = await createTestDb({ poolMax: 2 });
    try {
      const deps = testDeps(tdb.db);
      const { apiKey, resourceId } = await fixture(tdb.db, deps.config);
      const found = await comparisonsOf(async () => expect((await authenticateApiKey(deps, apiKey))?.id).toBe(resourceId));
      expect(found).toEqual([DIGEST]);
      // A wrong key finds no row: Postgres compared SHA-256 digests in its index, and timing of a
      // digest lookup says nothing about the key (finding a key from its digest is a preimage).
      for (const wrong of [apiKey.slice(0, -1), `${apiKey}x`, 'hrld_x']) {
        expect(await comparisonsOf(async () => expect(await authenticateApiKey(deps, wrong)).toBeUndefined())).toEqual([]);
      }
    } finally {
      await tdb.destroy();
    }
  });
});
