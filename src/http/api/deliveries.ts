import { Router } from 'express';
import { DELIVERY_STATUSES, type DeliveryFilter, type DeliveryStatus } from '../../db/deliveries.js';
import type { Deps } from '../../deps.js';
import { invalidField } from '../../errors.js';
import { parseTimePage, toPage } from '../../pagination.js';
import * as service from '../../services/deliveries.js';
import { objectBody, queryString } from '../../validation.js';
import { deliveryDetailJson, deliveryJson } from './serialize.js';

export function deliveriesRouter(deps: Deps): Router {
  const router = Router();

  router.get('/deliveries', async (req, res) => {
    const page = parseTimePage(req.query);
    const filter: DeliveryFilter = {};
    const endpointId = queryString(req.query, 'endpoint_id');
    const messageId = queryString(req.query, 'message_id');
    const status = queryString(req.query, 'status');
    if (endpointId !== undefined) filter.endpointId = endpointId;
    if (messageId !== undefined) filter.messageId = messageId;
    if (status !== undefined) {
      if (!(DELIVERY_STATUSES as readonly string[]).includes(status)) {
        throw invalidField('status', `must be one of ${DELIVERY_STATUSES.join(', ')}`);
      }
      filter.status = status as DeliveryStatus;
    }
    const rows = await service.listDeliveries(deps, res.locals.apiResource, filter, page);
    res.json(toPage(rows, page.limit, (d) => [d.cursorAt, d.id], deliveryJson));
  });

  router.get('/deliveries/:id', async (req, res) => {
    res.json(deliveryDetailJson(await service.getDeliveryDetail(deps, res.locals.apiResource, req.params.id)));
  });

  router.post('/deliveries/:id/retry', async (req, res) => {
    objectBody(req.body, []);
    res.status(202).json(deliveryJson(await service.retryDelivery(deps, res.locals.apiResource, req.params.id)));
  });

  return router;
}
