import type { Knex } from 'knex';
import { cursorTimestamp } from '../pagination.js';

export type MessageSource = 'api' | 'heroku' | 'test';

export interface Message {
  id: string;
  resourceId: string;
  eventType: string;
  eventId: string | null;
  version: string | null;
  /** The JSON text of `data`, as accepted. */
  payload: string;
  subscriberId: string | null;
  endpointId: string | null;
  source: MessageSource;
  createdAt: Date;
  cursorAt: string;
}

interface MessageRow {
  id: string;
  resource_id: string;
  event_type: string;
  event_id: string | null;
  version: string | null;
  payload: string;
  subscriber_id: string | null;
  endpoint_id: string | null;
  source: MessageSource;
  created_at: Date;
  cursor_at: string;
}

const COLUMNS = `id, resource_id, event_type, event_id, version, payload, subscriber_id, endpoint_id, source, created_at,
  ${cursorTimestamp('created_at')} as cursor_at`;

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    resourceId: row.resource_id,
    eventType: row.event_type,
    eventId: row.event_id,
    version: row.version,
    payload: row.payload,
    subscriberId: row.subscriber_id,
    endpointId: row.endpoint_id,
    source: row.source,
    createdAt: row.created_at,
    cursorAt: row.cursor_at,
  };
}

export interface FanOutParams {
  id: string;
  resourceId: string;
  eventType: string;
  eventId: string | null;
  version: string | null;
  payload: string;
  subscriberId: string | null;
  endpointId: string | null;
  source: MessageSource;
  now: Date;
  /** First day of the month (UTC), `YYYY-MM-01`: the usage counter's period. */
  period: string;
  /** The plan's monthly quota, or null when this source is never refused. */
  quota: number | null;
  /** Endpoint filter entries that select this event type (see matchingFilters). */
  filterCandidates: string[];
  /** Deliver to the targeted endpoints whatever their event type filter and version pin (tests). */
  ignoreFilters: boolean;
}

export interface FanOutResult {
  /** False when nothing was stored: a repeated event_id, a missing target, or the quota. */
  inserted: boolean;
  deliveries: number;
  pending: number;
}

/**
 * Stores a message, its deliveries, the usage count and the event type in ONE statement, which
 * Postgres runs as one transaction: the accept path costs a single round trip instead of five
 * (BEGIN, insert, insert, upsert, COMMIT), and the hot usage-counter row stays locked only for the
 * statement and its commit. Every write hangs off `msg`, so when the message is not inserted
 * nothing else is either. `pg_notify` inside the statement fires on commit only.
 *
 * The quota is read at the statement's snapshot, so concurrent sends of one resource can overrun it
 * by at most the number of requests in flight — the price of not serialising every send on the
 * counter row before doing any work.
 */
export async function insertMessageFanOut(db: Knex, p: FanOutParams): Promise<FanOutResult> {
  const { rows } = await db.raw<{ rows: { inserted: number; deliveries: number; pending: number }[] }>(
    `with used as (
       select coalesce(sum(messages), 0) as n from usage_counters where resource_id = :rid and period = :period::date
     ),
     gate as (
       select 1 from used
       where (:quota::bigint is null or used.n < :quota::bigint)
         and (:subscriber::uuid is null or exists (select 1 from subscribers where resource_id = :rid and id = :subscriber::uuid))
         and (:endpoint::uuid is null or exists (select 1 from endpoints where resource_id = :rid and id = :endpoint::uuid))
     ),
     msg as (
       insert into messages (id, resource_id, event_type, event_id, version, payload, subscriber_id, endpoint_id, source, created_at)
       select :id::uuid, :rid::uuid, :type::text, :eventId::text, :version::text, :payload::text, :subscriber::uuid, :endpoint::uuid,
              :source::text, :now::timestamptz
       from gate
       on conflict on constraint messages_resource_event_id_unique do nothing
       returning id
     ),
     targets as (
       select e.id, e.active from endpoints e
       where e.resource_id = :rid
         and (:subscriber::uuid is null or e.subscriber_id = :subscriber::uuid)
         and (:endpoint::uuid is null or e.id = :endpoint::uuid)
         and (:ignoreFilters::boolean or (
           (cardinality(e.event_types) = 0 or e.event_types && :candidates::text[])
           and (e.version is null or e.version = :version::text)))
     ),
     dels as (
       insert into deliveries (id, resource_id, message_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
       select gen_random_uuid(), :rid::uuid, msg.id, t.id,
              case when t.active then 'pending' else 'skipped' end,
              case when t.active then :now::timestamptz end,
              :now::timestamptz, :now::timestamptz
       from msg cross join targets t
       returning status
     ),
     counted as (
       insert into usage_counters (resource_id, period, messages) select :rid::uuid, :period::date, 1 from msg
       on conflict (resource_id, period) do update set messages = usage_counters.messages + 1
       returning 1
     ),
     recorded as (
       insert into event_types (resource_id, name, created_at) select :rid::uuid, :type::text, :now::timestamptz from msg
       on conflict do nothing
       returning 1
     )
     select (select count(*) from msg)::int as inserted,
            (select count(*) from dels)::int as deliveries,
            (select count(*) from dels where status = 'pending')::int as pending,
            (select count(*) from (select pg_notify('herald_deliveries', '') from dels where status = 'pending' limit 1) n) as notified`,
    {
      rid: p.resourceId,
      period: p.period,
      quota: p.quota,
      subscriber: p.subscriberId,
      endpoint: p.endpointId,
      id: p.id,
      type: p.eventType,
      eventId: p.eventId,
      version: p.version,
      payload: p.payload,
      source: p.source,
      now: p.now,
      ignoreFilters: p.ignoreFilters,
      candidates: p.filterCandidates,
    },
  );
  const r = rows[0]!;
  return { inserted: r.inserted > 0, deliveries: r.deliveries, pending: r.pending };
}

export interface MessageWithCount {
  message: Message;
  deliveries: number;
}

export async function getMessageByEventId(db: Knex, resourceId: string, eventId: string): Promise<MessageWithCount | undefined> {
  const { rows } = await db.raw<{ rows: (MessageRow & { delivery_count: number })[] }>(
    `select ${COLUMNS}, (select count(*) from deliveries d where d.message_id = m.id)::int as delivery_count
     from messages m where resource_id = ? and event_id = ?`,
    [resourceId, eventId],
  );
  return rows[0] ? { message: toMessage(rows[0]), deliveries: rows[0].delivery_count } : undefined;
}

export async function getMessage(db: Knex, resourceId: string, id: string): Promise<Message | undefined> {
  const { rows } = await db.raw<{ rows: MessageRow[] }>(`select ${COLUMNS} from messages where resource_id = ? and id = ?`, [resourceId, id]);
  return rows[0] ? toMessage(rows[0]) : undefined;
}

export interface MessageFilter {
  eventType?: string;
  since?: Date;
  until?: Date;
}

/** Newest first; fetches `limit + 1` rows. */
export async function listMessages(
  db: Knex,
  resourceId: string,
  filter: MessageFilter,
  page: { limit: number; after: string[] | undefined },
): Promise<Message[]> {
  const where: string[] = ['resource_id = ?'];
  const values: Knex.RawBinding[] = [resourceId];
  if (filter.eventType !== undefined) {
    where.push('event_type = ?');
    values.push(filter.eventType);
  }
  if (filter.since) {
    where.push('created_at >= ?');
    values.push(filter.since);
  }
  if (filter.until) {
    where.push('created_at < ?');
    values.push(filter.until);
  }
  if (page.after) {
    where.push('(created_at, id) < (?::timestamptz, ?::uuid)');
    values.push(...page.after);
  }
  const { rows } = await db.raw<{ rows: MessageRow[] }>(
    `select ${COLUMNS} from messages where ${where.join(' and ')} order by created_at desc, id desc limit ?`,
    [...values, page.limit + 1],
  );
  return rows.map(toMessage);
}

export async function messageExists(db: Knex, resourceId: string, id: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>('select 1 from messages where resource_id = ? and id = ?', [resourceId, id]);
  return rows.length > 0;
}
