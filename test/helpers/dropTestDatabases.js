// Plain JavaScript: jest loads global setup/teardown outside its transform pipeline.
import pg from 'pg';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Drops the template and every per-file database a previous run may have left behind. */
export default async function dropTestDatabases() {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select datname from pg_database where datname like 'herald_t\\_%' or datname = 'herald_test_template'`,
    );
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
  } finally {
    await client.end();
  }
}
