import type { Knex } from 'knex';
import { cursorTimestamp } from '../pagination.js';

export interface Subscriber {
  id: string;
  resourceId: string;
  name: string;
  externalId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  /** Sort key text for cursors (microsecond precision). */
  cursorAt: string;
}

interface SubscriberRow {
  id: string;
  resource_id: string;
  name: string;
  external_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

const COLUMNS = `id, resource_id, name, external_id, metadata, created_at, updated_at, ${cursorTimestamp('created_at')} as cursor_at`;

function toSubscriber(row: SubscriberRow): Subscriber {
  return {
    id: row.id,
    resourceId: row.resource_id,
    name: row.name,
    externalId: row.external_id,
    metadata: row.metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    cursorAt: row.cursor_at,
  };
}

export interface NewSubscriber {
  id: string;
  name: string;
  externalId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/** Throws the unique violation `subscribers_resource_external_id_unique` on a taken external_id. */
export async function insertSubscriber(db: Knex, resourceId: string, s: NewSubscriber): Promise<Subscriber> {
  const { rows } = await db.raw<{ rows: SubscriberRow[] }>(
    `insert into subscribers (id, resource_id, name, external_id, metadata, created_at, updated_at)
     values (?, ?, ?, ?, ?::jsonb, ?, ?) returning ${COLUMNS}`,
    [s.id, resourceId, s.name, s.externalId, JSON.stringify(s.metadata), s.createdAt, s.createdAt],
  );
  return toSubscriber(rows[0]!);
}

export async function getSubscriber(db: Knex, resourceId: string, id: string): Promise<Subscriber | undefined> {
  const { rows } = await db.raw<{ rows: SubscriberRow[] }>(
    `select ${COLUMNS} from subscribers where resource_id = ? and id = ?`,
    [resourceId, id],
  );
  return rows[0] ? toSubscriber(rows[0]) : undefined;
}

export async function subscriberExists(db: Knex, resourceId: string, id: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>('select 1 from subscribers where resource_id = ? and id = ?', [resourceId, id]);
  return rows.length > 0;
}

/** Oldest first; fetches `limit + 1` rows so the caller knows whether another page exists. */
export async function listSubscribers(
  db: Knex,
  resourceId: string,
  page: { limit: number; after: string[] | undefined },
): Promise<Subscriber[]> {
  const after = page.after ? 'and (created_at, id) > (?::timestamptz, ?::uuid)' : '';
  const { rows } = await db.raw<{ rows: SubscriberRow[] }>(
    `select ${COLUMNS} from subscribers where resource_id = ? ${after} order by created_at, id limit ?`,
    [resourceId, ...(page.after ?? []), page.limit + 1],
  );
  return rows.map(toSubscriber);
}

export interface SubscriberPatch {
  name?: string;
  externalId?: string | null;
  metadata?: Record<string, unknown>;
}

export async function updateSubscriber(
  db: Knex,
  resourceId: string,
  id: string,
  patch: SubscriberPatch,
  now: Date,
): Promise<Subscriber | undefined> {
  const sets: string[] = ['updated_at = ?'];
  const values: Knex.RawBinding[] = [now];
  const set = (sql: string, value: Knex.RawBinding) => {
    sets.push(sql);
    values.push(value);
  };
  if (patch.name !== undefined) set('name = ?', patch.name);
  if (patch.externalId !== undefined) set('external_id = ?', patch.externalId);
  if (patch.metadata !== undefined) set('metadata = ?::jsonb', JSON.stringify(patch.metadata));
  const { rows } = await db.raw<{ rows: SubscriberRow[] }>(
    `update subscribers set ${sets.join(', ')} where resource_id = ? and id = ? returning ${COLUMNS}`,
    [...values, resourceId, id],
  );
  return rows[0] ? toSubscriber(rows[0]) : undefined;
}

/** Deletes the subscriber with its endpoints, their deliveries and attempts, in one statement. */
export async function deleteSubscriber(db: Knex, resourceId: string, id: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: { deleted: number }[] }>(
    `with s as (delete from subscribers where resource_id = ? and id = ? returning id),
     e as (delete from endpoints where resource_id = ? and subscriber_id in (select id from s) returning id),
     d as (delete from deliveries where endpoint_id in (select id from e)),
     a as (delete from attempts where endpoint_id in (select id from e))
     select count(*)::int as deleted from s`,
    [resourceId, id, resourceId],
  );
  return (rows[0]?.deleted ?? 0) > 0;
}
