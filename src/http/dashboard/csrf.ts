import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../../config.js';
import { hmacSha256, safeEqual } from '../../crypto.js';
import { AppError } from '../../errors.js';
import type { Session } from '../../session.js';

/**
 * CSRF protection for every state-changing form: a per-session token in a hidden `_csrf` field,
 * derived from the session's random id with SESSION_SECRET (so nothing is stored, it survives
 * cookie renewals, and each kind of session has its own), compared in constant time. A page on
 * another origin cannot read it, so it cannot forge a form that carries it.
 */
export const CSRF_FIELD = '_csrf';

export function csrfToken(config: Config, session: Session): string {
  return hmacSha256(config.sessionSecret, `herald csrf v1 ${session.kind} ${session.sid}`).toString('base64url');
}

export const csrfRefused = () =>
  new AppError(403, 'csrf_failed', 'This form has expired or did not come from a Herald page. Go back, reload the page and try again.');

const parseForm = express.urlencoded({ extended: false, limit: '200kb', parameterLimit: 200 });

/**
 * For routers behind a session guard: every request that is not GET or HEAD must be a form post
 * carrying the session's token. Anything else (no token, a wrong one, JSON) is a 403 page.
 */
export function formGuard(config: Config) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    parseForm(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      const session = res.locals.session;
      const body: unknown = req.body;
      const given = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[CSRF_FIELD] : undefined;
      if (!session || typeof given !== 'string' || !safeEqual(given, csrfToken(config, session))) {
        res.locals.log.warn('csrf refused', { method: req.method, path: req.path });
        next(csrfRefused());
        return;
      }
      next();
    });
  };
}

/** The parsed form fields as strings (a repeated field keeps its first value). */
export function formFields(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === CSRF_FIELD) continue;
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}
