import type { Knex } from 'knex';

/*
 * Retention deletes go in bounded batches (LIMIT inside a subquery): no single statement holds
 * locks or bloats WAL for long, so the claim loop and the API keep their latency while millions
 * of old rows go. Each function deletes at most `limit` rows and says how many it did.
 */

/** Attempts of live resources on `plan` older than `cutoff`. */
export async function deleteExpiredAttempts(db: Knex, opts: { plan: string; cutoff: Date; limit: number }): Promise<number> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `delete from attempts where id in (
       select a.id from attempts a join resources r on r.id = a.resource_id
       where r.plan = ? and r.state = 'provisioned' and a.attempted_at < ?
       limit ?
     )`,
    [opts.plan, opts.cutoff, opts.limit],
  );
  return rowCount;
}

/**
 * Messages of live resources on `plan` older than `cutoff`, with their deliveries and attempts (no
 * foreign key cascades them). A message still being retried is kept until its last delivery
 * settles: retention never cuts a delivery short.
 */
export async function deleteExpiredMessages(db: Knex, opts: { plan: string; cutoff: Date; limit: number }): Promise<number> {
  const { rows } = await db.raw<{ rows: { deleted: number }[] }>(
    `with m as (
       delete from messages where id in (
         select m.id from messages m join resources r on r.id = m.resource_id
         where r.plan = ? and r.state = 'provisioned' and m.created_at < ?
           and not exists (select 1 from deliveries d where d.message_id = m.id and d.status in ('pending', 'failed'))
         limit ?
       )
       returning id
     ),
     d as (delete from deliveries where message_id in (select id from m) returning id),
     a as (delete from attempts where delivery_id in (select id from d))
     select count(*)::int as deleted from m`,
    [opts.plan, opts.cutoff, opts.limit],
  );
  return rows[0]?.deleted ?? 0;
}

/** The tables holding a deprovisioned resource's data, children first (no foreign key cascades attempts or deliveries). */
export const PURGED_TABLES = ['attempts', 'deliveries', 'messages', 'endpoints', 'subscribers', 'event_types', 'usage_counters'] as const;
export type PurgedTable = (typeof PURGED_TABLES)[number];

/**
 * Up to `limit` rows of `table` belonging to deprovisioned resources. By ctid, so one statement
 * shape serves tables with uuid, bigint and composite keys alike. The resource row itself stays
 * as the tombstone the partner API answers 410 from.
 */
export async function purgeDeprovisionedRows(db: Knex, opts: { table: PurgedTable; limit: number }): Promise<number> {
  if (!(PURGED_TABLES as readonly string[]).includes(opts.table)) throw new Error(`not a purgeable table: ${opts.table}`);
  // Deliveries have no index by resource: they are found through their messages (purged after them).
  const rows =
    opts.table === 'deliveries'
      ? `select t.ctid from resources r join messages m on m.resource_id = r.id join deliveries t on t.message_id = m.id
         where r.state = 'deprovisioned'`
      : `select t.ctid from ${opts.table} t join resources r on r.id = t.resource_id
         where r.state = 'deprovisioned'`;
  const { rowCount } = await db.raw<{ rowCount: number }>(`delete from ${opts.table} where ctid = any(array(${rows} limit ?))`, [opts.limit]);
  return rowCount;
}
