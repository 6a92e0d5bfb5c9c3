import express from 'express';
import type { Deps } from './deps.js';
import { AppError } from './errors.js';
import { apiRouter } from './http/api/index.js';
import { dashboardRouter } from './http/dashboard.js';
import { assetsRouter, securityHeaders } from './http/dashboard/security.js';
import { errorHandler } from './http/errorHandler.js';
import { healthRouter } from './http/health.js';
import { herokuEventsRouter } from './http/herokuEvents.js';
import { herokuRouter } from './http/heroku.js';
import { portalRouter } from './http/portal.js';
import { requestContext } from './http/requestContext.js';
import { ssoRouter } from './http/sso.js';

/** Builds the web application. Never listens: entry points and tests do. */
export function createApp(deps: Deps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: Express would hash every response body (SHA-1) for it, POSTs included, and no client
  // of an API of fresh data revalidates. Static assets keep theirs (express.static sets its own).
  app.disable('etag');
  app.set('trust proxy', 1); // Heroku's router terminates TLS and sets X-Forwarded-*.
  app.use(requestContext(deps.logger));
  app.use(securityHeaders(deps.config));
  // First: nearly all the traffic is POST /v1/messages, and every router before it would test its
  // routes against the path. No other router serves a path under /v1.
  app.use('/v1', apiRouter(deps));
  app.use(assetsRouter());

  app.use(healthRouter(deps));
  app.use(ssoRouter(deps)); // before the partner API: GET /heroku/resources/:id is legacy SSO, not Basic auth
  app.use(herokuEventsRouter(deps));
  app.use(herokuRouter(deps));
  app.use(dashboardRouter(deps));
  app.use(portalRouter(deps));

  app.use((req, _res, next) => {
    next(new AppError(404, 'not_found', `No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler());
  return app;
}
