import { listAttemptRequestBodies, listAttempts } from '../db/attempts.js';
import type { Message } from '../db/messages.js';
import { renderBody } from '../delivery/formats/index.js';
import * as db from '../db/deliveries.js';
import type { Delivery, DeliveryFilter } from '../db/deliveries.js';
import { endpointExists } from '../db/endpoints.js';
import { messageExists } from '../db/messages.js';
import type { Resource } from '../db/resources.js';
import type { Deps } from '../deps.js';
import { notFound } from '../errors.js';
import { isUuid } from '../validation.js';
import type { DeliveryWithAttempts } from './messages.js';

/** A filter naming an endpoint or message the resource does not have is a 404, not an empty list. */
export async function listDeliveries(
  deps: Deps,
  resource: Resource,
  filter: DeliveryFilter,
  page: { limit: number; after: string[] | undefined },
): Promise<Delivery[]> {
  if (filter.endpointId !== undefined && (!isUuid(filter.endpointId) || !(await endpointExists(deps.db, resource.id, filter.endpointId)))) {
    throw notFound('Endpoint');
  }
  if (filter.messageId !== undefined && (!isUuid(filter.messageId) || !(await messageExists(deps.db, resource.id, filter.messageId)))) {
    throw notFound('Message');
  }
  return db.listDeliveries(deps.db, resource.id, filter, page);
}

export async function getDeliveryDetail(deps: Deps, resource: Resource, id: string): Promise<DeliveryWithAttempts> {
  const delivery = isUuid(id) ? await db.getDelivery(deps.db, resource.id, id) : undefined;
  if (!delivery) throw notFound('Delivery');
  return { delivery, attempts: await listAttempts(deps.db, resource.id, [id]) };
}

/** Sends a delivery again as soon as a worker is free, whatever state it was in. */
export async function retryDelivery(deps: Deps, resource: Resource, id: string): Promise<Delivery> {
  if (!isUuid(id)) throw notFound('Delivery');
  const now = deps.clock.now();
  return deps.db.transaction(async (trx) => {
    const d = await db.requeueDelivery(trx, resource.id, id, now);
    if (!d) throw notFound('Delivery');
    await db.notifyDeliveries(trx);
    return d;
  });
}

/**
 * The body each attempt sent, byte for byte. The worker records it when the format rewrote the
 * message (Slack, Discord); for the standard envelope it records nothing, since the envelope is a
 * pure function of the message and is rebuilt here exactly as the worker built it.
 */
export async function attemptRequestBodies(deps: Deps, resource: Resource, message: Message, attemptIds: readonly number[]): Promise<Map<number, string>> {
  const recorded = await listAttemptRequestBodies(deps.db, resource.id, attemptIds);
  const standard = renderBody('standard', {
    eventType: message.eventType,
    payload: message.payload,
    version: message.version,
    createdAt: message.createdAt,
  });
  return new Map(attemptIds.map((id) => [id, recorded.get(id) ?? standard]));
}
