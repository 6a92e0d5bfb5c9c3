import type { Knex } from 'knex';
import type { DeliveryResult } from '../types.js';

/*
 * Writes a group of finished deliveries in ONE statement: the rows go to Postgres as one JSON
 * array (jsonb_to_recordset), a data-modifying CTE updates the deliveries and the outer INSERT
 * adds their attempts. One round trip per group instead of two per delivery is what lets one
 * worker record thousands of attempts a second.
 *
 * The worker id travels inside each JSON row on purpose: as a constant (`d.locked_by = $1`) the
 * planner estimated ~1 matching row from stale statistics (locked_by is mostly null), scanned
 * deliveries first and joined the JSON rows in a nested loop — 37 ms for 200 rows on a 20,000-row
 * table (43 ms for the whole statement). As a join condition each JSON row is looked up by primary
 * key instead: 10 ms for the whole statement.
 *
 * A delivery is updated only while this worker still holds its claim (locked_by): if an operator
 * re-queued it meanwhile, their decision stands. The attempt is recorded either way — it happened —
 * unless the delivery itself is gone (deleted endpoint, retention): then there is nothing to hang it on.
 * The attempt's resource, message and endpoint ids come from the delivery row, not the JSON.
 */
const RECORD_SQL = `
  with input as materialized (
    select * from jsonb_to_recordset(?::jsonb) as x(
      id uuid, locked_by text,
      status text, attempt_count integer, last_attempt_at timestamptz, last_status_code integer,
      last_error text, next_attempt_at timestamptz, completed_at timestamptz,
      attempt_number integer, attempted_at timestamptz, url text, request_headers jsonb, request_body text,
      status_code integer, duration_ms integer, response_headers jsonb, response_body text,
      error_kind text, error_message text, outcome text, attempt_next_attempt_at timestamptz
    )
  ), updated as (
    update deliveries d
    set status = i.status,
        attempt_count = i.attempt_count,
        last_attempt_at = coalesce(i.last_attempt_at, d.last_attempt_at),
        last_status_code = case when i.attempt_number is null then d.last_status_code else i.last_status_code end,
        last_error = i.last_error,
        next_attempt_at = i.next_attempt_at,
        completed_at = i.completed_at,
        locked_until = null,
        locked_by = null,
        updated_at = ?
    from input i
    where d.id = i.id and d.locked_by = i.locked_by
    returning d.id
  ), inserted as (
    insert into attempts (
      delivery_id, resource_id, message_id, endpoint_id, attempt_number, attempted_at, url,
      request_headers, request_body, status_code, duration_ms, response_headers, response_body,
      error_kind, error_message, outcome, next_attempt_at
    )
    select i.id, d.resource_id, d.message_id, d.endpoint_id, i.attempt_number, i.attempted_at, i.url,
           coalesce(i.request_headers, '{}'::jsonb), i.request_body, i.status_code, i.duration_ms, i.response_headers, i.response_body,
           i.error_kind, i.error_message, i.outcome, i.attempt_next_attempt_at
    from input i
    join deliveries d on d.id = i.id
    where i.attempt_number is not null
    returning 1
  )
  select (select count(*) from updated) as updated, (select count(*) from inserted) as inserted
`;

export async function recordResults(
  db: Knex,
  opts: { workerId: string; now: Date; results: readonly DeliveryResult[] },
): Promise<{ updated: number; inserted: number }> {
  if (opts.results.length === 0) return { updated: 0, inserted: 0 };
  const rows = opts.results.map((r) => ({
    id: r.id,
    locked_by: opts.workerId,
    status: r.status,
    attempt_count: r.attemptCount,
    last_attempt_at: r.lastAttemptAt,
    last_status_code: r.lastStatusCode,
    last_error: r.lastError,
    next_attempt_at: r.nextAttemptAt,
    completed_at: r.completedAt,
    ...(r.attempt
      ? {
          attempt_number: r.attempt.attempt_number,
          attempted_at: r.attempt.attempted_at,
          url: r.attempt.url,
          request_headers: r.attempt.request_headers,
          request_body: r.attempt.request_body,
          status_code: r.attempt.status_code,
          duration_ms: r.attempt.duration_ms,
          response_headers: r.attempt.response_headers,
          response_body: r.attempt.response_body,
          error_kind: r.attempt.error_kind,
          error_message: r.attempt.error_message,
          outcome: r.attempt.outcome,
          attempt_next_attempt_at: r.attempt.next_attempt_at,
        }
      : {}),
  }));
  // Named, like the claim: planned once per connection instead of ~0.25 ms per group.
  const { rows: out } = await db
    .raw<{ rows: Array<{ updated: number; inserted: number }> }>(RECORD_SQL, [JSON.stringify(rows), opts.now])
    .options({ name: 'herald_record_results' });
  return { updated: Number(out[0]?.updated ?? 0), inserted: Number(out[0]?.inserted ?? 0) };
}

/**
 * Gives claimed deliveries back untouched (a shutdown cut their requests short): due at once for
 * whichever worker claims next, with no attempt counted.
 */
export async function releaseDeliveries(db: Knex, opts: { workerId: string; now: Date; ids: readonly string[] }): Promise<number> {
  if (opts.ids.length === 0) return 0;
  return db('deliveries')
    .whereIn('id', [...opts.ids])
    .andWhere('locked_by', opts.workerId)
    .update({ next_attempt_at: opts.now, locked_until: null, locked_by: null, updated_at: opts.now });
}
