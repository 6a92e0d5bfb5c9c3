import type { Knex } from 'knex';
import { cursorTimestamp } from '../pagination.js';

/** The closed vocabulary of delivery states (see the deliveries migration). */
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'dead', 'skipped'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface Delivery {
  id: string;
  resourceId: string;
  messageId: string;
  endpointId: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  cursorAt: string;
}

interface DeliveryRow {
  id: string;
  resource_id: string;
  message_id: string;
  endpoint_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  cursor_at: string;
}

// The lease columns (locked_until, locked_by) are the worker's business and stay out of the API.
const COLUMNS = `id, resource_id, message_id, endpoint_id, status, attempt_count, next_attempt_at, last_attempt_at,
  last_status_code, last_error, created_at, updated_at, completed_at, ${cursorTimestamp('created_at')} as cursor_at`;

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    resourceId: row.resource_id,
    messageId: row.message_id,
    endpointId: row.endpoint_id,
    status: row.status,
    attemptCount: row.attempt_count,
    nextAttemptAt: row.next_attempt_at,
    lastAttemptAt: row.last_attempt_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
    cursorAt: row.cursor_at,
  };
}

export interface DeliveryFilter {
  endpointId?: string;
  messageId?: string;
  status?: DeliveryStatus;
}

/**
 * Newest first; fetches `limit + 1` rows. By endpoint or message, one index scan
 * (deliveries_endpoint_created_idx, deliveries_message_idx). Across the whole resource there is no
 * index of its own (see migrations/20261123000011): the newest `limit + 1` of each of the
 * resource's endpoints, merged. A delivery whose endpoint has been deleted (marked dead by the
 * worker) is left out of that list; its message still shows it.
 */
export async function listDeliveries(
  db: Knex,
  resourceId: string,
  filter: DeliveryFilter,
  page: { limit: number; after: string[] | undefined },
): Promise<Delivery[]> {
  const where: string[] = ['resource_id = ?'];
  const values: Knex.RawBinding[] = [resourceId];
  if (filter.endpointId) {
    where.push('endpoint_id = ?');
    values.push(filter.endpointId);
  }
  if (filter.messageId) {
    where.push('message_id = ?');
    values.push(filter.messageId);
  }
  if (filter.status) {
    where.push('status = ?');
    values.push(filter.status);
  }
  if (page.after) {
    where.push('(created_at, id) < (?::timestamptz, ?::uuid)');
    values.push(...page.after);
  }
  const order = 'order by created_at desc, id desc limit ?';
  if (filter.endpointId || filter.messageId) {
    const { rows } = await db.raw<{ rows: DeliveryRow[] }>(`select ${COLUMNS} from deliveries where ${where.join(' and ')} ${order}`, [
      ...values,
      page.limit + 1,
    ]);
    return rows.map(toDelivery);
  }
  const { rows } = await db.raw<{ rows: DeliveryRow[] }>(
    `select x.* from endpoints e
     cross join lateral (
       select ${COLUMNS} from deliveries where endpoint_id = e.id and ${where.join(' and ')} ${order}
     ) x
     where e.resource_id = ?
     ${order}`,
    [...values, page.limit + 1, resourceId, page.limit + 1],
  );
  return rows.map(toDelivery);
}

export async function getDelivery(db: Knex, resourceId: string, id: string): Promise<Delivery | undefined> {
  const { rows } = await db.raw<{ rows: DeliveryRow[] }>(`select ${COLUMNS} from deliveries where resource_id = ? and id = ?`, [resourceId, id]);
  return rows[0] ? toDelivery(rows[0]) : undefined;
}

/** Every delivery of one message, oldest first (one per endpoint, so bounded by the plan). */
export async function listMessageDeliveries(db: Knex, resourceId: string, messageId: string): Promise<Delivery[]> {
  const { rows } = await db.raw<{ rows: DeliveryRow[] }>(
    `select ${COLUMNS} from deliveries where resource_id = ? and message_id = ? order by created_at, id`,
    [resourceId, messageId],
  );
  return rows.map(toDelivery);
}

/**
 * Makes one delivery due now, whatever its state. The lease is cleared so a worker's stale claim
 * cannot hold it back; attempt_count is kept, so the attempt history stays numbered in order.
 */
export async function requeueDelivery(db: Knex, resourceId: string, id: string, now: Date): Promise<Delivery | undefined> {
  const { rows } = await db.raw<{ rows: DeliveryRow[] }>(
    `update deliveries set status = 'pending', next_attempt_at = ?, locked_until = null, locked_by = null,
       completed_at = null, updated_at = ?
     where resource_id = ? and id = ? returning ${COLUMNS}`,
    [now, now, resourceId, id],
  );
  return rows[0] ? toDelivery(rows[0]) : undefined;
}

/** Re-queues an endpoint's failed, dead and skipped deliveries created since `since`. */
export async function requeueEndpointDeliveries(db: Knex, resourceId: string, endpointId: string, since: Date, now: Date): Promise<number> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `update deliveries set status = 'pending', next_attempt_at = ?, locked_until = null, locked_by = null,
       completed_at = null, updated_at = ?
     where resource_id = ? and endpoint_id = ? and status in ('failed', 'dead', 'skipped') and created_at >= ?`,
    [now, now, resourceId, endpointId, since],
  );
  return rowCount;
}

/** How many deliveries requeueEndpointDeliveries would re-queue now (the dashboard asks before it does). */
export async function countRecoverableDeliveries(db: Knex, resourceId: string, endpointId: string, since: Date): Promise<number> {
  const { rows } = await db.raw<{ rows: { n: number }[] }>(
    `select count(*)::int as n from deliveries
     where resource_id = ? and endpoint_id = ? and status in ('failed', 'dead', 'skipped') and created_at >= ?`,
    [resourceId, endpointId, since],
  );
  return rows[0]!.n;
}

/** Wakes the workers (they LISTEN on herald_deliveries). Inside a transaction it fires on commit. */
export async function notifyDeliveries(db: Knex): Promise<void> {
  await db.raw(`select pg_notify('herald_deliveries', '')`);
}
