import type { Knex } from 'knex';
import type { DeliveryStatus } from './deliveries.js';

/**
 * Read-only numbers for the dashboard's charts and health columns. Every query takes the resource
 * id and stays on an index that starts with it (or with endpoint_id, for ids the caller already
 * scoped): attempts_resource_time_idx, attempts_endpoint_time_idx, deliveries_message_idx.
 */

export interface HourBucket {
  /** Start of the UTC hour. */
  hour: Date;
  succeeded: number;
  /** Failed attempts that will be retried. */
  failed: number;
  /** Failed attempts after which the delivery gave up (no next attempt). */
  dead: number;
}

/**
 * Attempts per UTC hour since `since`, split by what they led to. Attempts rather than deliveries:
 * an attempt has one time and one outcome, where a delivery's status moves over days of retries.
 * Only hours with attempts are returned; the caller fills the gaps.
 */
export async function attemptsPerHour(db: Knex, resourceId: string, since: Date): Promise<HourBucket[]> {
  const { rows } = await db.raw<{ rows: { hour: Date; succeeded: number; failed: number; dead: number }[] }>(
    `select date_trunc('hour', attempted_at at time zone 'UTC') at time zone 'UTC' as hour,
            (count(*) filter (where outcome = 'succeeded'))::int as succeeded,
            (count(*) filter (where outcome = 'failed' and next_attempt_at is not null))::int as failed,
            (count(*) filter (where outcome = 'failed' and next_attempt_at is null))::int as dead
     from attempts where resource_id = ? and attempted_at >= ?
     group by 1 order by 1`,
    [resourceId, since],
  );
  return rows.map((r) => ({ hour: r.hour, succeeded: r.succeeded, failed: r.failed, dead: r.dead }));
}

export interface EndpointHealthRow {
  endpointId: string;
  attempts: number;
  succeeded: number;
  /** 95th percentile of attempt durations in the window (ms); null without attempts. */
  p95Ms: number | null;
  lastAttemptAt: Date | null;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastStatusCode: number | null;
}

/**
 * For each of `endpointIds`: attempts and successes since `since`, the p95 duration, and the last
 * attempt ever (a lateral lookup per endpoint on attempts_endpoint_time_idx, so a quiet endpoint
 * still shows when it was last tried).
 */
export async function endpointHealth(db: Knex, resourceId: string, endpointIds: readonly string[], since: Date): Promise<EndpointHealthRow[]> {
  if (endpointIds.length === 0) return [];
  const { rows } = await db.raw<{
    rows: {
      endpoint_id: string;
      attempts: number;
      succeeded: number;
      p95_ms: number | null;
      last_attempt_at: Date | null;
      last_outcome: 'succeeded' | 'failed' | null;
      last_status_code: number | null;
    }[];
  }>(
    `select e.id as endpoint_id,
            coalesce(w.attempts, 0)::int as attempts, coalesce(w.succeeded, 0)::int as succeeded, w.p95_ms,
            l.attempted_at as last_attempt_at, l.outcome as last_outcome, l.status_code as last_status_code
     from unnest(?::uuid[]) as e(id)
     left join lateral (
       select count(*) as attempts, count(*) filter (where outcome = 'succeeded') as succeeded,
              percentile_disc(0.95) within group (order by duration_ms) as p95_ms
       from attempts a where a.endpoint_id = e.id and a.resource_id = ? and a.attempted_at >= ?
     ) w on true
     left join lateral (
       select attempted_at, outcome, status_code from attempts a
       where a.endpoint_id = e.id and a.resource_id = ?
       order by attempted_at desc limit 1
     ) l on true`,
    [[...endpointIds], resourceId, since, resourceId],
  );
  return rows.map((r) => ({
    endpointId: r.endpoint_id,
    attempts: r.attempts,
    succeeded: r.succeeded,
    p95Ms: r.p95_ms === null ? null : Number(r.p95_ms),
    lastAttemptAt: r.last_attempt_at,
    lastOutcome: r.last_outcome,
    lastStatusCode: r.last_status_code,
  }));
}

export interface TroubledEndpoint {
  id: string;
  url: string;
  description: string;
  subscriberId: string | null;
  active: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  failingSince: Date | null;
}

/** Endpoints that are disabled or currently failing (the health policy's `failing_since`), worst first. */
export async function troubledEndpoints(db: Knex, resourceId: string, limit: number): Promise<TroubledEndpoint[]> {
  const { rows } = await db.raw<{
    rows: {
      id: string;
      url: string;
      description: string;
      subscriber_id: string | null;
      active: boolean;
      disabled_reason: string | null;
      disabled_at: Date | null;
      failing_since: Date | null;
    }[];
  }>(
    `select id, url, description, subscriber_id, active, disabled_reason, disabled_at, failing_since
     from endpoints where resource_id = ? and (not active or failing_since is not null)
     order by active, coalesce(failing_since, disabled_at) nulls last, id limit ?`,
    [resourceId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    description: r.description,
    subscriberId: r.subscriber_id,
    active: r.active,
    disabledReason: r.disabled_reason,
    disabledAt: r.disabled_at,
    failingSince: r.failing_since,
  }));
}

/**
 * Delivery counts per status for each of `messageIds`, optionally only those to endpoints of one
 * subscriber (the portal must not count other subscribers' deliveries).
 */
export async function deliveryStatusCounts(
  db: Knex,
  resourceId: string,
  messageIds: readonly string[],
  opts: { subscriberId?: string } = {},
): Promise<Map<string, Partial<Record<DeliveryStatus, number>>>> {
  const out = new Map<string, Partial<Record<DeliveryStatus, number>>>();
  if (messageIds.length === 0) return out;
  const bySubscriber = opts.subscriberId !== undefined;
  const { rows } = await db.raw<{ rows: { message_id: string; status: DeliveryStatus; n: number }[] }>(
    `select d.message_id, d.status, count(*)::int as n
     from deliveries d
     ${bySubscriber ? 'join endpoints e on e.id = d.endpoint_id and e.resource_id = d.resource_id and e.subscriber_id = ?' : ''}
     where d.resource_id = ? and d.message_id = any(?::uuid[])
     group by 1, 2`,
    [...(bySubscriber ? [opts.subscriberId!] : []), resourceId, [...messageIds]],
  );
  for (const r of rows) {
    const counts = out.get(r.message_id) ?? {};
    counts[r.status] = r.n;
    out.set(r.message_id, counts);
  }
  return out;
}
