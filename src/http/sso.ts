import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Deps } from '../deps.js';
import { AppError, forbidden } from '../errors.js';
import { getResource } from '../db/resources.js';
import { isUuid, signInWithSso } from '../services/resources.js';
import { clearSession, issueSession } from '../session.js';
import { buildSsoParams, verifySso, type SsoRejection } from '../ssoTokens.js';
import { renderView } from './views.js';

export { devSsoUrl } from '../ssoTokens.js';

/**
 * Heroku single sign-on into the dashboard:
 *   POST /sso/login                 the form Heroku makes the browser post (v3 and v1 fields)
 *   GET  /heroku/resources/:id      the oldest, query-string form kensa still tests; no Basic auth
 *   GET  /dev/sso/:id               development only: signs in without Heroku
 *   POST /logout
 * Every refusal is an HTML 403: a person is looking at it.
 */
export function ssoRouter(deps: Deps): Router {
  const router = Router();
  const htmlPage = (_req: Request, res: Response, next: NextFunction) => {
    res.locals.html = true;
    next();
  };

  router.post(
    '/sso/login',
    htmlPage,
    express.urlencoded({ extended: false, limit: '20kb', parameterLimit: 50 }),
    async (req, res) => {
      const params = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
      await signIn(deps, params, res, 303);
    },
  );

  router.get('/heroku/resources/:id', htmlPage, async (req, res) => {
    // The resource is the path segment; kensa calls it `id`, as the v1 token does.
    await signIn(deps, { ...rawQuery(req.originalUrl), id: req.params.id, resource_id: undefined }, res, 302);
  });

  router.get('/dev/sso/:id', htmlPage, async (req, res) => {
    if (deps.config.isProduction) throw new AppError(404, 'not_found', `No route for GET ${req.path}`);
    const resource = isUuid(req.params.id) ? await getResource(deps.db, req.params.id.toLowerCase()) : undefined;
    if (!resource) throw new AppError(404, 'not_found', `No Herald resource ${req.params.id} in this database.`);
    // Exactly what Heroku would post, checked by the same code: the helper cannot drift from SSO.
    const params = buildSsoParams(resource.id, deps.config.heroku.ssoSalt, deps.clock.now(), {
      email: resource.ownerEmail ?? 'developer@localhost',
      app: resource.appName ?? 'herald-dev-app',
    });
    await signIn(deps, params, res, 302);
  });

  router.post('/logout', htmlPage, (req, res) => {
    // No session form posts here any more (the dashboard's own logout checks a CSRF token); refuse
    // what browsers mark as cross-site so another site cannot sign people out.
    if (req.get('sec-fetch-site') === 'cross-site') throw forbidden('Sign out from the Herald dashboard itself.');
    clearSession(res, deps.config);
    res.status(200).type('html').send(renderView('signedOut', { title: 'Signed out', heroku: null }));
  });

  return router;
}

const REFUSALS: Record<SsoRejection, string> = {
  missing_parameter: 'The sign-in request is incomplete. Open Herald again from your Heroku dashboard.',
  bad_timestamp: 'The sign-in request could not be verified. Open Herald again from your Heroku dashboard.',
  expired: 'This sign-in link has expired (they last five minutes). Open Herald again from your Heroku dashboard.',
  from_the_future: 'The sign-in request could not be verified. Open Herald again from your Heroku dashboard.',
  bad_token: 'The sign-in request could not be verified. Open Herald again from your Heroku dashboard.',
};

async function signIn(deps: Deps, params: Record<string, unknown>, res: Response, redirectStatus: 302 | 303): Promise<void> {
  const now = deps.clock.now();
  const verdict = verifySso(params, deps.config.heroku.ssoSalt, now);
  if (!verdict.ok) {
    res.locals.log.info('sso refused', { reason: verdict.reason });
    throw forbidden(REFUSALS[verdict.reason]);
  }
  const { sso } = verdict;
  const resource = await signInWithSso(deps, sso);
  issueSession(
    res,
    deps.config,
    { resourceId: resource.id, email: sso.email, userId: sso.userId, app: sso.app ?? resource.appName, kind: 'heroku' },
    now,
  );
  if (sso.navData !== null) setNavDataCookie(res, deps, sso.navData);
  res.locals.log.info('sso signed in', { resourceId: resource.id, tokenKind: sso.tokenKind });
  res.redirect(redirectStatus, '/dashboard');
}

// RFC 6265 cookie-octets: base64 nav-data ('+', '/', '=') fits as is, and Heroku's tools compare
// the cookie with what they posted byte for byte.
const COOKIE_SAFE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

/** Heroku's nav header script reads `heroku-nav-data` on every page, so: Path=/, not httpOnly. */
function setNavDataCookie(res: Response, deps: Deps, navData: string): void {
  if (navData.length > 3_500) {
    res.locals.log.warn('nav-data too large for a cookie', { length: navData.length });
    return;
  }
  res.cookie('heroku-nav-data', navData, {
    path: '/',
    sameSite: 'lax',
    secure: deps.config.isProduction,
    encode: COOKIE_SAFE.test(navData) ? String : encodeURIComponent,
  });
}

/**
 * The query string as sent. kensa's legacy GET form does not URL-encode its values, so a base64
 * nav-data keeps its '+' signs; Express's parser would turn them into spaces.
 */
function rawQuery(originalUrl: string): Record<string, string> {
  const q = originalUrl.indexOf('?');
  // No prototype: a parameter named __proto__ must stay a plain key.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (q < 0) return out;
  for (const pair of originalUrl.slice(q + 1).split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const name = decode(key);
    if (name && !(name in out)) out[name] = decode(value);
  }
  return out;
}
