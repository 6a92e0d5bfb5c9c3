import type { NextFunction, Request, Response } from 'express';
import type { Config } from './config.js';
import type { Deps } from './deps.js';
import { hmacSha256, safeEqual } from './crypto.js';
import { AppError, forbidden } from './errors.js';
import { getResource, type Resource } from './db/resources.js';

/**
 * Browser sessions for the dashboard: a stateless cookie `<base64url(JSON)>.<base64url(HMAC-SHA256)>`
 * keyed with SESSION_SECRET. Stateless because the only way in is a fresh Heroku SSO (which can
 * re-issue it at any time), and deprovisioning already ends every session: requireSession
 * re-reads the resource on every request.
 */

export const SESSION_COOKIE = 'herald_session';

export interface SessionInput {
  resourceId: string;
  email: string | null;
  userId: string | null;
  app: string | null;
  /** How the session began. Only Heroku SSO exists today; the dashboard hides account controls for it. */
  kind: 'heroku';
}

export interface Session extends SessionInput {
  /** Unix seconds. */
  iat: number;
  exp: number;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** Set by requireSession. */
    session?: Session;
    /** The session's resource, live at the time of the request. Set by requireSession. */
    resource?: Resource;
  }
}

const sign = (config: Config, data: string): string => hmacSha256(config.sessionSecret, data).toString('base64url');

export function encodeSession(config: Config, session: Session): string {
  const data = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
  return `${data}.${sign(config, data)}`;
}

/** The session in `value` if its signature holds and it has not expired; undefined otherwise. */
export function decodeSession(config: Config, value: string, now: Date): Session | undefined {
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
  if (!isSession(parsed)) return undefined;
  if (parsed.exp <= Math.floor(now.getTime() / 1000)) return undefined;
  return parsed;
}

function isSession(v: unknown): v is Session {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const nullableString = (x: unknown) => x === null || typeof x === 'string';
  return (
    typeof s.resourceId === 'string' &&
    s.kind === 'heroku' &&
    nullableString(s.email) &&
    nullableString(s.userId) &&
    nullableString(s.app) &&
    Number.isInteger(s.iat) &&
    Number.isInteger(s.exp)
  );
}

function cookieOptions(config: Config) {
  // Lax, not Strict: the SSO form is posted from a Heroku origin and the redirect that follows must
  // carry the cookie to /dashboard.
  return { httpOnly: true, sameSite: 'lax' as const, secure: config.isProduction, path: '/' };
}

/** Signs `input` into the session cookie, valid for config.sessionTtlSeconds from `now`. */
export function issueSession(res: Response, config: Config, input: SessionInput, now: Date): Session {
  const iat = Math.floor(now.getTime() / 1000);
  const session: Session = { ...input, iat, exp: iat + config.sessionTtlSeconds };
  res.cookie(SESSION_COOKIE, encodeSession(config, session), {
    ...cookieOptions(config),
    maxAge: config.sessionTtlSeconds * 1000,
    encode: String, // base64url and '.' need no escaping
  });
  return session;
}

export function clearSession(res: Response, config: Config): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(config));
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

export function readSession(req: Request, config: Config, now: Date): Session | undefined {
  const value = parseCookies(req.get('cookie')).get(SESSION_COOKIE);
  return value ? decodeSession(config, value, now) : undefined;
}

/**
 * Guards browser pages: a valid session whose resource is still provisioned, else an HTML 401
 * (no or bad session) or 403 (resource gone). Puts both on res.locals; pages read the resource
 * from there and never from the URL, so a session only ever sees its own resource.
 */
export function requireSession(deps: Deps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.html = true;
    const session = readSession(req, deps.config, deps.clock.now());
    if (!session) {
      next(new AppError(401, 'not_signed_in', 'Your session has ended or is missing. Open Herald again from your Heroku dashboard.'));
      return;
    }
    const resource = await getResource(deps.db, session.resourceId);
    if (!resource || resource.state !== 'provisioned') {
      clearSession(res, deps.config);
      next(forbidden('This Herald add-on was removed. Its dashboard is no longer available.'));
      return;
    }
    res.locals.session = session;
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
