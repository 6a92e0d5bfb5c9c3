import knexFactory from 'knex';
import type { Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from '../../migrations/index.js';
import type { Logger } from '../logger.js';

// bigint (count(*), identity ids) as a JS number: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export interface DbOptions {
  connectionString: string;
  ssl: false | { rejectUnauthorized: false };
  poolMax: number;
  /** Postgres `application_name`, so `pg_stat_activity` tells web from worker. */
  applicationName?: string;
  searchPath?: string;
  /** Where knex's own warnings go (it would use console.log otherwise). */
  logger?: Logger;
}

/** One knex per process, created by the entry point. (Default import: the named one crashes under plain node.) */
export function createDb(opts: DbOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: opts.connectionString,
      ssl: opts.ssl,
      application_name: opts.applicationName ?? 'herald',
    },
    searchPath: opts.searchPath ? [opts.searchPath] : undefined,
    pool: {
      min: 0,
      max: opts.poolMax,
      // Fail fast when Postgres is down so requests get a 503 instead of hanging.
      acquireTimeoutMillis: 5_000,
      createTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    },
    acquireConnectionTimeout: 5_000,
    log: {
      warn: (m: unknown) => opts.logger?.warn('knex', { detail: String(m) }),
      error: (m: unknown) => opts.logger?.error('knex', { detail: String(m) }),
      debug: () => {},
      deprecate: (m: unknown) => opts.logger?.warn('knex deprecation', { detail: String(m) }),
    },
  });
}

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, names] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return names;
}

export async function isDatabaseUp(db: Knex): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
