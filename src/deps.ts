import type { Knex } from 'knex';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/** What every use case and router is given. Built once by an entry point (or a test). */
export interface Deps {
  readonly config: Config;
  readonly db: Knex;
  readonly logger: Logger;
  readonly clock: Clock;
}
