import type { Deps } from '../deps.js';
import { PLANS } from '../plans.js';
import { deleteExpiredAttempts, deleteExpiredMessages, PURGED_TABLES, purgeDeprovisionedRows } from './sql/deleteExpired.js';

export const RETENTION_INTERVAL_MS = 10 * 60 * 1000;
/** 5,000 rows per statement keeps each delete around tens of milliseconds here. */
export const RETENTION_BATCH = 5_000;

export interface RetentionCounts {
  attempts: number;
  messages: number;
  /** Rows purged per table for deprovisioned resources. */
  purged: Record<string, number>;
  /** True when the statement budget ran out first: the next run carries on. */
  incomplete: boolean;
}

const DAY = 24 * 3600 * 1000;

/**
 * One retention pass: per plan, attempts and then messages (deliveries cascade) older than the
 * plan's retentionDays; then every row of deprovisioned resources. Bounded: batches of
 * `batchSize`, at most `maxStatements` deletes per pass. Time comes from deps.clock.
 */
export async function runRetention(deps: Deps, opts: { batchSize?: number; maxStatements?: number } = {}): Promise<RetentionCounts> {
  const batch = opts.batchSize ?? RETENTION_BATCH;
  let budget = opts.maxStatements ?? 200;
  const counts: RetentionCounts = { attempts: 0, messages: 0, purged: {}, incomplete: false };
  const drain = async (step: () => Promise<number>): Promise<number> => {
    let total = 0;
    while (budget > 0) {
      budget--;
      const n = await step();
      total += n;
      if (n < batch) return total;
    }
    counts.incomplete = true;
    return total;
  };

  const now = deps.clock.now().getTime();
  for (const plan of Object.values(PLANS)) {
    const cutoff = new Date(now - plan.retentionDays * DAY);
    counts.attempts += await drain(() => deleteExpiredAttempts(deps.db, { plan: plan.slug, cutoff, limit: batch }));
    counts.messages += await drain(() => deleteExpiredMessages(deps.db, { plan: plan.slug, cutoff, limit: batch }));
  }
  for (const table of PURGED_TABLES) {
    const n = await drain(() => purgeDeprovisionedRows(deps.db, { table, limit: batch }));
    if (n > 0) counts.purged[table] = n;
  }
  const purgedTotal = Object.values(counts.purged).reduce((a, b) => a + b, 0);
  if (counts.attempts + counts.messages + purgedTotal > 0 || counts.incomplete) deps.logger.info('retention pass', { ...counts });
  return counts;
}
