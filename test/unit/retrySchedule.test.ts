import {
  MAX_ATTEMPTS,
  RETRY_DELAYS_MS,
  THROTTLED_FLOOR_MS,
  nextRetryDelay,
  parseRetryAfter,
  retryDelayBounds,
} from '../../src/delivery/retrySchedule.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const low = () => 0;
const mid = () => 0.5;
const high = () => 0.999999;

describe('retry schedule', () => {
  it('is the Standard Webhooks schedule: 10 attempts over about 3 days', () => {
    expect(RETRY_DELAYS_MS).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H]);
    expect(MAX_ATTEMPTS).toBe(10);
    const total = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total / H).toBeCloseTo(75.6, 1);
  });

  it('waits the scheduled delay after each failure, without jitter at the midpoint', () => {
    RETRY_DELAYS_MS.forEach((delay, i) => {
      expect(nextRetryDelay({ attemptsMade: i + 1, failure: 'other', random: mid })).toBe(delay);
    });
  });

  it('jitters every delay by at most ±20 %', () => {
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'other', random: low })).toBe(0.8 * 5 * M);
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'other', random: high })).toBeCloseTo(1.2 * 5 * M, -1);
    for (let i = 0; i < 200; i++) {
      const d = nextRetryDelay({ attemptsMade: 3, failure: 'other', random: Math.random })!;
      expect(d).toBeGreaterThanOrEqual(0.8 * 30 * M);
      expect(d).toBeLessThanOrEqual(1.2 * 30 * M);
    }
  });

  it('is out of attempts after the 10th: the delivery is dead', () => {
    expect(nextRetryDelay({ attemptsMade: 9, failure: 'other', random: mid })).toBe(24 * H);
    expect(nextRetryDelay({ attemptsMade: 10, failure: 'other', random: mid })).toBeUndefined();
    expect(retryDelayBounds(10, 'other')).toBeUndefined();
  });

  it('waits at least 60 s after a timeout or a 429, even with jitter', () => {
    expect(nextRetryDelay({ attemptsMade: 1, failure: 'throttled', random: low })).toBe(THROTTLED_FLOOR_MS);
    expect(nextRetryDelay({ attemptsMade: 1, failure: 'throttled', random: high })).toBeCloseTo(72 * S, -1);
    // Later delays are longer than the floor already: unchanged.
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'throttled', random: mid })).toBe(5 * M);
    expect(retryDelayBounds(1, 'throttled')).toEqual({ min: 60 * S, max: 72 * S });
  });

  it('honours Retry-After within [scheduled, 2 × scheduled]', () => {
    // After the 2nd failure the schedule says 5 min.
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'other', retryAfterMs: 7 * M, random: mid })).toBe(7 * M);
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'other', retryAfterMs: 1 * S, random: mid })).toBe(5 * M);
    expect(nextRetryDelay({ attemptsMade: 2, failure: 'other', retryAfterMs: 3 * H, random: mid })).toBe(10 * M);
    // A 429 after the first attempt: floor 60 s, so Retry-After 120 s is inside [60 s, 120 s].
    expect(nextRetryDelay({ attemptsMade: 1, failure: 'throttled', retryAfterMs: 120 * S, random: mid })).toBe(120 * S);
    expect(nextRetryDelay({ attemptsMade: 1, failure: 'throttled', retryAfterMs: 600 * S, random: mid })).toBe(120 * S);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120 * S);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });
  it('reads HTTP dates relative to now', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:02:00 GMT', now)).toBe(120 * S);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:01:00 GMT', now)).toBe(60 * S);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('2026-01-01', now)).toBeUndefined();
  });
});
