import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import { deriveApiKey, hashApiKey } from '../../src/apiKeys.js';
import type { Config } from '../../src/config.js';

/** Shared set-up of the customer API tests (not a test file itself). */
export interface Tenant {
  id: string;
  apiKey: string;
  plan: string;
}

/** Inserts a provisioned resource and returns its derived HERALD_API_KEY. */
export async function createTenant(db: Knex, config: Config, opts: { plan?: string; state?: 'provisioned' | 'deprovisioned' } = {}): Promise<Tenant> {
  const id = randomUUID();
  const plan = opts.plan ?? 'basic';
  const apiKey = deriveApiKey(config.apiKeySecret, id, 1);
  await db('resources').insert({
    id,
    plan,
    region: 'us',
    state: opts.state ?? 'provisioned',
    api_key_hash: hashApiKey(apiKey),
    deprovisioned_at: opts.state === 'deprovisioned' ? new Date() : null,
  });
  return { id, apiKey, plan };
}

/** supertest bound to one tenant's key. */
export function apiClient(app: Express, apiKey: string) {
  const auth = `Bearer ${apiKey}`;
  return {
    get: (path: string) => request(app).get(path).set('Authorization', auth),
    post: (path: string, body?: object) => {
      const r = request(app).post(path).set('Authorization', auth);
      return body === undefined ? r : r.send(body);
    },
    patch: (path: string, body: object) => request(app).patch(path).set('Authorization', auth).send(body),
    delete: (path: string) => request(app).delete(path).set('Authorization', auth),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
