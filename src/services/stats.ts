import type { DeliveryStatus } from '../db/deliveries.js';
import type { Resource } from '../db/resources.js';
import * as db from '../db/stats.js';
import type { Deps } from '../deps.js';

/** The numbers behind the dashboard's charts and endpoint health columns. */

const HOUR_MS = 3_600_000;
/** The window of the endpoint health columns (success rate, p95). */
export const HEALTH_WINDOW_HOURS = 24;

export interface ChartSeries {
  /** ISO start of each UTC hour, oldest first. */
  hours: string[];
  succeeded: number[];
  failed: number[];
  dead: number[];
  totals: { succeeded: number; failed: number; dead: number };
}

export interface DeliveryCharts {
  day: ChartSeries;
  week: ChartSeries;
}

function series(buckets: readonly db.HourBucket[], end: Date, hours: number): ChartSeries {
  const lastHour = Math.floor(end.getTime() / HOUR_MS) * HOUR_MS;
  const first = lastHour - (hours - 1) * HOUR_MS;
  const byHour = new Map(buckets.map((b) => [b.hour.getTime(), b]));
  const out: ChartSeries = { hours: [], succeeded: [], failed: [], dead: [], totals: { succeeded: 0, failed: 0, dead: 0 } };
  for (let t = first; t <= lastHour; t += HOUR_MS) {
    const b = byHour.get(t);
    out.hours.push(new Date(t).toISOString());
    for (const k of ['succeeded', 'failed', 'dead'] as const) {
      const n = b?.[k] ?? 0;
      out[k].push(n);
      out.totals[k] += n;
    }
  }
  return out;
}

/** Attempts per hour over the last 24 hours and the last 7 days (168 hourly buckets), from one query. */
export async function deliveryCharts(deps: Deps, resource: Resource): Promise<DeliveryCharts> {
  const now = deps.clock.now();
  const weekStart = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - 167 * HOUR_MS);
  const buckets = await db.attemptsPerHour(deps.db, resource.id, weekStart);
  return { day: series(buckets, now, 24), week: series(buckets, now, 168) };
}

export interface EndpointHealth {
  attempts: number;
  /** 0–100, one decimal; null without attempts in the window. */
  successRate: number | null;
  p95Ms: number | null;
  lastAttemptAt: Date | null;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastStatusCode: number | null;
}

/** Health columns for endpoints the caller has already scoped to the session (ids of the resource). */
export async function endpointHealth(deps: Deps, resource: Resource, endpointIds: readonly string[]): Promise<Map<string, EndpointHealth>> {
  const since = new Date(deps.clock.now().getTime() - HEALTH_WINDOW_HOURS * HOUR_MS);
  const rows = await db.endpointHealth(deps.db, resource.id, endpointIds, since);
  return new Map(
    rows.map((r) => [
      r.endpointId,
      {
        attempts: r.attempts,
        successRate: r.attempts === 0 ? null : Math.round((r.succeeded / r.attempts) * 1000) / 10,
        p95Ms: r.p95Ms,
        lastAttemptAt: r.lastAttemptAt,
        lastOutcome: r.lastOutcome,
        lastStatusCode: r.lastStatusCode,
      },
    ]),
  );
}

/** Disabled and failing endpoints, for the overview's warning list. */
export function troubledEndpoints(deps: Deps, resource: Resource, limit = 20): Promise<db.TroubledEndpoint[]> {
  return db.troubledEndpoints(deps.db, resource.id, limit);
}

export type StatusCounts = Partial<Record<DeliveryStatus, number>>;

/** Per-message delivery counts by status (only to one subscriber's endpoints when given). */
export function deliveryStatusCounts(
  deps: Deps,
  resource: Resource,
  messageIds: readonly string[],
  opts: { subscriberId?: string } = {},
): Promise<Map<string, StatusCounts>> {
  return db.deliveryStatusCounts(deps.db, resource.id, messageIds, opts);
}
