// Plain JavaScript: jest loads global setup/teardown outside its transform pipeline.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const STALE_AFTER_SECONDS = 3 * 3600;

/**
 * Each jest run gets its own run id (`<unix seconds>_<random>`), inherited by the test workers
 * through the environment: its template and per-file databases carry it, so parallel runs on one
 * server never drop each other's databases. A run drops its own at the end, and databases of runs
 * older than three hours (a crashed run's leftovers) at the start.
 */
export default async function dropTestDatabases() {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const own = process.env.HERALD_TEST_RUN;
    if (!own) process.env.HERALD_TEST_RUN = `${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}`;
    const { rows } = await client.query(`select datname from pg_database where datname like 'herald\\_t%'`);
    const now = Math.floor(Date.now() / 1000);
    for (const { datname } of rows) {
      const match = /^herald_t(?:pl)?_(\d+)_([0-9a-f]+)/.exec(datname);
      const mine = own !== undefined && datname.includes(`_${own}`);
      const stale = match !== null && now - Number(match[1]) > STALE_AFTER_SECONDS;
      if (mine || stale) await client.query(`drop database if exists "${datname}" with (force)`);
    }
  } finally {
    await client.end();
  }
}
