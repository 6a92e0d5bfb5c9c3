import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import * as db from '../db/endpoints.js';
import type { Endpoint, EndpointFormat, EndpointPatch, PreviousSecret } from '../db/endpoints.js';
import { countRecoverableDeliveries, notifyDeliveries, requeueEndpointDeliveries } from '../db/deliveries.js';
import type { Resource } from '../db/resources.js';
import { subscriberExists } from '../db/subscribers.js';
import type { Deps } from '../deps.js';
import { invalidField, notFound, PG, pgCode, unprocessable } from '../errors.js';
import { isValidEventTypeFilter } from '../eventTypes.js';
import { getPlan } from '../plans.js';
import { generateEndpointSecret, isValidEndpointSecret } from '../signing.js';
import { checkUrlTarget, SsrfError, systemResolver, urlHost, type Resolver } from '../ssrf.js';
import { isUuid } from '../validation.js';
import { createMessage, type CreatedMessage } from './messages.js';

export const ENDPOINT_FORMATS: readonly EndpointFormat[] = ['standard', 'slack', 'discord'];
export const TIMEOUT_SECONDS = { min: 1, max: 30, default: 15 } as const;
export const MAX_HEADERS = 20;
export const MAX_EVENT_TYPE_FILTERS = 100;
/** Old secrets kept during a rotation (Svix keeps 10 as well). */
export const MAX_PREVIOUS_SECRETS = 10;

export interface EndpointInput {
  url: string;
  description?: string;
  subscriberId?: string | null;
  eventTypes?: string[];
  format?: EndpointFormat;
  active?: boolean;
  version?: string | null;
  headers?: Record<string, string>;
  timeoutSeconds?: number;
  /** A given `whsec_` key (migrating from another provider); generated otherwise. */
  secret?: string;
}

export type EndpointUpdate = Partial<Omit<EndpointInput, 'secret'>>;

// ---------------------------------------------------------------------------------------------
// URL rules

let resolverOverride: Resolver | undefined;

/**
 * Points the save-time SSRF check at another DNS resolver. For tests: "a hostname that resolves to
 * a private address" needs a resolver that says so. `undefined` restores the system resolver.
 */
export function setUrlResolver(resolver: Resolver | undefined): void {
  resolverOverride = resolver;
}

/** A DNS answer that never comes must not hold a request (and a pool slot) for a minute. */
const RESOLVE_TIMEOUT_MS = 5_000;

function resolveWithTimeout(resolver: Resolver): Resolver {
  return (host) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error('DNS timeout'), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
      resolver(host).then(
        (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
}

const DISCORD_HOSTS = ['discord.com', 'discordapp.com', 'ptb.discord.com', 'canary.discord.com'];

/** Checks what can be checked without the network; returns the normalised URL. */
export function checkEndpointUrl(config: Config, raw: string, format: EndpointFormat): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidField('url', 'is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField('url', 'must be an http:// or https:// URL');
  if (config.isProduction && url.protocol !== 'https:') throw invalidField('url', 'must be an https:// URL');
  if (format === 'slack' && !(url.protocol === 'https:' && url.hostname === 'hooks.slack.com' && url.pathname.startsWith('/services/'))) {
    throw invalidField('url', 'the slack format needs a Slack incoming-webhook URL (https://hooks.slack.com/services/...)');
  }
  if (
    format === 'discord' &&
    !(url.protocol === 'https:' && DISCORD_HOSTS.includes(url.hostname) && url.pathname.startsWith('/api/webhooks/'))
  ) {
    throw invalidField('url', 'the discord format needs a Discord webhook URL (https://discord.com/api/webhooks/...)');
  }
  return url;
}

/**
 * The save-time SSRF check: the host must resolve, and only to public addresses. (The worker checks
 * again at send time, inside the socket's lookup, because DNS can change in between.)
 */
export async function checkEndpointTarget(config: Config, url: URL): Promise<void> {
  try {
    await checkUrlTarget(url, {
      allowPrivate: config.allowPrivateTargets,
      resolve: resolveWithTimeout(resolverOverride ?? systemResolver),
    });
  } catch (err) {
    if (err instanceof SsrfError) {
      throw unprocessable(
        'url_not_allowed',
        `url: ${err.message}. Herald only delivers to public internet addresses.`,
        { field: 'url' },
      );
    }
    throw unprocessable('url_not_allowed', `url: the host ${urlHost(url)} could not be resolved. Check the URL, or retry if its DNS is new.`, {
      field: 'url',
      reason: 'unresolvable',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Other fields

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const HEADER_VALUE = /^[\t\x20-\x7e]{0,4096}$/;
/** Headers that belong to the connection or to Herald's signature and body: never overridable. */
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'content-length',
  'content-type',
  'content-encoding',
]);

export function checkHeaders(headers: Record<string, unknown>): Record<string, string> {
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) throw invalidField('headers', `at most ${MAX_HEADERS} headers`);
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) throw invalidField('headers', `"${name}" is not a valid header name`);
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('webhook-')) {
      throw invalidField('headers', `"${name}" is set by Herald or the connection and cannot be overridden`);
    }
    if (seen.has(lower)) throw invalidField('headers', `"${name}" is given twice`);
    seen.add(lower);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw invalidField('headers', `the value of "${name}" must be a string of printable ASCII, at most 4096 characters`);
    }
  }
  return headers as Record<string, string>;
}

export function checkEventTypeFilters(filters: string[]): string[] {
  if (filters.length > MAX_EVENT_TYPE_FILTERS) throw invalidField('event_types', `at most ${MAX_EVENT_TYPE_FILTERS} entries`);
  for (const f of filters) {
    if (!isValidEventTypeFilter(f)) {
      throw invalidField('event_types', `"${f}" is neither an event type name nor a wildcard group such as invoice.*`);
    }
  }
  return [...new Set(filters)];
}

function checkFormat(format: string): EndpointFormat {
  if (!(ENDPOINT_FORMATS as readonly string[]).includes(format)) throw invalidField('format', `must be one of ${ENDPOINT_FORMATS.join(', ')}`);
  return format as EndpointFormat;
}

function timeoutMs(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < TIMEOUT_SECONDS.min || seconds > TIMEOUT_SECONDS.max) {
    throw invalidField('timeout', `must be a whole number of seconds between ${TIMEOUT_SECONDS.min} and ${TIMEOUT_SECONDS.max}`);
  }
  return seconds * 1000;
}

/** A subscriber deleted between our check and the insert surfaces as a foreign key violation. */
function translateSubscriberFk(err: unknown): never {
  if (pgCode(err) === PG.foreignKeyViolation) throw notFound('Subscriber');
  throw err;
}

// ---------------------------------------------------------------------------------------------
// Use cases

export interface CreatedEndpoint {
  endpoint: Endpoint;
  secret: string;
}

export async function createEndpoint(deps: Deps, resource: Resource, input: EndpointInput): Promise<CreatedEndpoint> {
  const format = checkFormat(input.format ?? 'standard');
  const url = checkEndpointUrl(deps.config, input.url, format);
  const eventTypes = checkEventTypeFilters(input.eventTypes ?? []);
  const headers = checkHeaders(input.headers ?? {});
  const timeout = timeoutMs(input.timeoutSeconds ?? TIMEOUT_SECONDS.default);
  if (input.secret !== undefined && !isValidEndpointSecret(input.secret)) {
    throw invalidField('secret', 'must be whsec_ followed by the base64 of 24 to 64 bytes');
  }
  const subscriberId = input.subscriberId ?? null;
  if (subscriberId !== null && !isUuid(subscriberId)) throw notFound('Subscriber');
  const plan = getPlan(resource.plan);
  // DNS before the transaction: a slow resolver must not hold the resource lock.
  await checkEndpointTarget(deps.config, url);

  const secret = input.secret ?? generateEndpointSecret();
  try {
    const endpoint = await deps.db.transaction(async (trx) => {
      if (!(await db.lockResourceForEndpointChange(trx, resource.id))) throw notFound('Resource');
      if (subscriberId !== null && !(await subscriberExists(trx, resource.id, subscriberId))) throw notFound('Subscriber');
      const count = await db.countEndpoints(trx, resource.id);
      if (count >= plan.maxEndpoints) {
        throw unprocessable(
          'plan_limit_reached',
          `The ${plan.name} plan allows ${plan.maxEndpoints} endpoints and this add-on has ${count}. Delete an endpoint or upgrade the plan.`,
          { limit: plan.maxEndpoints, plan: plan.slug },
        );
      }
      return db.insertEndpoint(trx, resource.id, {
        id: randomUUID(),
        subscriberId,
        url: url.href,
        description: input.description ?? '',
        eventTypes,
        format,
        active: input.active ?? true,
        version: input.version ?? null,
        headers,
        timeoutMs: timeout,
        secret,
        createdAt: deps.clock.now(),
      });
    });
    return { endpoint, secret };
  } catch (err) {
    translateSubscriberFk(err);
  }
}

export async function listEndpoints(
  deps: Deps,
  resource: Resource,
  filter: { subscriberId?: string },
  page: { limit: number; after: string[] | undefined },
): Promise<Endpoint[]> {
  // A foreign or unknown subscriber is a 404, not an empty list: ids never probe other tenants.
  if (filter.subscriberId !== undefined) {
    if (!isUuid(filter.subscriberId) || !(await subscriberExists(deps.db, resource.id, filter.subscriberId))) {
      throw notFound('Subscriber');
    }
  }
  return db.listEndpoints(deps.db, resource.id, filter, page);
}

export async function getEndpoint(deps: Deps, resource: Resource, id: string): Promise<Endpoint> {
  const e = isUuid(id) ? await db.getEndpoint(deps.db, resource.id, id) : undefined;
  if (!e) throw notFound('Endpoint');
  return e;
}

export async function updateEndpoint(deps: Deps, resource: Resource, id: string, update: EndpointUpdate): Promise<Endpoint> {
  const current = await getEndpoint(deps, resource, id);
  const patch: EndpointPatch = {};
  if (update.format !== undefined) patch.format = checkFormat(update.format);
  if (update.url !== undefined || update.format !== undefined) {
    const url = checkEndpointUrl(deps.config, update.url ?? current.url, patch.format ?? current.format);
    if (update.url !== undefined) {
      if (url.href !== current.url) await checkEndpointTarget(deps.config, url);
      patch.url = url.href;
    }
  }
  if (update.eventTypes !== undefined) patch.eventTypes = checkEventTypeFilters(update.eventTypes);
  if (update.headers !== undefined) patch.headers = checkHeaders(update.headers);
  if (update.timeoutSeconds !== undefined) patch.timeoutMs = timeoutMs(update.timeoutSeconds);
  if (update.description !== undefined) patch.description = update.description;
  if (update.version !== undefined) patch.version = update.version;
  if (update.active !== undefined) patch.active = update.active;
  if (update.subscriberId !== undefined) {
    if (update.subscriberId !== null && (!isUuid(update.subscriberId) || !(await subscriberExists(deps.db, resource.id, update.subscriberId)))) {
      throw notFound('Subscriber');
    }
    patch.subscriberId = update.subscriberId;
  }
  let updated: Endpoint | undefined;
  try {
    updated = await db.updateEndpoint(deps.db, resource.id, current.id, patch, deps.clock.now());
  } catch (err) {
    translateSubscriberFk(err);
  }
  if (!updated) throw notFound('Endpoint');
  return updated;
}

/** Deleting an endpoint deletes its deliveries and their attempts with it. */
export async function deleteEndpoint(deps: Deps, resource: Resource, id: string): Promise<void> {
  if (!isUuid(id) || !(await db.deleteEndpoint(deps.db, resource.id, id))) throw notFound('Endpoint');
}

export async function getEndpointSecret(deps: Deps, resource: Resource, id: string): Promise<string> {
  const s = isUuid(id) ? await db.getEndpointSecrets(deps.db, resource.id, id) : undefined;
  if (!s) throw notFound('Endpoint');
  return s.secret;
}

/**
 * Replaces the signing secret. The old one keeps signing alongside the new one for
 * `secretRotationGraceHours`, so receivers can switch without dropping a message; expired keys are
 * dropped and at most MAX_PREVIOUS_SECRETS are kept.
 */
export async function rotateEndpointSecret(deps: Deps, resource: Resource, id: string, given?: string): Promise<string> {
  if (given !== undefined && !isValidEndpointSecret(given)) {
    throw invalidField('secret', 'must be whsec_ followed by the base64 of 24 to 64 bytes');
  }
  if (!isUuid(id)) throw notFound('Endpoint');
  const now = deps.clock.now();
  const secret = given ?? generateEndpointSecret();
  await deps.db.transaction(async (trx) => {
    const current = await db.getEndpointSecrets(trx, resource.id, id, { forUpdate: true });
    if (!current) throw notFound('Endpoint');
    const expiresAt = new Date(now.getTime() + deps.config.secretRotationGraceHours * 3_600_000);
    const previous: PreviousSecret[] = [{ secret: current.secret, expires_at: expiresAt.toISOString() }, ...current.previousSecrets]
      .filter((p) => Date.parse(p.expires_at) > now.getTime())
      .slice(0, MAX_PREVIOUS_SECRETS);
    await db.setEndpointSecrets(trx, resource.id, id, { secret, previousSecrets: previous }, now);
  });
  return secret;
}

function checkRecoverSince(resource: Resource, since: Date, now: Date): void {
  const plan = getPlan(resource.plan);
  if (since.getTime() > now.getTime()) throw invalidField('since', 'must not be in the future');
  const oldest = now.getTime() - plan.retentionDays * 86_400_000;
  if (since.getTime() < oldest) {
    throw invalidField('since', `must be at most ${plan.retentionDays} days ago: the ${plan.name} plan keeps deliveries that long`);
  }
}

/** What recoverEndpoint would re-queue right now, with the same checks (the dashboard's confirm step). */
export async function countRecoverable(deps: Deps, resource: Resource, id: string, since: Date): Promise<number> {
  checkRecoverSince(resource, since, deps.clock.now());
  if (!isUuid(id) || !(await db.endpointExists(deps.db, resource.id, id))) throw notFound('Endpoint');
  return countRecoverableDeliveries(deps.db, resource.id, id, since);
}

/**
 * Replays what an endpoint missed: every failed, dead or skipped delivery created since `since`
 * becomes due now, and a disabled endpoint is turned back on (the usual reason to recover).
 * `since` may reach back at most the plan's retention: older rows may already be gone.
 */
export async function recoverEndpoint(deps: Deps, resource: Resource, id: string, since: Date): Promise<number> {
  const now = deps.clock.now();
  checkRecoverSince(resource, since, now);
  if (!isUuid(id)) throw notFound('Endpoint');
  return deps.db.transaction(async (trx) => {
    if (!(await db.endpointExists(trx, resource.id, id))) throw notFound('Endpoint');
    const requeued = await requeueEndpointDeliveries(trx, resource.id, id, since, now);
    await db.reactivateEndpoint(trx, resource.id, id, now);
    if (requeued > 0) await notifyDeliveries(trx);
    return requeued;
  });
}

export const TEST_EVENT_TYPE = 'herald.test';

/** Sends a `herald.test` message to this endpoint only, whatever its event type filter. */
export async function sendTestEvent(deps: Deps, resource: Resource, id: string): Promise<CreatedMessage> {
  if (!isUuid(id)) throw notFound('Endpoint');
  return createMessage(
    deps,
    resource,
    { eventType: TEST_EVENT_TYPE, data: { message: 'This is a test event from Herald', endpoint_id: id }, endpointId: id },
    { source: 'test' },
  );
}
