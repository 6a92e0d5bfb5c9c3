import type { Config } from './config.js';
import { safeEqual, sha1Hex, sha256Hex } from './crypto.js';
import { textProblem } from './validation.js';

/**
 * Heroku single sign-on tokens. Pure: no I/O, the time is passed in.
 *
 * Heroku signs three generations of token with the manifest's `sso_salt`:
 *   user_scoped_resource_token = sha256_hex(resource_id:salt:timestamp:user_id:email)  (current)
 *   resource_token             = sha1_hex(resource_id:salt:timestamp)                  (v3)
 *   token                      = sha1_hex(id:salt:timestamp)                           (v1, kensa)
 */
export const resourceToken = (resourceId: string, salt: string, timestamp: string): string =>
  sha1Hex(`${resourceId}:${salt}:${timestamp}`);

/** The v1 token has the same formula; only the parameter carrying the resource is named `id`. */
export const legacyToken = resourceToken;

export const userScopedResourceToken = (
  resourceId: string,
  salt: string,
  timestamp: string,
  userId: string,
  email: string,
): string => sha256Hex(`${resourceId}:${salt}:${timestamp}:${userId}:${email}`);

/** kensa sends a 6-minute-old timestamp with a valid token and expects a refusal. */
export const MAX_TOKEN_AGE_SECONDS = 5 * 60;
/** Heroku's clock and ours disagree by a little; a token from further ahead is forged or replayed. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/** The SSO form fields, as posted (v3) or as query parameters (legacy GET form). */
export interface SsoParams {
  resource_id?: string;
  id?: string;
  timestamp?: string;
  resource_token?: string;
  user_scoped_resource_token?: string;
  token?: string;
  user_id?: string;
  email?: string;
  app?: string;
  'nav-data'?: string;
}

export interface VerifiedSso {
  resourceId: string;
  timestamp: number;
  /** Which token vouched for the request: only `user_scoped` authenticates email and user id. */
  tokenKind: 'user_scoped' | 'resource' | 'legacy';
  email: string | null;
  userId: string | null;
  app: string | null;
  navData: string | null;
}

export type SsoRejection = 'missing_parameter' | 'bad_timestamp' | 'expired' | 'from_the_future' | 'bad_token';

export type SsoVerification = { ok: true; sso: VerifiedSso } | { ok: false; reason: SsoRejection };

const TIMESTAMP = /^\d{1,12}$/;

/**
 * Only plain strings count: a repeated form field arrives as an array and is refused. So is one
 * Postgres could not store (`email=%00`): the sign-in records app and email, and the insert would
 * fail with a 500 after the token had checked out.
 */
function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && !textProblem(value) ? value : undefined;
}

/**
 * Checks, in the order Heroku documents: parameters present, timestamp fresh, token valid.
 * (Whether the resource exists and is live is the caller's check: it needs the database.)
 *
 * When several tokens are sent, the strongest one present must match: the user-scoped token is the
 * only one that covers email and user id, so a weaker token must not vouch for an altered email.
 */
export function verifySso(params: Record<string, unknown>, salt: string, now: Date): SsoVerification {
  const resourceId = str(params.resource_id) ?? str(params.id);
  const timestamp = str(params.timestamp);
  const userScoped = str(params.user_scoped_resource_token);
  const v3 = str(params.resource_token);
  const legacy = str(params.token);
  const email = str(params.email) ?? null;
  const userId = str(params.user_id) ?? null;
  if (!resourceId || !timestamp || !(userScoped || v3 || legacy)) return { ok: false, reason: 'missing_parameter' };
  if (userScoped && (!email || !userId)) return { ok: false, reason: 'missing_parameter' };

  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  const ts = Number(timestamp);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (nowSeconds - ts > MAX_TOKEN_AGE_SECONDS) return { ok: false, reason: 'expired' };
  if (ts - nowSeconds > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'from_the_future' };

  let tokenKind: VerifiedSso['tokenKind'];
  let valid: boolean;
  if (userScoped) {
    tokenKind = 'user_scoped';
    valid = safeEqual(userScoped, userScopedResourceToken(resourceId, salt, timestamp, userId!, email!));
  } else if (v3) {
    tokenKind = 'resource';
    valid = safeEqual(v3, resourceToken(resourceId, salt, timestamp));
  } else {
    tokenKind = 'legacy';
    valid = safeEqual(legacy!, legacyToken(resourceId, salt, timestamp));
  }
  if (!valid) return { ok: false, reason: 'bad_token' };

  return {
    ok: true,
    sso: {
      resourceId,
      timestamp: ts,
      tokenKind,
      email,
      userId,
      app: str(params.app) ?? null,
      navData: typeof params['nav-data'] === 'string' ? params['nav-data'] : null,
    },
  };
}

/** The v3 form fields Heroku would post for `resourceId` at `now` (development helper, tests). */
export function buildSsoParams(
  resourceId: string,
  salt: string,
  now: Date,
  extra: { email?: string; app?: string; userId?: string; navData?: string } = {},
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const params: Record<string, string> = {
    resource_id: resourceId,
    timestamp,
    resource_token: resourceToken(resourceId, salt, timestamp),
  };
  if (extra.email) params.email = extra.email;
  if (extra.app) params.app = extra.app;
  if (extra.userId) params.user_id = extra.userId;
  if (extra.navData !== undefined) params['nav-data'] = extra.navData;
  return params;
}

/**
 * Development only: a link that signs the developer into `resourceId`'s dashboard without Heroku
 * (GET /dev/sso/:id answers 404 in production). For the start-up walkthrough to print.
 */
export function devSsoUrl(config: Pick<Config, 'publicUrl'>, resourceId: string): string {
  return `${config.publicUrl}/dev/sso/${encodeURIComponent(resourceId)}`;
}
