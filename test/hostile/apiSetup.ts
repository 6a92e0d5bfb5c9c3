import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import fc from 'fast-check';
import { deriveApiKey, hashApiKey } from '../../src/apiKeys.js';
import type { Config } from '../../src/config.js';
import type { Resolver } from '../../src/ssrf.js';
import { generateEndpointSecret } from '../../src/signing.js';

/** Shared set-up of the hostile /v1 tests (not a test file itself). */

/** A fake DNS: `*.private.test` and `localhost` are private, every other name a public address. */
export const fakeDns: Resolver = async (host) => {
  if (host === 'localhost' || host.endsWith('private.test')) return [{ address: '127.0.0.1', family: 4 }];
  if (host.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return [{ address: '93.184.216.34', family: 4 }];
};

export interface Fixture {
  resourceId: string;
  apiKey: string;
  subscriberId: string;
  endpointId: string;
  messageId: string;
  deliveryId: string;
}

/** A provisioned resource with one of everything, inserted straight into Postgres. */
export async function fixture(db: Knex, config: Config, plan = 'basic'): Promise<Fixture> {
  const resourceId = randomUUID();
  const apiKey = deriveApiKey(config.apiKeySecret, resourceId, 1);
  await db('resources').insert({ id: resourceId, plan, region: 'us', api_key_hash: hashApiKey(apiKey) });
  const subscriberId = randomUUID();
  await db('subscribers').insert({ id: subscriberId, resource_id: resourceId, name: 'Acme' });
  const endpointId = randomUUID();
  await db('endpoints').insert({
    id: endpointId,
    resource_id: resourceId,
    subscriber_id: subscriberId,
    url: 'http://93.184.216.34/hook',
    secret: generateEndpointSecret(),
  });
  const messageId = randomUUID();
  await db('messages').insert({ id: messageId, resource_id: resourceId, event_type: 'invoice.paid', payload: '{"a":1}' });
  const deliveryId = randomUUID();
  await db('deliveries').insert({
    id: deliveryId,
    resource_id: resourceId,
    message_id: messageId,
    endpoint_id: endpointId,
    status: 'dead',
    attempt_count: 3,
  });
  return { resourceId, apiKey, subscriberId, endpointId, messageId, deliveryId };
}

// Valid values per field, so hostile ones are mixed with bodies that get past the first check.

export const eventTypeName = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9_-]{1,8}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'))
  .filter((n) => !n.startsWith('heroku.') && !n.startsWith('herald.'));

export const endpointUrl = fc.constantFrom(
  'http://93.184.216.34/hook',
  'https://public.example/webhooks?x=1',
  'https://hooks.slack.com/services/T000/B000/XXXX',
  'https://discord.com/api/webhooks/1/abc',
  'http://hook.private.test/',
  'http://nowhere.invalid/',
  'http://127.0.0.1/',
  'ftp://public.example/',
  'javascript:alert(1)',
  'http://user:pass@public.example/',
  'http://[::1]/',
  'http://0x7f.1/',
);

export const headerSet = fc.dictionary(fc.stringMatching(/^X-[A-Za-z0-9-]{1,10}$/), fc.stringMatching(/^[ -~]{0,20}$/), { maxKeys: 3 });

export const isoTime = fc.constantFrom(
  '2026-11-15T11:00:00Z',
  '2026-11-14',
  '2026-11-15T13:00:00Z',
  '2020-01-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '2026-11-15T11:00:00+25:00',
  '2026-11-15T24:61:61Z',
);
