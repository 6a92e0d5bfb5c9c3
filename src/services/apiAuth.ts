import type { Knex } from 'knex';
import { hashApiKey } from '../apiKeys.js';
import { Batcher, perKey } from '../batching.js';
import { safeEqual } from '../crypto.js';
import { getResourcesByApiKeyHashes, type Resource } from '../db/resources.js';
import type { Deps } from '../deps.js';

/**
 * Every customer API request looks its key up, so the lookup is on the hot path: measured, a query
 * per request cost more CPU (in Node and in Postgres) than accepting the message itself. Caching
 * is out (a removed add-on's key must stop working at once, on every dyno), so concurrent lookups
 * are coalesced instead: one query for all the keys that arrive while one is running.
 */
const lookupFor = perKey(
  (db: Knex) =>
    new Batcher<string, Resource | undefined>(
      async (hashes) => {
        const found = await getResourcesByApiKeyHashes(db, hashes);
        const byHash = new Map(found.map((r) => [r.apiKeyHash, r]));
        return hashes.map((h) => byHash.get(h));
      },
      { maxInFlight: 2, maxItems: 200 },
    ),
);

/** The live resource an API key belongs to. Keys are stored as SHA-256 only; the final check is constant-time. */
export async function authenticateApiKey(deps: Deps, apiKey: string): Promise<Resource | undefined> {
  const hash = hashApiKey(apiKey);
  const resource = await lookupFor(deps.db).submit(hash);
  return resource && safeEqual(resource.apiKeyHash, hash) ? resource : undefined;
}
