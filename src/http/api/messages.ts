import { Router } from 'express';
import type { Deps } from '../../deps.js';
import { invalidField } from '../../errors.js';
import { parseTimePage, toPage } from '../../pagination.js';
import * as service from '../../services/messages.js';
import { isPlainObject, jsonProblem, nullableId, nullableString, objectBody, parseTime, queryString, requiredString } from '../../validation.js';
import { deliveryDetailJson, messageJson, messageSummaryJson } from './serialize.js';

const FIELDS = ['event_type', 'data', 'version', 'event_id', 'subscriber_id', 'endpoint_id'] as const;

/** The body of `POST /v1/messages`, validated; the dashboard's send form goes through it too. */
export function messageInput(raw: unknown): service.MessageInput {
  const body = objectBody(raw, FIELDS);
  const eventType = requiredString(body, 'event_type', { min: 1, max: 200 });
  if (body.data === undefined) throw invalidField('data', 'is required (a JSON object)');
  if (!isPlainObject(body.data)) throw invalidField('data', 'must be a JSON object');
  // Kept as JSON text, so NUL and lone surrogates survive as escapes; an overflowed number would not.
  const dataProblem = jsonProblem(body.data, { text: false });
  if (dataProblem) throw invalidField('data', dataProblem);
  return {
    eventType,
    data: body.data,
    version: nullableString(body, 'version', { max: 200 }),
    eventId: nullableString(body, 'event_id', { max: 1000 }),
    subscriberId: nullableId(body, 'subscriber_id'),
    endpointId: nullableId(body, 'endpoint_id'),
  };
}

export function messagesRouter(deps: Deps): Router {
  const router = Router();

  /** 202 when accepted; 200 with the original when `event_id` was already used. */
  router.post('/messages', async (req, res) => {
    const { message, deliveriesCreated, duplicate } = await service.createMessage(
      deps,
      res.locals.apiResource,
      messageInput(req.body),
      { source: 'api' },
    );
    res.status(duplicate ? 200 : 202).json({ ...messageSummaryJson(message), deliveries: deliveriesCreated });
  });

  router.get('/messages', async (req, res) => {
    const page = parseTimePage(req.query);
    const eventType = queryString(req.query, 'event_type');
    const since = queryString(req.query, 'since');
    const until = queryString(req.query, 'until');
    const rows = await service.listMessages(
      deps,
      res.locals.apiResource,
      {
        ...(eventType !== undefined ? { eventType } : {}),
        ...(since !== undefined ? { since: parseTime(since, 'since') } : {}),
        ...(until !== undefined ? { until: parseTime(until, 'until') } : {}),
      },
      page,
    );
    res.json(toPage(rows, page.limit, (m) => [m.cursorAt, m.id], messageJson));
  });

  router.get('/messages/:id', async (req, res) => {
    const { message, deliveries } = await service.getMessageDetail(deps, res.locals.apiResource, req.params.id);
    res.json({ ...messageJson(message), deliveries: deliveries.map(deliveryDetailJson) });
  });

  return router;
}
