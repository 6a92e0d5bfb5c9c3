import type { Knex } from 'knex';
import { cursorTimestamp } from '../pagination.js';

export type EndpointFormat = 'standard' | 'slack' | 'discord';

export interface PreviousSecret {
  secret: string;
  expires_at: string;
}

/** An endpoint as the API shows it: never its secrets (see getEndpointSecrets). */
export interface Endpoint {
  id: string;
  resourceId: string;
  subscriberId: string | null;
  url: string;
  description: string;
  eventTypes: string[];
  format: EndpointFormat;
  active: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  version: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
  failingSince: Date | null;
  lastFailureAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  cursorAt: string;
}

interface EndpointRow {
  id: string;
  resource_id: string;
  subscriber_id: string | null;
  url: string;
  description: string;
  event_types: string[];
  format: EndpointFormat;
  active: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  version: string | null;
  headers: Record<string, string>;
  timeout_ms: number;
  failing_since: Date | null;
  last_failure_at: Date | null;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

// The secret columns are deliberately absent: a list or get cannot leak them by accident.
const COLUMNS = `id, resource_id, subscriber_id, url, description, event_types, format, active, disabled_reason,
  disabled_at, version, headers, timeout_ms, failing_since, last_failure_at, created_at, updated_at,
  ${cursorTimestamp('created_at')} as cursor_at`;

function toEndpoint(row: EndpointRow): Endpoint {
  return {
    id: row.id,
    resourceId: row.resource_id,
    subscriberId: row.subscriber_id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    format: row.format,
    active: row.active,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    version: row.version,
    headers: row.headers,
    timeoutMs: row.timeout_ms,
    failingSince: row.failing_since,
    lastFailureAt: row.last_failure_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    cursorAt: row.cursor_at,
  };
}

/**
 * Serialises endpoint creation per resource so two concurrent creates cannot both pass the plan's
 * endpoint limit. `for no key update` rather than `for update`: it still excludes a second
 * creator, but does not block the `for key share` locks that every message, subscriber and
 * usage insert takes on the resource row through its foreign key.
 */
export async function lockResourceForEndpointChange(db: Knex, resourceId: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>('select 1 from resources where id = ? for no key update', [resourceId]);
  return rows.length > 0;
}

export async function countEndpoints(db: Knex, resourceId: string): Promise<number> {
  const { rows } = await db.raw<{ rows: { n: number }[] }>('select count(*)::int as n from endpoints where resource_id = ?', [resourceId]);
  return rows[0]!.n;
}

export interface NewEndpoint {
  id: string;
  subscriberId: string | null;
  url: string;
  description: string;
  eventTypes: string[];
  format: EndpointFormat;
  active: boolean;
  version: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
  secret: string;
  createdAt: Date;
}

export async function insertEndpoint(db: Knex, resourceId: string, e: NewEndpoint): Promise<Endpoint> {
  const { rows } = await db.raw<{ rows: EndpointRow[] }>(
    `insert into endpoints (id, resource_id, subscriber_id, url, description, event_types, format, active,
       disabled_reason, disabled_at, version, headers, timeout_ms, secret, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?::text[], ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)
     returning ${COLUMNS}`,
    [
      e.id,
      resourceId,
      e.subscriberId,
      e.url,
      e.description,
      e.eventTypes,
      e.format,
      e.active,
      e.active ? null : 'manual',
      e.active ? null : e.createdAt,
      e.version,
      JSON.stringify(e.headers),
      e.timeoutMs,
      e.secret,
      e.createdAt,
      e.createdAt,
    ],
  );
  return toEndpoint(rows[0]!);
}

export async function getEndpoint(db: Knex, resourceId: string, id: string): Promise<Endpoint | undefined> {
  const { rows } = await db.raw<{ rows: EndpointRow[] }>(`select ${COLUMNS} from endpoints where resource_id = ? and id = ?`, [resourceId, id]);
  return rows[0] ? toEndpoint(rows[0]) : undefined;
}

export async function endpointExists(db: Knex, resourceId: string, id: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>('select 1 from endpoints where resource_id = ? and id = ?', [resourceId, id]);
  return rows.length > 0;
}

/** Oldest first, optionally one subscriber's; fetches `limit + 1` rows. */
export async function listEndpoints(
  db: Knex,
  resourceId: string,
  filter: { subscriberId?: string },
  page: { limit: number; after: string[] | undefined },
): Promise<Endpoint[]> {
  const where: string[] = ['resource_id = ?'];
  const values: Knex.RawBinding[] = [resourceId];
  if (filter.subscriberId) {
    where.push('subscriber_id = ?');
    values.push(filter.subscriberId);
  }
  if (page.after) {
    where.push('(created_at, id) > (?::timestamptz, ?::uuid)');
    values.push(...page.after);
  }
  const { rows } = await db.raw<{ rows: EndpointRow[] }>(
    `select ${COLUMNS} from endpoints where ${where.join(' and ')} order by created_at, id limit ?`,
    [...values, page.limit + 1],
  );
  return rows.map(toEndpoint);
}

export interface EndpointPatch {
  subscriberId?: string | null;
  url?: string;
  description?: string;
  eventTypes?: string[];
  format?: EndpointFormat;
  active?: boolean;
  version?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Turning an endpoint off records why (`manual`); turning it on clears the failure state the
 * health policy keeps, so a re-enabled endpoint starts with a clean slate.
 */
export async function updateEndpoint(
  db: Knex,
  resourceId: string,
  id: string,
  patch: EndpointPatch,
  now: Date,
): Promise<Endpoint | undefined> {
  const sets: string[] = ['updated_at = ?'];
  const values: Knex.RawBinding[] = [now];
  const set = (sql: string, value: Knex.RawBinding) => {
    sets.push(sql);
    values.push(value);
  };
  if (patch.subscriberId !== undefined) set('subscriber_id = ?', patch.subscriberId);
  if (patch.url !== undefined) set('url = ?', patch.url);
  if (patch.description !== undefined) set('description = ?', patch.description);
  if (patch.eventTypes !== undefined) set('event_types = ?::text[]', patch.eventTypes);
  if (patch.format !== undefined) set('format = ?', patch.format);
  if (patch.version !== undefined) set('version = ?', patch.version);
  if (patch.headers !== undefined) set('headers = ?::jsonb', JSON.stringify(patch.headers));
  if (patch.timeoutMs !== undefined) set('timeout_ms = ?', patch.timeoutMs);
  if (patch.active === true) {
    sets.push('active = true', 'disabled_reason = null', 'disabled_at = null', 'failing_since = null');
  } else if (patch.active === false) {
    sets.push('active = false', `disabled_reason = case when active then 'manual' else disabled_reason end`);
    set('disabled_at = case when active then ?::timestamptz else disabled_at end', now);
  }
  const { rows } = await db.raw<{ rows: EndpointRow[] }>(
    `update endpoints set ${sets.join(', ')} where resource_id = ? and id = ? returning ${COLUMNS}`,
    [...values, resourceId, id],
  );
  return rows[0] ? toEndpoint(rows[0]) : undefined;
}

/**
 * Deletes the endpoint with its deliveries and their attempts, in one statement (no foreign key
 * cascades them: see migrations/20261123000009). A delivery the fan-out inserts for it while this
 * runs is marked dead by the worker, which finds no endpoint to send it to.
 */
export async function deleteEndpoint(db: Knex, resourceId: string, id: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: { deleted: number }[] }>(
    `with e as (delete from endpoints where resource_id = ? and id = ? returning id),
     d as (delete from deliveries where endpoint_id in (select id from e)),
     a as (delete from attempts where endpoint_id in (select id from e))
     select count(*)::int as deleted from e`,
    [resourceId, id],
  );
  return (rows[0]?.deleted ?? 0) > 0;
}

export interface EndpointSecrets {
  secret: string;
  previousSecrets: PreviousSecret[];
}

/** `forUpdate` inside a transaction: a rotation reads and writes the secrets atomically. */
export async function getEndpointSecrets(
  db: Knex,
  resourceId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<EndpointSecrets | undefined> {
  const { rows } = await db.raw<{ rows: { secret: string; previous_secrets: PreviousSecret[] }[] }>(
    `select secret, previous_secrets from endpoints where resource_id = ? and id = ?${opts.forUpdate ? ' for no key update' : ''}`,
    [resourceId, id],
  );
  return rows[0] ? { secret: rows[0].secret, previousSecrets: rows[0].previous_secrets } : undefined;
}

export async function setEndpointSecrets(db: Knex, resourceId: string, id: string, secrets: EndpointSecrets, now: Date): Promise<void> {
  await db.raw('update endpoints set secret = ?, previous_secrets = ?::jsonb, updated_at = ? where resource_id = ? and id = ?', [
    secrets.secret,
    JSON.stringify(secrets.previousSecrets),
    now,
    resourceId,
    id,
  ]);
}

/** Turns a disabled endpoint back on (recover), clearing the health policy's failure state. */
export async function reactivateEndpoint(db: Knex, resourceId: string, id: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `update endpoints set active = true, disabled_reason = null, disabled_at = null, failing_since = null, updated_at = ?
     where resource_id = ? and id = ? and not active`,
    [now, resourceId, id],
  );
  return rowCount > 0;
}
