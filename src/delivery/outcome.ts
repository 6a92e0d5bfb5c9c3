import { nextRetryDelay, parseRetryAfter } from './retrySchedule.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryResult, ErrorKind, SendResult } from './types.js';

/** Request bodies are stored for the chat formats only (the standard body is the stored message, rebuilt at will), and capped. */
export const MAX_RECORDED_BODY = 20 * 1024;

/** A claimed delivery that is not sent: its resource or endpoint is gone, or its endpoint is disabled. */
export function notSent(d: ClaimedDelivery, now: Date): DeliveryResult | undefined {
  const base = {
    id: d.id,
    resourceId: d.resourceId,
    messageId: d.messageId,
    endpointId: d.endpointId,
    attemptCount: d.attemptCount,
    lastAttemptAt: null,
    lastStatusCode: null,
    nextAttemptAt: null,
    attempt: null,
    health: null,
  };
  if (d.resourceState !== 'provisioned') {
    // Deprovisioned: nothing of this customer's is sent again; retention purges the rows.
    return { ...base, status: 'dead', lastError: 'add-on deprovisioned', completedAt: now };
  }
  if (!d.endpointExists) {
    return { ...base, status: 'dead', lastError: 'endpoint deleted', completedAt: now };
  }
  if (!d.endpointActive) {
    return { ...base, status: 'skipped', lastError: 'endpoint disabled', completedAt: null };
  }
  return undefined;
}

function errorKindForStatus(status: number): ErrorKind {
  return status >= 300 && status < 400 ? 'redirect' : 'http_error';
}

function cap(s: string | undefined, max: number): string | null {
  if (s === undefined) return null;
  return s.length > max ? s.slice(0, max) : s;
}

/**
 * Decides what one attempt means: success (any 2xx), a retry at the scheduled time, dead (out of
 * attempts, or the receiver said `webhook-delivery: abort-message`), or skipped because a 410 just
 * disabled the endpoint. Pure: `now` and `random` come from the caller.
 */
export function decideOutcome(
  d: ClaimedDelivery,
  req: { url: string; recordedHeaders: Record<string, string>; body: string },
  res: SendResult,
  ctx: { attemptedAt: Date; now: Date; random: () => number },
): DeliveryResult {
  const attemptNumber = d.attemptCount + 1;
  const status = res.statusCode;
  const ok = status !== undefined && status >= 200 && status < 300;
  const gone = status === 410;
  const abort = !ok && (res.responseHeaders?.['webhook-delivery'] ?? '').trim().toLowerCase() === 'abort-message';
  const errorKind: ErrorKind | null = ok ? null : (res.errorKind ?? errorKindForStatus(status ?? 0));
  const errorMessage = ok ? null : (res.errorMessage ?? `HTTP ${status}`);

  let next: Date | null = null;
  let deliveryStatus: DeliveryResult['status'];
  if (ok) deliveryStatus = 'succeeded';
  else if (gone) deliveryStatus = 'skipped';
  else if (abort) deliveryStatus = 'dead';
  else {
    const delay = nextRetryDelay({
      attemptsMade: attemptNumber,
      failure: errorKind === 'timeout' || status === 429 ? 'throttled' : 'other',
      retryAfterMs: parseRetryAfter(res.responseHeaders?.['retry-after'], ctx.now),
      random: ctx.random,
    });
    if (delay === undefined) deliveryStatus = 'dead';
    else {
      deliveryStatus = 'failed';
      next = new Date(ctx.now.getTime() + delay);
    }
  }

  const lastError = ok
    ? null
    : gone
      ? 'endpoint answered 410 Gone: endpoint disabled'
      : abort
        ? 'receiver asked to stop (webhook-delivery: abort-message)'
        : `${errorKind}: ${errorMessage}`;
  const attempt: AttemptRecord = {
    attempt_number: attemptNumber,
    attempted_at: ctx.attemptedAt.toISOString(),
    url: req.url,
    request_headers: req.recordedHeaders,
    request_body: d.format === 'standard' ? null : cap(req.body, MAX_RECORDED_BODY),
    status_code: status ?? null,
    duration_ms: res.durationMs,
    response_headers: res.responseHeaders ?? null,
    response_body: res.responseBody ?? null,
    error_kind: errorKind,
    error_message: errorMessage,
    outcome: ok ? 'succeeded' : 'failed',
    next_attempt_at: next ? next.toISOString() : null,
  };
  return {
    id: d.id,
    resourceId: d.resourceId,
    messageId: d.messageId,
    endpointId: d.endpointId,
    status: deliveryStatus,
    attemptCount: attemptNumber,
    lastAttemptAt: ctx.attemptedAt,
    lastStatusCode: status ?? null,
    lastError: lastError === null ? null : lastError.slice(0, 1000),
    nextAttemptAt: next,
    completedAt: deliveryStatus === 'failed' || deliveryStatus === 'skipped' ? null : ctx.now,
    attempt,
    health: { at: ctx.now, ok, gone },
  };
}
