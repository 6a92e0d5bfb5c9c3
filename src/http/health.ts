import { Router } from 'express';
import type { Deps } from '../deps.js';
import { isDatabaseUp } from '../db/knex.js';

export function healthRouter(deps: Deps): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    if (await isDatabaseUp(deps.db)) {
      res.json({ status: 'ok' });
    } else {
      res.status(503).json({ error: 'unavailable', message: 'The database is not answering.' });
    }
  });
  return router;
}
