import { Router } from 'express';
import type { Deps } from '../../deps.js';
import { parseTimePage, toPage } from '../../pagination.js';
import * as service from '../../services/subscribers.js';
import { nullableString, objectBody, optionalObject, optionalString, requiredString } from '../../validation.js';
import { subscriberJson } from './serialize.js';

const FIELDS = ['name', 'external_id', 'metadata'] as const;
const METADATA_MAX_BYTES = 16 * 1024;

export function subscribersRouter(deps: Deps): Router {
  const router = Router();

  router.post('/subscribers', async (req, res) => {
    const body = objectBody(req.body, FIELDS);
    const s = await service.createSubscriber(deps, res.locals.apiResource, {
      name: requiredString(body, 'name', { min: 1, max: 200 }),
      externalId: nullableString(body, 'external_id', { min: 1, max: 200 }),
      metadata: optionalObject(body, 'metadata', METADATA_MAX_BYTES),
    });
    res.status(201).json(subscriberJson(s));
  });

  router.get('/subscribers', async (req, res) => {
    const page = parseTimePage(req.query);
    const rows = await service.listSubscribers(deps, res.locals.apiResource, page);
    res.json(toPage(rows, page.limit, (s) => [s.cursorAt, s.id], subscriberJson));
  });

  router.get('/subscribers/:id', async (req, res) => {
    res.json(subscriberJson(await service.getSubscriber(deps, res.locals.apiResource, req.params.id)));
  });

  router.patch('/subscribers/:id', async (req, res) => {
    const body = objectBody(req.body, FIELDS);
    const s = await service.updateSubscriber(deps, res.locals.apiResource, req.params.id, {
      name: optionalString(body, 'name', { min: 1, max: 200 }),
      externalId: nullableString(body, 'external_id', { min: 1, max: 200 }),
      metadata: optionalObject(body, 'metadata', METADATA_MAX_BYTES),
    });
    res.json(subscriberJson(s));
  });

  router.delete('/subscribers/:id', async (req, res) => {
    await service.deleteSubscriber(deps, res.locals.apiResource, req.params.id);
    res.status(204).end();
  });

  return router;
}
