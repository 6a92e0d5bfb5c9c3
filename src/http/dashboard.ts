import { Router } from 'express';
import type { Deps } from '../deps.js';
import { getResourceOverview } from '../services/resources.js';
import { requireSession, sessionContext } from '../session.js';
import { renderView } from './views.js';

/**
 * The dashboard shell: the add-on's plan, limits, config var names and usage, inside Heroku's nav
 * header. No resource id in any URL: the page shows the session's resource and nothing else.
 */
export function dashboardRouter(deps: Deps): Router {
  const router = Router();

  router.get('/dashboard', requireSession(deps), async (_req, res) => {
    const { session, resource } = sessionContext(res);
    const overview = await getResourceOverview(deps, resource);
    const appName = session.app ?? resource.appName;
    res
      .status(200)
      .type('html')
      // The page shows per-account data: never let a shared cache keep it.
      .set('Cache-Control', 'private, no-store')
      .send(
        renderView('dashboard', {
          title: appName ?? 'Dashboard',
          heroku: { app: appName ?? '', addon: deps.config.heroku.addonId },
          appName,
          ...overview,
        }),
      );
  });

  return router;
}
