/** The process edge for time: production uses the system clock, tests inject their own. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests move by hand: no sleeps. */
export function manualClock(start: Date | string | number = Date.now()): Clock & {
  set(t: Date | string | number): void;
  advance(ms: number): void;
} {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (v) => {
      t = new Date(v).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}
