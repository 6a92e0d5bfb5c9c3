import {
  buildSsoParams,
  devSsoUrl,
  legacyToken,
  MAX_TOKEN_AGE_SECONDS,
  resourceToken,
  userScopedResourceToken,
  verifySso,
} from '../../src/ssoTokens.js';

const RID = '01234567-89ab-cdef-0123-456789abcdef';
const SALT = 'ssosalt123';
const TS = '1700000000';
const AT_TS = new Date(1700000000 * 1000);
const USER = '11111111-2222-3333-4444-555555555555';
const EMAIL = 'user@example.com';

describe('SSO token math (test vectors from the partner API reference §6.2)', () => {
  it('legacy token: sha1("1:SSO_SALT:1262304000") as kensa computes it', () => {
    expect(legacyToken('1', 'SSO_SALT', '1262304000')).toBe('b6010f6fbb850887a396c2bc0ab23974003008f6');
  });

  it('legacy token: the 2014 Dev Center example', () => {
    expect(legacyToken('123', '2f97bfa52ca102f8874716e2eb1d3b4920ad0be4', '1267597772')).toBe(
      'bb466eb1d6bc345d11072c3cd25c311f21be130d',
    );
  });

  it('v3 resource_token is sha1 over resource_id:salt:timestamp', () => {
    expect(resourceToken(RID, SALT, TS)).toBe('f93e336ea0c3bf0b37f46fc8d1e0557afa068300');
  });

  it('user_scoped_resource_token is sha256 over resource_id:salt:timestamp:user_id:email', () => {
    expect(userScopedResourceToken(RID, SALT, TS, USER, EMAIL)).toBe(
      '4946ea917e14368518bac8c902029b998ba3f79bfd192a0c438a8fdb2f46e263',
    );
  });
});

describe('verifySso', () => {
  const v3 = { resource_id: RID, timestamp: TS, resource_token: 'f93e336ea0c3bf0b37f46fc8d1e0557afa068300', app: 'my-app', email: EMAIL };

  it('accepts a valid v3 resource_token and returns what the form carried', () => {
    const r = verifySso({ ...v3, 'nav-data': 'abc+/=' }, SALT, AT_TS);
    expect(r).toEqual({
      ok: true,
      sso: { resourceId: RID, timestamp: 1700000000, tokenKind: 'resource', email: EMAIL, userId: null, app: 'my-app', navData: 'abc+/=' },
    });
  });

  it('accepts a valid user_scoped_resource_token', () => {
    const r = verifySso(
      { resource_id: RID, timestamp: TS, user_id: USER, email: EMAIL, user_scoped_resource_token: '4946ea917e14368518bac8c902029b998ba3f79bfd192a0c438a8fdb2f46e263' },
      SALT,
      AT_TS,
    );
    expect(r.ok && r.sso.tokenKind).toBe('user_scoped');
  });

  it('accepts the legacy id/token pair', () => {
    const r = verifySso({ id: '1', timestamp: '1262304000', token: 'b6010f6fbb850887a396c2bc0ab23974003008f6' }, 'SSO_SALT', new Date(1262304000 * 1000));
    expect(r.ok && r.sso).toMatchObject({ resourceId: '1', tokenKind: 'legacy' });
  });

  it('refuses a wrong token, a wrong salt and a token for another resource', () => {
    expect(verifySso({ ...v3, resource_token: 'invalid' }, SALT, AT_TS)).toEqual({ ok: false, reason: 'bad_token' });
    expect(verifySso(v3, 'another-salt', AT_TS)).toEqual({ ok: false, reason: 'bad_token' });
    expect(verifySso({ ...v3, resource_id: '01234567-89ab-cdef-0123-456789abcdee' }, SALT, AT_TS)).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('refuses an altered email under a user-scoped token, even when a valid resource_token rides along', () => {
    const good = userScopedResourceToken(RID, SALT, TS, USER, EMAIL);
    const r = verifySso({ ...v3, user_id: USER, email: 'attacker@example.com', user_scoped_resource_token: good }, SALT, AT_TS);
    expect(r).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('refuses a timestamp older than five minutes, accepts one exactly five minutes old', () => {
    const at = (ageSeconds: number) => new Date((1700000000 + ageSeconds) * 1000);
    expect(verifySso(v3, SALT, at(MAX_TOKEN_AGE_SECONDS)).ok).toBe(true);
    expect(verifySso(v3, SALT, at(MAX_TOKEN_AGE_SECONDS + 1))).toEqual({ ok: false, reason: 'expired' });
    expect(verifySso(v3, SALT, at(6 * 60))).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a timestamp more than a minute in the future', () => {
    expect(verifySso(v3, SALT, new Date((1700000000 - 30) * 1000)).ok).toBe(true);
    expect(verifySso(v3, SALT, new Date((1700000000 - 61) * 1000))).toEqual({ ok: false, reason: 'from_the_future' });
  });

  it('refuses missing parameters, non-numeric timestamps and repeated fields', () => {
    const { resource_token: _t, ...noToken } = v3;
    expect(verifySso(noToken, SALT, AT_TS)).toEqual({ ok: false, reason: 'missing_parameter' });
    const { timestamp: _ts, ...noTs } = v3;
    expect(verifySso(noTs, SALT, AT_TS)).toEqual({ ok: false, reason: 'missing_parameter' });
    const { resource_id: _r, ...noId } = v3;
    expect(verifySso(noId, SALT, AT_TS)).toEqual({ ok: false, reason: 'missing_parameter' });
    expect(verifySso({ ...v3, timestamp: '17e8' }, SALT, AT_TS)).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(verifySso({ ...v3, resource_token: [v3.resource_token, v3.resource_token] }, SALT, AT_TS)).toEqual({
      ok: false,
      reason: 'missing_parameter',
    });
    expect(verifySso({ resource_id: RID, timestamp: TS, user_scoped_resource_token: 'x' }, SALT, AT_TS)).toEqual({
      ok: false,
      reason: 'missing_parameter',
    });
  });
});

describe('buildSsoParams / devSsoUrl', () => {
  it('builds a form that verifySso accepts at the same instant', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    const params = buildSsoParams(RID, SALT, now, { email: EMAIL, app: 'my-app', navData: 'nav' });
    const r = verifySso(params, SALT, now);
    expect(r.ok && r.sso).toMatchObject({ resourceId: RID, email: EMAIL, app: 'my-app', navData: 'nav' });
  });

  it('points at /dev/sso/<id> under the public URL', () => {
    expect(devSsoUrl({ publicUrl: 'http://localhost:5000' }, RID)).toBe(`http://localhost:5000/dev/sso/${RID}`);
  });
});
