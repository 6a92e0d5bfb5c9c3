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
