import { getEndpointSecrets, listEndpoints as listEndpointRows, type Endpoint } from '../db/endpoints.js';
import type { Delivery } from '../db/deliveries.js';
import type { MessageFilter, Message } from '../db/messages.js';
import { getResource, type Resource } from '../db/resources.js';
import { getSubscriber as getSubscriberRow, type Subscriber } from '../db/subscribers.js';
import type { Deps } from '../deps.js';
import { hmacSha256, safeEqual } from '../crypto.js';
import { invalidField, notFound } from '../errors.js';
import { isUuid } from '../validation.js';
import * as deliveries from './deliveries.js';
import * as endpoints from './endpoints.js';
import * as messages from './messages.js';
import { getSubscriber } from './subscribers.js';

/**
 * The subscriber portal: signed, expiring links, and the rules of what a portal session may
 * touch. A "scope" is what a browser session may see: the whole resource (the add-on owner's
 * dashboard) or one subscriber of it (a portal). Every page goes through the functions below,
 * which call the same services as the API and, for a subscriber, first check that the row is
 * theirs: anything else is a 404, exactly like an id of another resource.
 */

export interface Scope {
  resource: Resource;
  /** null: the whole resource. */
  subscriberId: string | null;
}

// ---------------------------------------------------------------------------------------------
// Links

export const PORTAL_LINK_TTL = { default: 24 * 3600, min: 60, max: 7 * 24 * 3600 } as const;

export interface PortalLink {
  url: string;
  expiresAt: Date;
}

interface LinkClaims {
  /** resource id */
  r: string;
  /** subscriber id */
  s: string;
  /** expiry, unix seconds */
  exp: number;
}

// A key of its own (derived from SESSION_SECRET), so a portal token can never pass for a session
// cookie or a CSRF token, which are signed for other purposes.
const linkKey = (secret: string): Buffer => hmacSha256(secret, 'herald portal link v1');
const signLink = (secret: string, data: string): string => hmacSha256(linkKey(secret), data).toString('base64url');

/**
 * A link that opens the portal of one subscriber until it expires (`expiresIn` seconds, default
 * 24 h, at most 7 days). Stateless: it is a signed claim, so nothing is stored; deleting the
 * subscriber (or deprovisioning) ends every link and portal session at once.
 */
export async function createPortalLink(deps: Deps, resource: Resource, subscriberId: string, expiresIn?: number): Promise<PortalLink> {
  const ttl = expiresIn ?? PORTAL_LINK_TTL.default;
  if (!Number.isInteger(ttl) || ttl < PORTAL_LINK_TTL.min || ttl > PORTAL_LINK_TTL.max) {
    throw invalidField('expires_in', `must be a whole number of seconds between ${PORTAL_LINK_TTL.min} and ${PORTAL_LINK_TTL.max} (7 days)`);
  }
  const subscriber = await getSubscriber(deps, resource, subscriberId);
  const expiresAt = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000 + ttl * 1000);
  const claims: LinkClaims = { r: resource.id, s: subscriber.id, exp: expiresAt.getTime() / 1000 };
  const data = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const token = `${data}.${signLink(deps.config.sessionSecret, data)}`;
  deps.logger.info('portal link created', { resourceId: resource.id, subscriberId: subscriber.id, expiresAt: expiresAt.toISOString() });
  return { url: `${deps.config.publicUrl}/portal/open?token=${token}`, expiresAt };
}

export type PortalLinkRefusal = 'invalid' | 'expired' | 'gone';

export type OpenedPortalLink =
  | { ok: true; resource: Resource; subscriber: Subscriber; expiresAt: Date }
  | { ok: false; reason: PortalLinkRefusal };

/** Checks a link's token: signature, expiry, and that its resource and subscriber still exist. */
export async function openPortalLink(deps: Deps, token: string): Promise<OpenedPortalLink> {
  const dot = token.indexOf('.');
  if (token.length > 1000 || dot <= 0) return { ok: false, reason: 'invalid' };
  const data = token.slice(0, dot);
  if (!safeEqual(token.slice(dot + 1), signLink(deps.config.sessionSecret, data))) return { ok: false, reason: 'invalid' };
  let claims: LinkClaims;
  try {
    claims = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as LinkClaims;
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!isUuid(claims.r) || !isUuid(claims.s) || !Number.isInteger(claims.exp)) return { ok: false, reason: 'invalid' };
  if (claims.exp * 1000 <= deps.clock.now().getTime()) return { ok: false, reason: 'expired' };
  const resource = await getResource(deps.db, claims.r);
  if (!resource || resource.state !== 'provisioned') return { ok: false, reason: 'gone' };
  const subscriber = await getSubscriberRow(deps.db, resource.id, claims.s);
  if (!subscriber) return { ok: false, reason: 'gone' };
  return { ok: true, resource, subscriber, expiresAt: new Date(claims.exp * 1000) };
}

/** The subscriber of a portal session, if it still exists (checked on every portal request). */
export async function portalSubscriber(deps: Deps, resource: Resource, subscriberId: string): Promise<Subscriber | undefined> {
  return isUuid(subscriberId) ? getSubscriberRow(deps.db, resource.id, subscriberId) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Scoped access: the dashboard passes subscriberId null and gets the services unchanged.

/** The endpoint if the scope may see it; a 404 otherwise (whoever owns it). */
export async function scopedEndpoint(deps: Deps, scope: Scope, id: string): Promise<Endpoint> {
  const endpoint = await endpoints.getEndpoint(deps, scope.resource, id);
  if (scope.subscriberId !== null && endpoint.subscriberId !== scope.subscriberId) throw notFound('Endpoint');
  return endpoint;
}

export function listScopedEndpoints(
  deps: Deps,
  scope: Scope,
  page: { limit: number; after: string[] | undefined },
  filter: { subscriberId?: string } = {},
): Promise<Endpoint[]> {
  const subscriberId = scope.subscriberId ?? filter.subscriberId;
  return endpoints.listEndpoints(deps, scope.resource, subscriberId === undefined ? {} : { subscriberId }, page);
}

/** A portal's endpoints always belong to its subscriber, whatever the form said. */
export function createScopedEndpoint(deps: Deps, scope: Scope, input: endpoints.EndpointInput): Promise<endpoints.CreatedEndpoint> {
  return endpoints.createEndpoint(deps, scope.resource, scope.subscriberId === null ? input : { ...input, subscriberId: scope.subscriberId });
}

export async function updateScopedEndpoint(deps: Deps, scope: Scope, id: string, update: endpoints.EndpointUpdate): Promise<Endpoint> {
  await scopedEndpoint(deps, scope, id);
  if (scope.subscriberId !== null && update.subscriberId !== undefined && update.subscriberId !== scope.subscriberId) {
    throw invalidField('subscriber_id', 'an endpoint in the portal stays with its subscriber');
  }
  return endpoints.updateEndpoint(deps, scope.resource, id, update);
}

export async function deleteScopedEndpoint(deps: Deps, scope: Scope, id: string): Promise<void> {
  await scopedEndpoint(deps, scope, id);
  await endpoints.deleteEndpoint(deps, scope.resource, id);
}

export async function scopedEndpointSecret(deps: Deps, scope: Scope, id: string): Promise<string> {
  await scopedEndpoint(deps, scope, id);
  return endpoints.getEndpointSecret(deps, scope.resource, id);
}

/** How many signing secrets are still accepted besides the current one (rotation grace). */
export async function previousSecretCount(deps: Deps, scope: Scope, id: string): Promise<number> {
  await scopedEndpoint(deps, scope, id);
  const s = await getEndpointSecrets(deps.db, scope.resource.id, id);
  const now = deps.clock.now().getTime();
  return (s?.previousSecrets ?? []).filter((p) => Date.parse(p.expires_at) > now).length;
}

export async function rotateScopedEndpointSecret(deps: Deps, scope: Scope, id: string): Promise<string> {
  await scopedEndpoint(deps, scope, id);
  return endpoints.rotateEndpointSecret(deps, scope.resource, id);
}

export async function countScopedRecoverable(deps: Deps, scope: Scope, id: string, since: Date): Promise<number> {
  await scopedEndpoint(deps, scope, id);
  return endpoints.countRecoverable(deps, scope.resource, id, since);
}

export async function recoverScopedEndpoint(deps: Deps, scope: Scope, id: string, since: Date): Promise<number> {
  await scopedEndpoint(deps, scope, id);
  return endpoints.recoverEndpoint(deps, scope.resource, id, since);
}

export async function sendScopedTestEvent(deps: Deps, scope: Scope, id: string): Promise<messages.CreatedMessage> {
  await scopedEndpoint(deps, scope, id);
  return endpoints.sendTestEvent(deps, scope.resource, id);
}

export function listScopedMessages(
  deps: Deps,
  scope: Scope,
  filter: MessageFilter,
  page: { limit: number; after: string[] | undefined },
): Promise<Message[]> {
  return messages.listMessages(deps, scope.resource, scope.subscriberId === null ? filter : { ...filter, subscriberId: scope.subscriberId }, page);
}

/**
 * A message with its deliveries and attempts; in a portal only the deliveries to the subscriber's
 * endpoints, and a 404 when there are none (the message was never theirs).
 */
export async function scopedMessageDetail(deps: Deps, scope: Scope, id: string): Promise<messages.MessageDetail> {
  const detail = await messages.getMessageDetail(deps, scope.resource, id);
  if (scope.subscriberId === null) return detail;
  const own = new Set((await subscriberEndpoints(deps, scope)).map((e) => e.id));
  const visible = detail.deliveries.filter((d) => own.has(d.delivery.endpointId));
  if (visible.length === 0) throw notFound('Message');
  return { message: detail.message, deliveries: visible };
}

export async function retryScopedDelivery(deps: Deps, scope: Scope, id: string): Promise<Delivery> {
  if (scope.subscriberId !== null) {
    const { delivery } = await deliveries.getDeliveryDetail(deps, scope.resource, id);
    await scopedEndpoint(deps, scope, delivery.endpointId).catch(() => {
      throw notFound('Delivery');
    });
  }
  return deliveries.retryDelivery(deps, scope.resource, id);
}

/** The scope's endpoints among `ids`, by id (a message's deliveries name theirs). */
export async function scopedEndpointsByIds(deps: Deps, scope: Scope, ids: readonly string[]): Promise<Map<string, Endpoint>> {
  const wanted = new Set(ids);
  const all =
    scope.subscriberId === null
      ? await listEndpointRows(deps.db, scope.resource.id, {}, { limit: 10_000, after: undefined })
      : await subscriberEndpoints(deps, scope);
  return new Map(all.filter((e) => wanted.has(e.id)).map((e) => [e.id, e]));
}

/** Every endpoint of the scope's subscriber (a plan allows at most a few hundred). */
async function subscriberEndpoints(deps: Deps, scope: Scope): Promise<Endpoint[]> {
  return listEndpointRows(deps.db, scope.resource.id, { subscriberId: scope.subscriberId! }, { limit: 10_000, after: undefined });
}
