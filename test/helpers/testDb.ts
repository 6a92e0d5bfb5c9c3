import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDb, migrateLatest } from '../../src/db/knex.js';
import { TEMPLATE_DB, TEST_DB_PREFIX, urlFor, withAdmin } from './pg.js';

export interface TestDb {
  db: Knex;
  url: string;
  name: string;
  destroy(): Promise<void>;
}

/**
 * The first test file to get here migrates a template database (under an advisory lock, since
 * jest runs files in parallel); every file then copies it with CREATE DATABASE … TEMPLATE, which
 * takes tens of milliseconds instead of re-running migrations. Global setup drops it per run.
 */
async function ensureTemplate(): Promise<void> {
  await withAdmin(async (client) => {
    await client.query('select pg_advisory_lock(724011)');
    try {
      const exists = await client.query('select 1 from pg_database where datname = $1', [TEMPLATE_DB]);
      if (exists.rowCount) return;
      await client.query(`create database "${TEMPLATE_DB}"`);
      const db = createDb({ connectionString: urlFor(TEMPLATE_DB), ssl: false, poolMax: 1 });
      try {
        await migrateLatest(db);
      } finally {
        await db.destroy();
      }
    } finally {
      await client.query('select pg_advisory_unlock(724011)');
    }
  });
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDb(opts: { poolMax?: number } = {}): Promise<TestDb> {
  await ensureTemplate();
  const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database "${name}" template "${TEMPLATE_DB}"`));
  const url = urlFor(name);
  const db = createDb({ connectionString: url, ssl: false, poolMax: opts.poolMax ?? 10, applicationName: 'herald-test' });
  return {
    db,
    url,
    name,
    async destroy() {
      await db.destroy();
      await withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}
