import { Router } from 'express';
import type { Deps } from '../../deps.js';
import { parseTimePage, toPage } from '../../pagination.js';
import * as service from '../../services/subscribers.js';
import { createPortalLink, PORTAL_LINK_TTL } from '../../services/portal.js';
import { nullableString, objectBody, optionalInteger, optionalObject, optionalString, requiredString } from '../../validation.js';
import { subscriberJson } from './serialize.js';

const FIELDS = ['name', 'external_id', 'metadata'] as const;
const METADATA_MAX_BYTES = 16 * 1024;

/** A create body (the API's JSON, or the dashboard's form turned into the same shape) → service input. */
export function subscriberCreateInput(raw: unknown): service.SubscriberInput {
  const body = objectBody(raw, FIELDS);
  return {
    name: requiredString(body, 'name', { min: 1, max: 200 }),
    externalId: nullableString(body, 'external_id', { min: 1, max: 200 }),
    metadata: optionalObject(body, 'metadata', METADATA_MAX_BYTES),
  };
}

export function subscriberUpdateInput(raw: unknown): service.SubscriberPatch {
  const body = objectBody(raw, FIELDS);
  return {
    name: optionalString(body, 'name', { min: 1, max: 200 }),
    externalId: nullableString(body, 'external_id', { min: 1, max: 200 }),
    metadata: optionalObject(body, 'metadata', METADATA_MAX_BYTES),
  };
}

export function subscribersRouter(deps: Deps): Router {
  const router = Router();

  router.post('/subscribers', async (req, res) => {
    const s = await service.createSubscriber(deps, res.locals.apiResource, subscriberCreateInput(req.body));
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
    const s = await service.updateSubscriber(deps, res.locals.apiResource, req.params.id, subscriberUpdateInput(req.body));
    res.json(subscriberJson(s));
  });

  /** A signed link that opens this subscriber's portal until `expires_in` seconds from now (default 24 h, at most 7 days). */
  router.post('/subscribers/:id/portal-link', async (req, res) => {
    const body = objectBody(req.body, ['expires_in']);
    const expiresIn = optionalInteger(body, 'expires_in', PORTAL_LINK_TTL.min, PORTAL_LINK_TTL.max);
    const link = await createPortalLink(deps, res.locals.apiResource, req.params.id, expiresIn);
    res.status(201).json({ url: link.url, expires_at: link.expiresAt });
  });

  router.delete('/subscribers/:id', async (req, res) => {
    await service.deleteSubscriber(deps, res.locals.apiResource, req.params.id);
    res.status(204).end();
  });

  return router;
}
