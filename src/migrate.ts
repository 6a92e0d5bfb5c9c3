import type { Knex } from 'knex';
import pRetry from 'p-retry';
import { loadConfig } from './config.js';
import { createDb, migrateLatest } from './db/knex.js';
import { createLogger, type Logger } from './logger.js';

/**
 * Brings the schema up to date. Only reaching the database is retried (in a release phase or a fresh
 * `npm start` it may still be booting); a failing migration is not, since running it again would
 * fail the same way and hide the first error.
 */
export async function migrate(db: Knex, logger: Logger, opts: { retries?: number; minTimeoutMs?: number } = {}): Promise<string[]> {
  const probe = async () => {
    try {
      await db.raw('select 1');
    } catch (err) {
      // p-retry retries Error instances only; under jest's VM, errors from node's own sockets belong to
      // another realm and would fail that check, so they are re-wrapped here.
      throw err instanceof Error ? err : new Error((err as { message?: string }).message ?? String(err), { cause: err });
    }
  };
  await pRetry(probe, {
    retries: opts.retries ?? 5,
    minTimeout: opts.minTimeoutMs ?? 1000,
    factor: 2,
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      logger.warn('database not reachable yet', { attempt: attemptNumber, retriesLeft, error: error.message });
    },
  });
  const started = Date.now();
  const ran = await migrateLatest(db);
  logger.info(ran.length ? 'migrations ran' : 'schema already up to date', { migrations: ran, ms: Date.now() - started });
  return ran;
}

/** Heroku's release phase: `release: node dist/src/migrate.js`. A non-zero exit stops the deploy. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'release' });
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set: attach Heroku Postgres, or use `npm start` for the embedded development database');
  const db = createDb({
    connectionString: config.databaseUrl,
    ssl: config.databaseSsl,
    poolMax: 1,
    applicationName: 'herald-release',
    logger,
  });
  try {
    await migrate(db, logger);
  } catch (err) {
    logger.error('migration failed', { error: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    await db.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
