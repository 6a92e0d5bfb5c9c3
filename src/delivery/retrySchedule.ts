/**
 * The one place holding the retry schedule. Pure: time comes in as `now`, chance as `random`.
 *
 * The Standard Webhooks example schedule (also Svix's shape, extended to ~3 days like Stripe and
 * Heroku's own app webhooks): the first attempt at once, then after each failure wait
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h — 10 attempts over about 3.1 days.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** RETRY_DELAYS_MS[n - 1] is the wait after the n-th failed attempt. */
export const RETRY_DELAYS_MS: readonly number[] = Object.freeze([
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
]);

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** ±20 % on every delay, so endpoints that failed together do not all come back together (Svix). */
export const JITTER = 0.2;

/**
 * After a timeout or a 429 the receiver is overloaded: hammering it 5 s later makes things worse,
 * so wait at least a minute (Svix's floor).
 */
export const THROTTLED_FLOOR_MS = MINUTE;

export type FailureKind = 'throttled' | 'other';

export interface RetryInput {
  /** How many attempts have been made, this failed one included (1 after the first). */
  attemptsMade: number;
  failure: FailureKind;
  /** The delay a `Retry-After` header asked for, if any (see parseRetryAfter). */
  retryAfterMs?: number | undefined;
  /** [0, 1), like Math.random; injected so tests can pin the jitter. */
  random: () => number;
}

/**
 * The delay before the next attempt, or undefined when the delivery is out of attempts (dead).
 * `Retry-After` is honoured but clamped to [scheduled, 2 × scheduled]: a receiver may slow us down
 * within reason, but can neither make us hammer it nor park a delivery for days.
 */
export function nextRetryDelay(input: RetryInput): number | undefined {
  if (input.attemptsMade >= MAX_ATTEMPTS) return undefined;
  const scheduled = RETRY_DELAYS_MS[Math.max(0, input.attemptsMade - 1)]!;
  const base = input.failure === 'throttled' ? Math.max(scheduled, THROTTLED_FLOOR_MS) : scheduled;
  if (input.retryAfterMs !== undefined) {
    return Math.round(Math.min(Math.max(input.retryAfterMs, base), 2 * base));
  }
  const jittered = base * (1 - JITTER + 2 * JITTER * input.random());
  return Math.round(input.failure === 'throttled' ? Math.max(jittered, THROTTLED_FLOOR_MS) : jittered);
}

/** The bounds nextRetryDelay keeps to without Retry-After (tests assert against these). */
export function retryDelayBounds(attemptsMade: number, failure: FailureKind): { min: number; max: number } | undefined {
  if (attemptsMade >= MAX_ATTEMPTS) return undefined;
  const scheduled = RETRY_DELAYS_MS[Math.max(0, attemptsMade - 1)]!;
  const base = failure === 'throttled' ? Math.max(scheduled, THROTTLED_FLOOR_MS) : scheduled;
  const min = base * (1 - JITTER);
  return { min: failure === 'throttled' ? Math.max(min, THROTTLED_FLOOR_MS) : min, max: base * (1 + JITTER) };
}

/**
 * `Retry-After` as milliseconds from `now`: either delay-seconds or an HTTP date. Undefined when
 * absent or unparseable; a date in the past counts as 0.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * SECOND;
  // Only accept something that looks like an HTTP date, not whatever Date.parse tolerates.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now.getTime());
}
