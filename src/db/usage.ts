import type { Knex } from 'knex';

/** The usage period a time falls in: the first day of its month, UTC, as `YYYY-MM-01`. */
export function usagePeriod(t: Date): string {
  return `${t.getUTCFullYear().toString().padStart(4, '0')}-${String(t.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

/** When the quota of the period containing `t` resets: the first instant of the next month, UTC. */
export function nextPeriodStart(t: Date): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
}

/** Messages accepted in a period (the counter itself is incremented by insertMessagesFanOut). */
export async function getMonthlyUsage(db: Knex, resourceId: string, period: string): Promise<number> {
  const { rows } = await db.raw<{ rows: { n: number }[] }>(
    'select coalesce(sum(messages), 0)::bigint as n from usage_counters where resource_id = ? and period = ?::date',
    [resourceId, period],
  );
  return rows[0]!.n;
}
