import { randomUUID } from 'node:crypto';
import { listAttempts, type Attempt } from '../db/attempts.js';
import { listMessageDeliveries, type Delivery } from '../db/deliveries.js';
import { endpointExists } from '../db/endpoints.js';
import * as db from '../db/messages.js';
import type { Message, MessageFilter, MessageSource } from '../db/messages.js';
import type { Resource } from '../db/resources.js';
import { subscriberExists } from '../db/subscribers.js';
import { getMonthlyUsage, nextPeriodStart, usagePeriod } from '../db/usage.js';
import type { Deps } from '../deps.js';
import { AppError, invalidField, notFound, payloadTooLarge, unprocessable } from '../errors.js';
import { isReservedEventType, isValidEventTypeName } from '../eventTypes.js';
import { getPlan } from '../plans.js';
import { isUuid } from '../validation.js';
import { batcherFor } from './messageBatcher.js';

export const EVENT_ID_MAX_LENGTH = 200;
export const VERSION_MAX_LENGTH = 50;

export interface MessageInput {
  eventType: string;
  /** Any JSON object; the API refuses other JSON values (see docs/api.md). */
  data: Record<string, unknown>;
  version?: string | null;
  /** Idempotency key, unique per resource. */
  eventId?: string | null;
  /** Send only to this subscriber's endpoints. */
  subscriberId?: string | null;
  /** Send only to this endpoint. */
  endpointId?: string | null;
}

export interface CreateMessageOptions {
  source: MessageSource;
}

export interface CreatedMessage {
  message: Message;
  deliveriesCreated: number;
  /** True when `event_id` had been seen: `message` is the original and nothing was created. */
  duplicate: boolean;
}

function formatBytes(n: number): string {
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/**
 * Accepts one message and fans it out: a `deliveries` row per matching endpoint, all committed
 * with the message in one statement (see insertMessagesFanOut), batched with concurrent sends.
 * The web process sends nothing; the worker, woken by NOTIFY, does.
 *
 * Matching: the resource's endpoints (or the targeted subscriber's, or the one targeted endpoint)
 * whose event type filter selects the type (exact or `prefix.*`, empty = all) and whose version pin
 * is absent or equal to the message's. Disabled endpoints get a `skipped` row, so `recover` can
 * replay it. Test events ignore the filter and the pin: they exist to reach that endpoint.
 *
 * Limits: the plan's payload size and monthly quota, except for Heroku's own notifications, which
 * are counted but never refused (Heroku would only retry them).
 */
export async function createMessage(deps: Deps, resource: Resource, input: MessageInput, opts: CreateMessageOptions): Promise<CreatedMessage> {
  const { source } = opts;
  if (!isValidEventTypeName(input.eventType)) {
    throw invalidField('event_type', 'must be dot-separated segments of letters, digits, _ and - (at most 100 characters), e.g. invoice.paid');
  }
  if (source === 'api' && isReservedEventType(input.eventType)) {
    throw unprocessable('reserved_event_type', `event_type: "${input.eventType}" is reserved: heroku.* and herald.* events come from Heroku and Herald only.`, {
      field: 'event_type',
    });
  }
  const eventId = input.eventId ?? null;
  if (eventId !== null && (eventId.length === 0 || eventId.length > EVENT_ID_MAX_LENGTH)) {
    throw invalidField('event_id', `must be 1 to ${EVENT_ID_MAX_LENGTH} characters`);
  }
  const version = input.version ?? null;
  if (version !== null && (version.length === 0 || version.length > VERSION_MAX_LENGTH)) {
    throw invalidField('version', `must be 1 to ${VERSION_MAX_LENGTH} characters`);
  }
  const subscriberId = input.subscriberId ?? null;
  const endpointId = input.endpointId ?? null;
  if (subscriberId !== null && endpointId !== null) {
    throw invalidField('endpoint_id', 'give subscriber_id or endpoint_id, not both');
  }
  if (subscriberId !== null && !isUuid(subscriberId)) throw notFound('Subscriber');
  if (endpointId !== null && !isUuid(endpointId)) throw notFound('Endpoint');

  const plan = getPlan(resource.plan);
  const payload = JSON.stringify(input.data);
  if (source !== 'heroku') {
    const size = Buffer.byteLength(payload, 'utf8');
    if (size > plan.maxPayloadBytes) {
      throw payloadTooLarge(`data is ${size} bytes of JSON; the ${plan.name} plan accepts at most ${formatBytes(plan.maxPayloadBytes)} per message.`);
    }
  }
  const quota = source === 'heroku' ? null : plan.messagesPerMonth;

  // When nothing was stored and the diagnosis below finds no reason (a race: a target or a
  // duplicate changed in between, or batch-mates used up the quota window and were then refused
  // themselves), the send is simply tried again.
  for (let tries = 0; tries < 3; tries++) {
    const now = deps.clock.now();
    const id = randomUUID();
    const stored = {
      id,
      resourceId: resource.id,
      eventType: input.eventType,
      eventId,
      version,
      payload,
      subscriberId,
      endpointId,
      source,
      createdAt: now,
    };
    const result = await batcherFor(deps.db).submit({
      ...stored,
      period: usagePeriod(now),
      quota,
      ignoreFilters: source === 'test',
    });
    if (result.inserted) {
      const message: Message = { ...stored, cursorAt: now.toISOString().replace('Z', '000Z') };
      return { message, deliveriesCreated: result.deliveries, duplicate: false };
    }
    // Nothing was stored: find out why. The statement waited for any concurrent insert of the same
    // event_id to commit, so this read sees the original.
    if (eventId !== null) {
      const original = await db.getMessageByEventId(deps.db, resource.id, eventId);
      if (original) return { message: original.message, deliveriesCreated: original.deliveries, duplicate: true };
    }
    if (subscriberId !== null && !(await subscriberExists(deps.db, resource.id, subscriberId))) throw notFound('Subscriber');
    if (endpointId !== null && !(await endpointExists(deps.db, resource.id, endpointId))) throw notFound('Endpoint');
    if (quota !== null && (await getMonthlyUsage(deps.db, resource.id, usagePeriod(now))) >= quota) {
      const resetsAt = nextPeriodStart(now);
      const retryAfter = Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000));
      throw new AppError(
        429,
        'quota_exceeded',
        `The ${plan.name} plan accepts ${plan.messagesPerMonth} messages a month and this month's are used up. The quota resets on ${resetsAt.toISOString().slice(0, 10)} (UTC); upgrade the plan to send more now.`,
        { headers: { 'Retry-After': String(retryAfter) }, details: { limit: plan.messagesPerMonth, resets_at: resetsAt.toISOString() } },
      );
    }
  }
  throw new Error('message insert kept losing races');
}

export function listMessages(
  deps: Deps,
  resource: Resource,
  filter: MessageFilter,
  page: { limit: number; after: string[] | undefined },
): Promise<Message[]> {
  return db.listMessages(deps.db, resource.id, filter, page);
}

export interface DeliveryWithAttempts {
  delivery: Delivery;
  attempts: Attempt[];
}

export interface MessageDetail {
  message: Message;
  deliveries: DeliveryWithAttempts[];
}

/** A message with every delivery and every attempt: three queries, whatever the fan-out. */
export async function getMessageDetail(deps: Deps, resource: Resource, id: string): Promise<MessageDetail> {
  const message = isUuid(id) ? await db.getMessage(deps.db, resource.id, id) : undefined;
  if (!message) throw notFound('Message');
  const deliveries = await listMessageDeliveries(deps.db, resource.id, id);
  const attempts = await listAttempts(deps.db, resource.id, deliveries.map((d) => d.id));
  return { message, deliveries: groupAttempts(deliveries, attempts) };
}

export function groupAttempts(deliveries: Delivery[], attempts: Attempt[]): DeliveryWithAttempts[] {
  const byDelivery = new Map<string, Attempt[]>();
  for (const a of attempts) {
    const list = byDelivery.get(a.deliveryId);
    if (list) list.push(a);
    else byDelivery.set(a.deliveryId, [a]);
  }
  return deliveries.map((delivery) => ({ delivery, attempts: byDelivery.get(delivery.id) ?? [] }));
}
