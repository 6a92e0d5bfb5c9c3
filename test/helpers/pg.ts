import pg from 'pg';

/** The server tests run on: this machine's Postgres unless TEST_DATABASE_URL says otherwise. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Set by jest's global setup; a file run outside jest's setup gets an id of its own. */
const RUN = process.env.HERALD_TEST_RUN ?? `${Math.floor(Date.now() / 1000)}_${process.pid.toString(16)}`;
export const TEMPLATE_DB = `herald_tpl_${RUN}`;
export const TEST_DB_PREFIX = `herald_t_${RUN}_`;

export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
