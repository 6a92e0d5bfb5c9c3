import { Router } from 'express';
import type { Deps } from '../../deps.js';
import { parseNamePage, toPage } from '../../pagination.js';
import * as service from '../../services/eventTypes.js';
import { objectBody, optionalString, requiredString } from '../../validation.js';
import { eventTypeJson } from './serialize.js';

/** A declare body (the API's JSON, or the dashboard's form) → service input. */
export function eventTypeInput(raw: unknown): { name: string; description?: string } {
  const body = objectBody(raw, ['name', 'description']);
  return {
    name: requiredString(body, 'name', { min: 1, max: 200 }),
    description: optionalString(body, 'description', { max: service.DESCRIPTION_MAX_LENGTH }),
  };
}

export function eventTypesRouter(deps: Deps): Router {
  const router = Router();

  router.get('/event-types', async (req, res) => {
    const page = parseNamePage(req.query);
    const rows = await service.listEventTypes(deps, res.locals.apiResource, page);
    res.json(toPage(rows, page.limit, (t) => [t.name], eventTypeJson));
  });

  /** 201 when new; 200 when it existed (declared or used) and only its description changed. */
  router.post('/event-types', async (req, res) => {
    const { eventType, created } = await service.declareEventType(deps, res.locals.apiResource, eventTypeInput(req.body));
    res.status(created ? 201 : 200).json(eventTypeJson(eventType));
  });

  return router;
}
