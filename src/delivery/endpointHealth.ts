import type { DeliveryResult } from './types.js';

/**
 * Endpoint health policy (Standard Webhooks' recommendation, Svix's numbers):
 *   - a 410 Gone disables the endpoint at once (reason 'gone');
 *   - an endpoint failing without a single success for 5 days, with at least 12 h between its
 *     first and last failure, is disabled (reason 'failing'). The 12 h span keeps one burst of
 *     failures around a quiet period from counting as "failing for days".
 * Disabling never drops anything: the endpoint's waiting deliveries become 'skipped' and
 * `recover` replays them.
 */
export const FAILING_DISABLE_AFTER_MS = 5 * 24 * 3600 * 1000;
export const FAILING_MIN_SPAN_MS = 12 * 3600 * 1000;

/** What one batch of results says about one endpoint, in the order things happened. */
export interface EndpointHealthUpdate {
  endpointId: string;
  /** First failure after the batch's last success (undefined: the batch ends healthy or has no failure). */
  failingSince?: Date;
  /** A success came before `failingSince` in this batch: the streak restarts there. */
  restarted: boolean;
  lastFailureAt?: Date;
  /** The batch ended with a success: clear failing_since. */
  recovered: boolean;
  gone: boolean;
}

/** Folds a batch of results into one health update per endpoint. Pure. */
export function summarizeHealth(results: readonly DeliveryResult[]): EndpointHealthUpdate[] {
  const byEndpoint = new Map<string, Array<{ at: Date; ok: boolean; gone: boolean }>>();
  for (const r of results) {
    if (!r.health) continue;
    const list = byEndpoint.get(r.endpointId) ?? [];
    list.push(r.health);
    byEndpoint.set(r.endpointId, list);
  }
  const out: EndpointHealthUpdate[] = [];
  for (const [endpointId, events] of byEndpoint) {
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    let lastSuccess = -1;
    events.forEach((e, i) => {
      if (e.ok) lastSuccess = i;
    });
    const failuresAfter = events.slice(lastSuccess + 1).filter((e) => !e.ok);
    const failures = events.filter((e) => !e.ok);
    const update: EndpointHealthUpdate = {
      endpointId,
      restarted: lastSuccess >= 0 && failuresAfter.length > 0,
      recovered: lastSuccess === events.length - 1,
      gone: events.some((e) => e.gone),
    };
    if (failuresAfter.length > 0) update.failingSince = failuresAfter[0]!.at;
    if (failures.length > 0) update.lastFailureAt = failures[failures.length - 1]!.at;
    out.push(update);
  }
  // A fixed order keeps row locks taken in the same order by every worker (no deadlocks).
  return out.sort((a, b) => (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0));
}
