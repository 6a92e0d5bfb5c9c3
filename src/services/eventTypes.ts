import * as db from '../db/eventTypes.js';
import type { EventType } from '../db/eventTypes.js';
import type { Resource } from '../db/resources.js';
import type { Deps } from '../deps.js';
import { invalidField, unprocessable } from '../errors.js';
import { EVENT_TYPE_MAX_LENGTH, isReservedEventType, isValidEventTypeName } from '../eventTypes.js';

export const DESCRIPTION_MAX_LENGTH = 1000;

export function listEventTypes(deps: Deps, resource: Resource, page: { limit: number; after: string[] | undefined }): Promise<EventType[]> {
  return db.listEventTypes(deps.db, resource.id, page);
}

/** Declares an event type (or re-describes one). Declaring is optional: sending a type records it. */
export async function declareEventType(
  deps: Deps,
  resource: Resource,
  input: { name: string; description?: string },
): Promise<{ eventType: EventType; created: boolean }> {
  if (!isValidEventTypeName(input.name)) {
    throw invalidField(
      'name',
      `must be dot-separated segments of letters, digits, _ and - (at most ${EVENT_TYPE_MAX_LENGTH} characters), e.g. invoice.paid`,
    );
  }
  if (isReservedEventType(input.name)) {
    throw unprocessable('reserved_event_type', `name: "${input.name}" is reserved: heroku.* and herald.* types are built in.`, { field: 'name' });
  }
  return db.upsertEventType(deps.db, resource.id, input.name, input.description ?? '', deps.clock.now());
}
