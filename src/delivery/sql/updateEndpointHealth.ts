import type { Knex } from 'knex';
import { FAILING_DISABLE_AFTER_MS, FAILING_MIN_SPAN_MS, type EndpointHealthUpdate } from '../endpointHealth.js';

/*
 * Applies a batch's health updates in one statement and disables the endpoints the policy says to.
 * Rows are locked in id order first (the `calc` CTE), so two workers updating the same endpoints
 * never deadlock; endpoints with nothing to change (healthy and still healthy) are not even locked,
 * which is the common case at thousands of deliveries a second.
 */
const HEALTH_SQL = `
  with input as materialized (
    select * from jsonb_to_recordset(?::jsonb) as x(
      id uuid, failing_since timestamptz, restarted boolean, last_failure_at timestamptz, recovered boolean, gone boolean
    )
  ), calc as materialized (
    select e.id, e.active as was_active, i.gone,
      case when i.recovered then null
           when i.failing_since is null then e.failing_since
           when i.restarted then i.failing_since
           else coalesce(e.failing_since, i.failing_since) end as failing_since,
      case when i.last_failure_at is null then e.last_failure_at
           else greatest(e.last_failure_at, i.last_failure_at) end as last_failure_at
    from endpoints e
    join input i on i.id = e.id
    where i.gone or i.failing_since is not null or i.last_failure_at is not null or e.failing_since is not null
    order by e.id
    for update of e
  ), decided as (
    select c.*,
      case when c.gone then 'gone'
           when c.failing_since <= ?::timestamptz - ?::interval
            and c.last_failure_at - c.failing_since >= ?::interval then 'failing'
      end as disable_reason
    from calc c
  )
  update endpoints e
  set failing_since = d.failing_since,
      last_failure_at = d.last_failure_at,
      active = e.active and d.disable_reason is null,
      disabled_reason = case when e.active and d.disable_reason is not null then d.disable_reason else e.disabled_reason end,
      disabled_at = case when e.active and d.disable_reason is not null then ?::timestamptz else e.disabled_at end,
      updated_at = ?::timestamptz
  from decided d
  where e.id = d.id
  returning e.id, d.was_active, e.active, e.disabled_reason
`;

export interface DisabledEndpoint {
  id: string;
  reason: string;
}

/** Returns the endpoints this update disabled (they were active before it). */
export async function updateEndpointHealth(db: Knex, opts: { now: Date; updates: readonly EndpointHealthUpdate[] }): Promise<DisabledEndpoint[]> {
  if (opts.updates.length === 0) return [];
  const input = opts.updates.map((u) => ({
    id: u.endpointId,
    failing_since: u.failingSince ?? null,
    restarted: u.restarted,
    last_failure_at: u.lastFailureAt ?? null,
    recovered: u.recovered,
    gone: u.gone,
  }));
  const { rows } = await db.raw<{ rows: Array<{ id: string; was_active: boolean; active: boolean; disabled_reason: string | null }> }>(HEALTH_SQL, [
    JSON.stringify(input),
    opts.now,
    `${FAILING_DISABLE_AFTER_MS} milliseconds`,
    `${FAILING_MIN_SPAN_MS} milliseconds`,
    opts.now,
    opts.now,
  ]);
  return rows.filter((r) => r.was_active && !r.active).map((r) => ({ id: r.id, reason: r.disabled_reason ?? 'disabled' }));
}
