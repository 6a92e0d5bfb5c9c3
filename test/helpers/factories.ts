import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { deriveApiKey, hashApiKey } from '../../src/apiKeys.js';
import { generateEndpointSecret } from '../../src/signing.js';

/**
 * Row factories with overrides: each inserts one row straight into Postgres and returns what a
 * test needs to refer to it. Defaults are valid and independent (fresh uuids everywhere).
 */

/** The development default of API_KEY_SECRET (what testConfig() uses unless a test overrides it). */
export const TEST_API_KEY_SECRET = 'herald-development-api-key-secret-not-for-production';

export interface ResourceFixture {
  id: string;
  plan: string;
  state: 'provisioned' | 'deprovisioned';
  /** The resource's HERALD_API_KEY under `apiKeySecret` (TEST_API_KEY_SECRET unless given). */
  apiKey: string;
}

export async function createResource(
  db: Knex,
  overrides: { id?: string; plan?: string; state?: 'provisioned' | 'deprovisioned'; apiKeySecret?: string; name?: string } = {},
): Promise<ResourceFixture> {
  const id = overrides.id ?? randomUUID();
  const plan = overrides.plan ?? 'basic';
  const state = overrides.state ?? 'provisioned';
  const apiKey = deriveApiKey(overrides.apiKeySecret ?? TEST_API_KEY_SECRET, id, 1);
  await db('resources').insert({
    id,
    plan,
    region: 'us',
    state,
    name: overrides.name ?? `herald-test-${id.slice(0, 8)}`,
    heroku_id: `app${randomBytes(4).toString('hex')}@heroku.com`,
    api_key_hash: hashApiKey(apiKey),
    deprovisioned_at: state === 'deprovisioned' ? new Date() : null,
  });
  return { id, plan, state, apiKey };
}

export interface EndpointFixture {
  id: string;
  resourceId: string;
  url: string;
  secret: string;
}

export async function createEndpoint(
  db: Knex,
  resourceId: string,
  overrides: {
    id?: string;
    url?: string;
    format?: 'standard' | 'slack' | 'discord';
    active?: boolean;
    disabledReason?: string | null;
    headers?: Record<string, string>;
    timeoutMs?: number;
    secret?: string;
    previousSecrets?: Array<{ secret: string; expires_at: string }>;
    eventTypes?: string[];
    subscriberId?: string | null;
    version?: string | null;
    failingSince?: Date | null;
    lastFailureAt?: Date | null;
  } = {},
): Promise<EndpointFixture> {
  const id = overrides.id ?? randomUUID();
  const url = overrides.url ?? 'http://127.0.0.1:9/webhook';
  const secret = overrides.secret ?? generateEndpointSecret();
  await db('endpoints').insert({
    id,
    resource_id: resourceId,
    subscriber_id: overrides.subscriberId ?? null,
    url,
    format: overrides.format ?? 'standard',
    active: overrides.active ?? true,
    disabled_reason: overrides.disabledReason ?? null,
    event_types: overrides.eventTypes ?? [],
    version: overrides.version ?? null,
    headers: JSON.stringify(overrides.headers ?? {}),
    timeout_ms: overrides.timeoutMs ?? 15_000,
    secret,
    previous_secrets: JSON.stringify(overrides.previousSecrets ?? []),
    failing_since: overrides.failingSince ?? null,
    last_failure_at: overrides.lastFailureAt ?? null,
  });
  return { id, resourceId, url, secret };
}

export async function createSubscriber(db: Knex, resourceId: string, overrides: { id?: string; name?: string; externalId?: string | null } = {}) {
  const id = overrides.id ?? randomUUID();
  await db('subscribers').insert({ id, resource_id: resourceId, name: overrides.name ?? 'Subscriber', external_id: overrides.externalId ?? null });
  return { id, resourceId };
}

export interface MessageFixture {
  id: string;
  resourceId: string;
  eventType: string;
  payload: string;
  createdAt: Date;
}

export async function createMessage(
  db: Knex,
  resourceId: string,
  overrides: { id?: string; eventType?: string; payload?: unknown; payloadText?: string; version?: string | null; eventId?: string | null; createdAt?: Date; source?: 'api' | 'heroku' | 'test' } = {},
): Promise<MessageFixture> {
  const id = overrides.id ?? randomUUID();
  const eventType = overrides.eventType ?? 'invoice.paid';
  const payload = overrides.payloadText ?? JSON.stringify(overrides.payload ?? { invoice: 'in_123', amount: 4200 });
  const createdAt = overrides.createdAt ?? new Date();
  await db('messages').insert({
    id,
    resource_id: resourceId,
    event_type: eventType,
    event_id: overrides.eventId ?? null,
    version: overrides.version ?? null,
    payload,
    source: overrides.source ?? 'api',
    created_at: createdAt,
  });
  return { id, resourceId, eventType, payload, createdAt };
}

/**
 * The default next_attempt_at: a minute ago, so a delivery is due for a manual clock a test
 * created (from Date.now()) shortly before making its rows.
 */
const dueSince = () => new Date(Date.now() - 60_000);

export interface DeliveryFixture {
  id: string;
  messageId: string;
  endpointId: string;
  resourceId: string;
}

export async function createDelivery(
  db: Knex,
  refs: { resourceId: string; messageId: string; endpointId: string },
  overrides: {
    id?: string;
    status?: 'pending' | 'succeeded' | 'failed' | 'dead' | 'skipped';
    attemptCount?: number;
    nextAttemptAt?: Date | null;
    createdAt?: Date;
    lockedUntil?: Date | null;
    lockedBy?: string | null;
  } = {},
): Promise<DeliveryFixture> {
  const id = overrides.id ?? randomUUID();
  await db('deliveries').insert({
    id,
    resource_id: refs.resourceId,
    message_id: refs.messageId,
    endpoint_id: refs.endpointId,
    status: overrides.status ?? 'pending',
    attempt_count: overrides.attemptCount ?? 0,
    next_attempt_at: overrides.nextAttemptAt === undefined ? dueSince() : overrides.nextAttemptAt,
    locked_until: overrides.lockedUntil ?? null,
    locked_by: overrides.lockedBy ?? null,
    created_at: overrides.createdAt ?? new Date(),
  });
  return { id, ...refs };
}

/**
 * Many messages with one delivery each to `endpointId`, inserted with two multi-row statements
 * (thousands per second): for load, concurrency and crash tests.
 */
export async function createManyDeliveries(
  db: Knex,
  refs: { resourceId: string; endpointId: string },
  count: number,
  opts: { nextAttemptAt?: Date; eventType?: string; payload?: unknown } = {},
): Promise<Array<{ deliveryId: string; messageId: string }>> {
  const out: Array<{ deliveryId: string; messageId: string }> = [];
  const payload = JSON.stringify(opts.payload ?? { n: 0 });
  const now = opts.nextAttemptAt ?? dueSince();
  for (let start = 0; start < count; start += 1000) {
    const n = Math.min(1000, count - start);
    const messages = [];
    const deliveries = [];
    for (let i = 0; i < n; i++) {
      const messageId = randomUUID();
      const deliveryId = randomUUID();
      out.push({ deliveryId, messageId });
      messages.push({ id: messageId, resource_id: refs.resourceId, event_type: opts.eventType ?? 'load.test', payload, created_at: now });
      deliveries.push({
        id: deliveryId,
        resource_id: refs.resourceId,
        message_id: messageId,
        endpoint_id: refs.endpointId,
        status: 'pending',
        next_attempt_at: now,
        created_at: now,
      });
    }
    await db('messages').insert(messages);
    await db('deliveries').insert(deliveries);
  }
  return out;
}

/** Resource, endpoint, message and one due delivery in one call: the usual starting point. */
export async function createDeliveryGraph(
  db: Knex,
  opts: {
    resource?: Parameters<typeof createResource>[1];
    endpoint?: Parameters<typeof createEndpoint>[2];
    message?: Parameters<typeof createMessage>[2];
    delivery?: Parameters<typeof createDelivery>[2];
  } = {},
) {
  const resource = await createResource(db, opts.resource);
  const endpoint = await createEndpoint(db, resource.id, opts.endpoint);
  const message = await createMessage(db, resource.id, opts.message);
  const delivery = await createDelivery(db, { resourceId: resource.id, messageId: message.id, endpointId: endpoint.id }, opts.delivery);
  return { resource, endpoint, message, delivery };
}

/** One failed attempt row for each delivery row given (as selected from `deliveries`). */
export async function createAttemptsFor(
  db: Knex,
  deliveries: ReadonlyArray<{ id: string; resource_id: string; message_id: string; endpoint_id: string }>,
): Promise<void> {
  for (const d of deliveries) {
    await db('attempts').insert({
      delivery_id: d.id,
      resource_id: d.resource_id,
      message_id: d.message_id,
      endpoint_id: d.endpoint_id,
      attempt_number: 1,
      attempted_at: new Date(),
      url: 'http://127.0.0.1:9/',
      duration_ms: 1,
      outcome: 'failed',
    });
  }
}

/** A resource's messages counted in usage_counters (the sum of its shards), in one period or all. */
export async function usageOf(db: Knex, resourceId: string, period?: string): Promise<number> {
  const [row] = await db('usage_counters')
    .where({ resource_id: resourceId, ...(period ? { period } : {}) })
    .sum({ n: 'messages' });
  return Number(row?.n ?? 0);
}
