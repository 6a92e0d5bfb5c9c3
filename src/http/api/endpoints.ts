import { Router } from 'express';
import type { EndpointFormat } from '../../db/endpoints.js';
import type { Deps } from '../../deps.js';
import { invalidField } from '../../errors.js';
import { parseTimePage, toPage } from '../../pagination.js';
import * as service from '../../services/endpoints.js';
import {
  nullableId,
  nullableString,
  objectBody,
  optionalBoolean,
  optionalObject,
  optionalString,
  optionalStringArray,
  parseTime,
  queryString,
  requiredString,
  type Body,
} from '../../validation.js';
import { endpointJson, messageSummaryJson } from './serialize.js';

const UPDATE_FIELDS = ['url', 'description', 'subscriber_id', 'event_types', 'format', 'active', 'version', 'headers', 'timeout'] as const;
const CREATE_FIELDS = [...UPDATE_FIELDS, 'secret'] as const;

function optionalTimeout(body: Body): number | undefined {
  const v = body.timeout;
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw invalidField('timeout', 'must be a number of seconds');
  return v; // range checked by the service
}

function fields(body: Body) {
  return {
    description: optionalString(body, 'description', { max: 1000 }),
    subscriberId: nullableId(body, 'subscriber_id'),
    eventTypes: optionalStringArray(body, 'event_types', 1000),
    format: optionalString(body, 'format', { max: 20 }) as EndpointFormat | undefined,
    active: optionalBoolean(body, 'active'),
    version: nullableString(body, 'version', { min: 1, max: 50 }),
    headers: optionalObject(body, 'headers', 64 * 1024) as Record<string, string> | undefined,
    timeoutSeconds: optionalTimeout(body),
  };
}

/** A create body (the API's JSON, or the dashboard's form turned into the same shape) → service input. */
export function endpointCreateInput(raw: unknown): service.EndpointInput {
  const body = objectBody(raw, CREATE_FIELDS);
  return {
    url: requiredString(body, 'url', { min: 1, max: 2048 }),
    secret: optionalString(body, 'secret', { max: 200 }),
    ...fields(body),
  };
}

export function endpointUpdateInput(raw: unknown): service.EndpointUpdate {
  const body = objectBody(raw, UPDATE_FIELDS);
  return { url: optionalString(body, 'url', { min: 1, max: 2048 }), ...fields(body) };
}

export function endpointsRouter(deps: Deps): Router {
  const router = Router();

  router.post('/endpoints', async (req, res) => {
    const { endpoint, secret } = await service.createEndpoint(deps, res.locals.apiResource, endpointCreateInput(req.body));
    // The one response besides GET …/secret that shows the secret.
    res.status(201).json({ ...endpointJson(endpoint), secret });
  });

  router.get('/endpoints', async (req, res) => {
    const page = parseTimePage(req.query);
    const subscriberId = queryString(req.query, 'subscriber_id');
    const rows = await service.listEndpoints(deps, res.locals.apiResource, subscriberId === undefined ? {} : { subscriberId }, page);
    res.json(toPage(rows, page.limit, (e) => [e.cursorAt, e.id], endpointJson));
  });

  router.get('/endpoints/:id', async (req, res) => {
    res.json(endpointJson(await service.getEndpoint(deps, res.locals.apiResource, req.params.id)));
  });

  router.patch('/endpoints/:id', async (req, res) => {
    const e = await service.updateEndpoint(deps, res.locals.apiResource, req.params.id, endpointUpdateInput(req.body));
    res.json(endpointJson(e));
  });

  router.delete('/endpoints/:id', async (req, res) => {
    await service.deleteEndpoint(deps, res.locals.apiResource, req.params.id);
    res.status(204).end();
  });

  router.get('/endpoints/:id/secret', async (req, res) => {
    res.json({ secret: await service.getEndpointSecret(deps, res.locals.apiResource, req.params.id) });
  });

  router.post('/endpoints/:id/secret/rotate', async (req, res) => {
    const body = objectBody(req.body, ['secret']);
    const secret = await service.rotateEndpointSecret(deps, res.locals.apiResource, req.params.id, optionalString(body, 'secret', { max: 200 }));
    res.json({ secret });
  });

  router.post('/endpoints/:id/recover', async (req, res) => {
    const body = objectBody(req.body, ['since']);
    if (body.since === undefined) throw invalidField('since', 'is required (an ISO 8601 time)');
    const requeued = await service.recoverEndpoint(deps, res.locals.apiResource, req.params.id, parseTime(body.since, 'since'));
    res.status(202).json({ requeued });
  });

  router.post('/endpoints/:id/test', async (req, res) => {
    objectBody(req.body, []);
    const { message, deliveriesCreated } = await service.sendTestEvent(deps, res.locals.apiResource, req.params.id);
    res.status(202).json({ ...messageSummaryJson(message), deliveries: deliveriesCreated });
  });

  return router;
}
