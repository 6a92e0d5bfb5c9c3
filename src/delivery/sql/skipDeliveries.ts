import type { Knex } from 'knex';

/**
 * Marks waiting deliveries of disabled endpoints 'skipped' (kept, so `recover` can replay them), in
 * bounded batches. Rows another worker holds right now are left to it: its result lands, and if
 * the delivery is still due later the claim sees the disabled endpoint and skips it then.
 */
export async function skipDeliveriesOfEndpoints(
  db: Knex,
  opts: { endpointIds: readonly string[]; now: Date; reason: string; batchSize?: number; maxBatches?: number },
): Promise<number> {
  if (opts.endpointIds.length === 0) return 0;
  const batchSize = opts.batchSize ?? 5000;
  let total = 0;
  for (let i = 0; i < (opts.maxBatches ?? 20); i++) {
    const { rowCount } = await db.raw<{ rowCount: number }>(
      `update deliveries set status = 'skipped', next_attempt_at = null, last_error = ?, updated_at = ?
       where id in (
         select id from deliveries
         where endpoint_id = any(?::uuid[]) and status in ('pending', 'failed')
           and (locked_until is null or locked_until <= ?)
         limit ?
         for update skip locked
       )`,
      [opts.reason, opts.now, [...opts.endpointIds], opts.now, batchSize],
    );
    total += rowCount;
    if (rowCount < batchSize) break;
  }
  return total;
}
