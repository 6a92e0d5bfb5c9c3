import type { Knex } from 'knex';

export type ResourceState = 'provisioned' | 'deprovisioned';

export interface Resource {
  id: string;
  plan: string;
  region: string;
  state: ResourceState;
  name: string | null;
  herokuId: string | null;
  callbackUrl: string | null;
  options: Record<string, unknown>;
  appName: string | null;
  ownerEmail: string | null;
  apiKeyHash: string;
  keyGeneration: number;
  createdAt: Date;
  updatedAt: Date;
  deprovisionedAt: Date | null;
}

interface ResourceRow {
  id: string;
  plan: string;
  region: string;
  state: ResourceState;
  name: string | null;
  heroku_id: string | null;
  callback_url: string | null;
  options: Record<string, unknown>;
  app_name: string | null;
  owner_email: string | null;
  api_key_hash: string;
  key_generation: number;
  created_at: Date;
  updated_at: Date;
  deprovisioned_at: Date | null;
}

export function toResource(row: ResourceRow): Resource {
  return {
    id: row.id,
    plan: row.plan,
    region: row.region,
    state: row.state,
    name: row.name,
    herokuId: row.heroku_id,
    callbackUrl: row.callback_url,
    options: row.options,
    appName: row.app_name,
    ownerEmail: row.owner_email,
    apiKeyHash: row.api_key_hash,
    keyGeneration: row.key_generation,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deprovisionedAt: row.deprovisioned_at,
  };
}

export async function getResource(db: Knex, id: string): Promise<Resource | undefined> {
  const row = await db<ResourceRow>('resources').where({ id }).first();
  return row ? toResource(row) : undefined;
}

/** The live resource an API key belongs to (deprovisioned resources have no valid key). */
export async function getResourceByApiKeyHash(db: Knex, apiKeyHash: string): Promise<Resource | undefined> {
  const row = await db<ResourceRow>('resources').where({ api_key_hash: apiKeyHash, state: 'provisioned' }).first();
  return row ? toResource(row) : undefined;
}

export interface NewResource {
  id: string;
  plan: string;
  region: string;
  name: string | null;
  herokuId: string | null;
  callbackUrl: string | null;
  options: Record<string, unknown>;
  apiKeyHash: string;
  keyGeneration: number;
}

/**
 * Inserts the resource unless its id is already taken, in one statement: Heroku retries provision
 * calls (and kensa fires them in parallel), and the primary key, not a check-then-insert, is what
 * keeps it to one row. Returns undefined when the row already existed.
 */
export async function insertResourceIfAbsent(db: Knex, r: NewResource): Promise<Resource | undefined> {
  const rows = await db<ResourceRow>('resources')
    .insert({
      id: r.id,
      plan: r.plan,
      region: r.region,
      name: r.name,
      heroku_id: r.herokuId,
      callback_url: r.callbackUrl,
      options: r.options,
      api_key_hash: r.apiKeyHash,
      key_generation: r.keyGeneration,
    })
    .onConflict('id')
    .ignore()
    .returning('*');
  return rows[0] ? toResource(rows[0] as ResourceRow) : undefined;
}

/** Locks the row until the transaction ends: a plan change must not race endpoint creation. */
export async function getResourceForUpdate(db: Knex, id: string): Promise<Resource | undefined> {
  const row = await db<ResourceRow>('resources').where({ id }).forUpdate().first();
  return row ? toResource(row) : undefined;
}

export async function updateResourcePlan(db: Knex, id: string, plan: string): Promise<void> {
  await db('resources').where({ id }).update({ plan, updated_at: db.fn.now() });
}

/**
 * One UPDATE, so Heroku's DELETE returns at once whatever the resource holds; the worker purges the
 * data later. The row stays as a tombstone. False when there was no live resource with that id.
 */
export async function markResourceDeprovisioned(db: Knex, id: string): Promise<boolean> {
  const count = await db('resources')
    .where({ id, state: 'provisioned' })
    .update({ state: 'deprovisioned', deprovisioned_at: db.fn.now(), updated_at: db.fn.now() });
  return count > 0;
}

/** Records who last signed in through Heroku, on a live resource only; undefined otherwise. */
export async function recordSsoLogin(
  db: Knex,
  id: string,
  who: { appName: string | null; ownerEmail: string | null },
): Promise<Resource | undefined> {
  const changes: Record<string, unknown> = { updated_at: db.fn.now() };
  if (who.appName) changes.app_name = who.appName;
  if (who.ownerEmail) changes.owner_email = who.ownerEmail;
  const rows = await db<ResourceRow>('resources').where({ id, state: 'provisioned' }).update(changes).returning('*');
  return rows[0] ? toResource(rows[0] as ResourceRow) : undefined;
}

export interface ResourceUsage {
  endpoints: number;
  /** Messages accepted in `period` (the sum of its usage_counters rows; 0 when none yet). */
  messages: number;
}

/** What counts against the plan: endpoints now, and messages in the month starting at `period` (YYYY-MM-01). */
export async function getResourceUsage(db: Knex, id: string, period: string): Promise<ResourceUsage> {
  const { rows } = await db.raw<{ rows: Array<{ endpoints: number; messages: number }> }>(
    `select (select count(*) from endpoints where resource_id = :id) as endpoints,
            coalesce((select sum(messages) from usage_counters where resource_id = :id and period = :period), 0)::bigint as messages`,
    { id, period },
  );
  const row = rows[0];
  return { endpoints: Number(row?.endpoints ?? 0), messages: Number(row?.messages ?? 0) };
}

/**
 * The live resources of several API keys in one query: the customer API coalesces the key lookups
 * of concurrent requests (src/services/apiAuth.ts) instead of paying a round trip each.
 */
export async function getResourcesByApiKeyHashes(db: Knex, apiKeyHashes: readonly string[]): Promise<Resource[]> {
  // One text whatever the number of keys, prepared once per connection: `whereIn` made a new
  // statement (and a new plan) for every group size.
  const { rows } = await db
    .raw<{ rows: ResourceRow[] }>(`select * from resources where api_key_hash = any(?::text[]) and state = 'provisioned'`, [[...apiKeyHashes]])
    .options({ name: 'herald_resources_by_api_key' });
  return rows.map(toResource);
}
