import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Deps } from '../deps.js';
import { AppError, forbidden } from '../errors.js';
import { openPortalLink, portalSubscriber, type PortalLinkRefusal } from '../services/portal.js';
import { endpointHealth } from '../services/stats.js';
import { listEndpoints } from '../services/endpoints.js';
import { getResource } from '../db/resources.js';
import { clearSession, issueSession, readSession, renewSessionIfDue } from '../session.js';
import { formGuard } from './dashboard/csrf.js';
import { mountEndpointPages } from './dashboard/endpointPages.js';
import { mountMessagePages } from './dashboard/messagePages.js';
import { sendPage } from './dashboard/render.js';
import { portalSurface } from './dashboard/surface.js';
import { renderView } from './views.js';

const REFUSALS: Record<PortalLinkRefusal, string> = {
  invalid: 'This portal link is not valid. Ask for a new one.',
  expired: 'This portal link has expired. Ask for a new one.',
  gone: 'This portal is no longer available.',
};

/**
 * A subscriber's portal: opened by a signed link (GET /portal/open?token=…), which starts a portal
 * session in its own cookie, limited to that subscriber. Its pages are the dashboard's endpoint
 * and message pages, scoped to the subscriber's rows (anything else is a 404), plus a guide to
 * verifying signatures. Nothing of the resource's own endpoints, other subscribers, the plan or the
 * API key is mounted here at all.
 */
export function portalRouter(deps: Deps): Router {
  const outer = Router();
  const router = Router();
  const surface = portalSurface(deps);

  outer.get('/portal/open', async (req, res) => {
    res.locals.html = true;
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const opened = await openPortalLink(deps, token);
    if (!opened.ok) {
      res.locals.log.info('portal link refused', { reason: opened.reason });
      throw forbidden(REFUSALS[opened.reason]);
    }
    const { resource, subscriber, expiresAt } = opened;
    issueSession(
      res,
      deps.config,
      { resourceId: resource.id, subscriberId: subscriber.id, email: null, userId: null, app: resource.appName, kind: 'portal' },
      deps.clock.now(),
      { maxAt: expiresAt },
    );
    res.locals.log.info('portal opened', { resourceId: resource.id, subscriberId: subscriber.id });
    // Redirect at once: the token leaves the address bar (and any later Referer).
    res.redirect(303, '/portal');
  });

  outer.use('/portal', requirePortalSession(deps), formGuard(deps.config), router);

  router.get('/', async (req, res) => {
    const scope = surface.scope(res);
    // The list fetches one extra row to tell whether another page exists; a plan's limit keeps a
    // subscriber's endpoints well under this.
    const endpoints = (await listEndpoints(deps, scope.resource, { subscriberId: scope.subscriberId! }, { limit: 250, after: undefined })).slice(0, 250);
    const health = await endpointHealth(deps, scope.resource, endpoints.map((e) => e.id));
    sendPage(res, 'portalHome', surface.chrome(req, res, 'endpoints', 'Webhooks'), {
      subscriber: res.locals.subscriber,
      endpoints,
      health: Object.fromEntries(health),
    });
  });

  router.get('/verify', (req, res) => {
    sendPage(res, 'portalVerify', surface.chrome(req, res, 'verify', 'Verifying signatures'), { secret: null });
  });

  mountEndpointPages(router, deps, surface);
  mountMessagePages(router, deps, surface);

  router.post('/logout', (_req, res) => {
    clearSession(res, deps.config, 'portal');
    res.status(200).type('html').send(renderView('portalSignedOut', { title: 'Signed out', heroku: null }));
  });

  return outer;
}

/**
 * A valid portal session whose resource is provisioned and whose subscriber still exists, else an
 * HTML 401 (no session) or 403 (gone). Re-checked on every request: deleting the subscriber ends
 * its portal at once, whatever links are still out there.
 */
function requirePortalSession(deps: Deps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.html = true;
    const now = deps.clock.now();
    const session = readSession(req, deps.config, now, 'portal');
    if (!session || session.subscriberId === undefined) {
      next(new AppError(401, 'not_signed_in', 'Your portal session has ended or is missing. Open the portal again with a new link.'));
      return;
    }
    const resource = await getResource(deps.db, session.resourceId);
    const subscriber = resource && resource.state === 'provisioned' ? await portalSubscriber(deps, resource, session.subscriberId) : undefined;
    if (!resource || !subscriber) {
      clearSession(res, deps.config, 'portal');
      next(forbidden(REFUSALS.gone));
      return;
    }
    res.locals.session = renewSessionIfDue(res, deps.config, session, now);
    res.locals.resource = resource;
    res.locals.subscriber = subscriber;
    next();
  };
}
