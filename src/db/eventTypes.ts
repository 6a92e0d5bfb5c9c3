import type { Knex } from 'knex';
import { BUILTIN_EVENT_TYPES } from '../eventTypes.js';

export interface EventType {
  name: string;
  description: string;
  builtin: boolean;
  /** When the resource declared or first used it; null for a built-in it never used. */
  createdAt: Date | null;
}

interface EventTypeRow {
  name: string;
  description: string;
  builtin: boolean;
  created_at: Date | null;
}

const toEventType = (row: EventTypeRow): EventType => ({
  name: row.name,
  description: row.description,
  builtin: row.builtin,
  createdAt: row.created_at,
});

/** Declares a type, or updates the description of one already declared or used. */
export async function upsertEventType(
  db: Knex,
  resourceId: string,
  name: string,
  description: string,
  now: Date,
): Promise<{ eventType: EventType; created: boolean }> {
  // xmax = 0 only on a freshly inserted row version: it tells insert from update in one statement.
  const { rows } = await db.raw<{ rows: (EventTypeRow & { created: boolean })[] }>(
    `insert into event_types (resource_id, name, description, created_at) values (?, ?, ?, ?)
     on conflict (resource_id, name) do update set description = excluded.description
     returning name, description, false as builtin, created_at, (xmax = 0) as created`,
    [resourceId, name, description, now],
  );
  const row = rows[0]!;
  return { eventType: toEventType(row), created: row.created };
}

/**
 * The built-in types merged with the resource's own, by name (byte order, so the cursor compares
 * the same way whatever the database's collation). Fetches `limit + 1` rows.
 */
export async function listEventTypes(
  db: Knex,
  resourceId: string,
  page: { limit: number; after: string[] | undefined },
): Promise<EventType[]> {
  const after = page.after ? 'where t.name > ?' : '';
  const { rows } = await db.raw<{ rows: EventTypeRow[] }>(
    `select t.* from (
       select coalesce(et.name, b.name) collate "C" as name,
              coalesce(nullif(et.description, ''), b.description, '') as description,
              (b.name is not null) as builtin,
              et.created_at
       from (select name, description, created_at from event_types where resource_id = ?) et
       full join unnest(?::text[], ?::text[]) as b(name, description) on b.name = et.name
     ) t ${after}
     order by t.name limit ?`,
    [
      resourceId,
      BUILTIN_EVENT_TYPES.map((b) => b.name),
      BUILTIN_EVENT_TYPES.map((b) => b.description),
      ...(page.after ?? []),
      page.limit + 1,
    ],
  );
  return rows.map(toEventType);
}
