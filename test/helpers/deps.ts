import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { manualClock, systemClock, type Clock } from '../../src/clock.js';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import type { Deps } from '../../src/deps.js';
import { createLogger } from '../../src/logger.js';

/** Every log line a test's Herald wrote, as JSON text (for "no secret in logs" assertions). */
export const capturedLogs: string[] = [];

export function testConfig(env: Env = {}): Config {
  return loadConfig({ NODE_ENV: 'test', ALLOW_PRIVATE_TARGETS: 'true', LOG_LEVEL: 'debug', ...env });
}

export function testDeps(db: Knex, opts: { env?: Env; clock?: Clock } = {}): Deps {
  const stream = new Writable({
    write(chunk, _enc, cb) {
      capturedLogs.push(String(chunk));
      cb();
    },
  });
  const config = testConfig(opts.env);
  return {
    config,
    db,
    clock: opts.clock ?? systemClock,
    logger: createLogger({ level: config.logLevel, service: 'test', stream }),
  };
}

export { manualClock };
