import type { NextFunction, Request, Response } from 'express';
import type { Config } from './config.js';
import type { Deps } from './deps.js';
import { hmacSha256, randomToken, safeEqual } from './crypto.js';
import { AppError, forbidden } from './errors.js';
import { getResource, type Resource } from './db/resources.js';

/**
 * Browser sessions: a stateless cookie `<base64url(JSON)>.<base64url(HMAC-SHA256)>` keyed with
 * SESSION_SECRET. Stateless because the only ways in are a fresh Heroku SSO or a signed portal
 * link (either can issue a new one at any time), and the guards re-read the resource (and, in the
 * portal, the subscriber) on every request, so deprovisioning or deleting ends a session at once.
 *
 * Two kinds, in two cookies, so one browser can hold both and neither can be used for the other:
 *   heroku  herald_session  the add-on owner's dashboard, after Heroku SSO
 *   portal  herald_portal   one subscriber's portal, after opening a portal link
 *
 * Lifetime: `sessionTtlSeconds` after the last renewal, renewed (the cookie re-issued) once more
 * than half of it is used, and never past `max`: for the dashboard 24 h after sign-in (or the TTL
 * when that is longer), for the portal the expiry of the link that opened it.
 */

export const SESSION_COOKIE = 'herald_session';
export const PORTAL_COOKIE = 'herald_portal';

export type SessionKind = 'heroku' | 'portal';

/** The most a dashboard session lasts from its sign-in, however active, unless the TTL is longer. */
export const MAX_SESSION_SECONDS = 24 * 3600;

export interface SessionInput {
  resourceId: string;
  email: string | null;
  userId: string | null;
  app: string | null;
  kind: SessionKind;
  /** Portal sessions only: the one subscriber they may see. */
  subscriberId?: string;
}

export interface Session extends SessionInput {
  /** Random, kept across renewals: the CSRF token is derived from it. */
  sid: string;
  /** Unix seconds: issued (or last renewed), expires, and the hard end no renewal passes. */
  iat: number;
  exp: number;
  max: number;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** Set by requireSession (and the portal's guard). */
    session?: Session;
    /** The session's resource, live at the time of the request. */
    resource?: Resource;
  }
}

const cookieName = (kind: SessionKind): string => (kind === 'portal' ? PORTAL_COOKIE : SESSION_COOKIE);

const sign = (config: Config, data: string): string => hmacSha256(config.sessionSecret, data).toString('base64url');

export function encodeSession(config: Config, session: Session): string {
  const data = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
  return `${data}.${sign(config, data)}`;
}

/** The session in `value` if its signature holds, it has not expired and it is of `kind`. */
export function decodeSession(config: Config, value: string, now: Date, kind: SessionKind = 'heroku'): Session | undefined {
  const dot = value.indexOf('.');
  if (dot <= 0) return undefined;
  const data = value.slice(0, dot);
  if (!safeEqual(value.slice(dot + 1), sign(config, data))) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isSession(parsed) || parsed.kind !== kind) return undefined;
  if (parsed.exp <= Math.floor(now.getTime() / 1000)) return undefined;
  return parsed;
}

function isSession(v: unknown): v is Session {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const nullableString = (x: unknown) => x === null || typeof x === 'string';
  const kindOk = s.kind === 'heroku' ? s.subscriberId === undefined : s.kind === 'portal' && typeof s.subscriberId === 'string';
  return (
    typeof s.resourceId === 'string' &&
    kindOk &&
    typeof s.sid === 'string' &&
    nullableString(s.email) &&
    nullableString(s.userId) &&
    nullableString(s.app) &&
    Number.isInteger(s.iat) &&
    Number.isInteger(s.exp) &&
    Number.isInteger(s.max)
  );
}

function cookieOptions(config: Config) {
  // Lax, not Strict: the SSO form is posted from a Heroku origin and the redirect that follows must
  // carry the cookie to /dashboard (and a portal link is opened from the customer's own site).
  return { httpOnly: true, sameSite: 'lax' as const, secure: config.isProduction, path: '/' };
}

function writeCookie(res: Response, config: Config, session: Session): void {
  res.cookie(cookieName(session.kind), encodeSession(config, session), {
    ...cookieOptions(config),
    maxAge: (session.exp - session.iat) * 1000,
    encode: String, // base64url and '.' need no escaping
  });
}

/**
 * Signs `input` into its cookie, valid for config.sessionTtlSeconds from `now` (or until `maxAt`
 * when that comes first: a portal session never outlives its link).
 */
export function issueSession(res: Response, config: Config, input: SessionInput, now: Date, opts: { maxAt?: Date } = {}): Session {
  const iat = Math.floor(now.getTime() / 1000);
  const max = opts.maxAt ? Math.floor(opts.maxAt.getTime() / 1000) : iat + Math.max(MAX_SESSION_SECONDS, config.sessionTtlSeconds);
  const session: Session = { ...input, sid: randomToken(18), iat, exp: Math.min(iat + config.sessionTtlSeconds, max), max };
  writeCookie(res, config, session);
  return session;
}

/**
 * Re-issues the cookie once more than half of its life is used, so an active person is not
 * signed out mid-task while an abandoned cookie still dies a TTL after its last use. Returns the
 * session in force.
 */
export function renewSessionIfDue(res: Response, config: Config, session: Session, now: Date): Session {
  const t = Math.floor(now.getTime() / 1000);
  if ((t - session.iat) * 2 <= session.exp - session.iat || session.exp >= session.max) return session;
  const renewed: Session = { ...session, iat: t, exp: Math.min(t + config.sessionTtlSeconds, session.max) };
  if (renewed.exp <= session.exp) return session;
  writeCookie(res, config, renewed);
  return renewed;
}

export function clearSession(res: Response, config: Config, kind: SessionKind = 'heroku'): void {
  res.clearCookie(cookieName(kind), cookieOptions(config));
}

/**
 * Cookie header → name/value map. Node has no parser; this follows RFC 6265 §5.4 loosely: pairs
 * split on ';', the first '=' separates, surrounding quotes are dropped, the first of a duplicate
 * name wins (browsers send the most specific path first).
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!name || cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      cookies.set(name, value);
    }
  }
  return cookies;
}

export function readSession(req: Request, config: Config, now: Date, kind: SessionKind = 'heroku'): Session | undefined {
  const value = parseCookies(req.get('cookie')).get(cookieName(kind));
  return value ? decodeSession(config, value, now, kind) : undefined;
}

/**
 * Guards dashboard pages: a valid Heroku session whose resource is still provisioned, else an
 * HTML 401 (no or bad session) or 403 (resource gone). Puts both on res.locals; pages read the
 * resource from there and never from the URL, so a session only ever sees its own resource.
 */
export function requireSession(deps: Deps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.html = true;
    const now = deps.clock.now();
    const session = readSession(req, deps.config, now, 'heroku');
    if (!session) {
      next(new AppError(401, 'not_signed_in', 'Your session has ended or is missing. Open Herald again from your Heroku dashboard.'));
      return;
    }
    const resource = await getResource(deps.db, session.resourceId);
    if (!resource || resource.state !== 'provisioned') {
      clearSession(res, deps.config, 'heroku');
      next(forbidden('This Herald add-on was removed. Its dashboard is no longer available.'));
      return;
    }
    res.locals.session = renewSessionIfDue(res, deps.config, session, now);
    res.locals.resource = resource;
    next();
  };
}

/** For handlers behind requireSession: the session and resource it put on res.locals. */
export function sessionContext(res: Response): { session: Session; resource: Resource } {
  const { session, resource } = res.locals;
  if (!session || !resource) throw new Error('sessionContext used on a route without requireSession');
  return { session, resource };
}
