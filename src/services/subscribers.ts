import { randomUUID } from 'node:crypto';
import type { Resource } from '../db/resources.js';
import * as db from '../db/subscribers.js';
import type { Subscriber } from '../db/subscribers.js';
import type { Deps } from '../deps.js';
import { conflict, notFound, PG, pgCode } from '../errors.js';
import { isUuid } from '../validation.js';

export interface SubscriberInput {
  name: string;
  externalId?: string | null;
  metadata?: Record<string, unknown>;
}

export type SubscriberPatch = Partial<SubscriberInput>;

/** The unique constraint, not a lookup first, decides: two concurrent creates cannot both win. */
function translateUniqueViolation(err: unknown, externalId: string | null | undefined): never {
  if (pgCode(err) === PG.uniqueViolation) {
    throw conflict('external_id_taken', `A subscriber with external_id "${externalId}" already exists.`, { field: 'external_id' });
  }
  throw err;
}

export async function createSubscriber(deps: Deps, resource: Resource, input: SubscriberInput): Promise<Subscriber> {
  try {
    return await db.insertSubscriber(deps.db, resource.id, {
      id: randomUUID(),
      name: input.name,
      externalId: input.externalId ?? null,
      metadata: input.metadata ?? {},
      createdAt: deps.clock.now(),
    });
  } catch (err) {
    translateUniqueViolation(err, input.externalId);
  }
}

export function listSubscribers(deps: Deps, resource: Resource, page: { limit: number; after: string[] | undefined }): Promise<Subscriber[]> {
  return db.listSubscribers(deps.db, resource.id, page);
}

export async function getSubscriber(deps: Deps, resource: Resource, id: string): Promise<Subscriber> {
  const s = isUuid(id) ? await db.getSubscriber(deps.db, resource.id, id) : undefined;
  if (!s) throw notFound('Subscriber');
  return s;
}

export async function updateSubscriber(deps: Deps, resource: Resource, id: string, patch: SubscriberPatch): Promise<Subscriber> {
  if (!isUuid(id)) throw notFound('Subscriber');
  let s: Subscriber | undefined;
  try {
    s = await db.updateSubscriber(deps.db, resource.id, id, patch, deps.clock.now());
  } catch (err) {
    translateUniqueViolation(err, patch.externalId);
  }
  if (!s) throw notFound('Subscriber');
  return s;
}

/** Deleting a subscriber deletes its endpoints (and their deliveries) with it. */
export async function deleteSubscriber(deps: Deps, resource: Resource, id: string): Promise<void> {
  if (!isUuid(id) || !(await db.deleteSubscriber(deps.db, resource.id, id))) throw notFound('Subscriber');
}
