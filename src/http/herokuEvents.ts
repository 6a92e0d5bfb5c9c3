import { Router } from 'express';
import type { Deps } from '../deps.js';
import { recordHerokuEvent } from '../services/herokuEvents.js';
import { jsonBody } from './jsonBody.js';
import { partnerAuth } from './partnerAuth.js';

/**
 * Heroku's legacy notifications (`deploy_notify`, `attach_notify`): `POST /heroku/resources/:id/events`
 * with the partner Basic auth, checked before anything else. Each becomes a `heroku.<event>` message
 * fanned out to the customer's endpoints; the answer is a quick `200 {}` (Heroku retries otherwise,
 * and a retry is stored once).
 */
export function herokuEventsRouter(deps: Deps): Router {
  const router = Router();
  router.post('/heroku/resources/:id/events', partnerAuth(deps.config), ...jsonBody({ limit: '1mb' }), async (req, res) => {
    const { message, duplicate } = await recordHerokuEvent(deps, String(req.params.id), req.body);
    res.locals.log.info('heroku event', { resourceId: req.params.id, messageId: message.id, eventType: message.eventType, duplicate });
    res.status(200).json({});
  });
  return router;
}
