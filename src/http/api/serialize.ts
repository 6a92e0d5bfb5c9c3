import type { Attempt } from '../../db/attempts.js';
import type { Delivery } from '../../db/deliveries.js';
import type { Endpoint } from '../../db/endpoints.js';
import type { EventType } from '../../db/eventTypes.js';
import type { Message } from '../../db/messages.js';
import type { Subscriber } from '../../db/subscribers.js';
import type { DeliveryWithAttempts } from '../../services/messages.js';

/** The API's JSON shapes: snake_case, explicit, and never an endpoint secret. */

export const subscriberJson = (s: Subscriber) => ({
  id: s.id,
  name: s.name,
  external_id: s.externalId,
  metadata: s.metadata,
  created_at: s.createdAt,
  updated_at: s.updatedAt,
});

export const endpointJson = (e: Endpoint) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  subscriber_id: e.subscriberId,
  event_types: e.eventTypes,
  format: e.format,
  active: e.active,
  disabled_reason: e.disabledReason,
  disabled_at: e.disabledAt,
  version: e.version,
  headers: e.headers,
  timeout: e.timeoutMs / 1000,
  failing_since: e.failingSince,
  created_at: e.createdAt,
  updated_at: e.updatedAt,
});

/** Without `data`: the accept response does not echo a payload of up to 1 MiB back. */
export const messageSummaryJson = (m: Message) => ({
  id: m.id,
  event_type: m.eventType,
  event_id: m.eventId,
  version: m.version,
  source: m.source,
  subscriber_id: m.subscriberId,
  endpoint_id: m.endpointId,
  created_at: m.createdAt,
});

export const messageJson = (m: Message) => ({ ...messageSummaryJson(m), data: JSON.parse(m.payload) as unknown });

export const deliveryJson = (d: Delivery) => ({
  id: d.id,
  message_id: d.messageId,
  endpoint_id: d.endpointId,
  status: d.status,
  attempt_count: d.attemptCount,
  next_attempt_at: d.nextAttemptAt,
  last_attempt_at: d.lastAttemptAt,
  last_status_code: d.lastStatusCode,
  last_error: d.lastError,
  created_at: d.createdAt,
  updated_at: d.updatedAt,
  completed_at: d.completedAt,
});

export const attemptJson = (a: Attempt) => ({
  id: a.id,
  attempt_number: a.attemptNumber,
  attempted_at: a.attemptedAt,
  url: a.url,
  outcome: a.outcome,
  status_code: a.statusCode,
  duration_ms: a.durationMs,
  error_kind: a.errorKind,
  error_message: a.errorMessage,
  request_headers: a.requestHeaders,
  response_headers: a.responseHeaders,
  response_body: a.responseBody,
  next_attempt_at: a.nextAttemptAt,
});

export const deliveryDetailJson = ({ delivery, attempts }: DeliveryWithAttempts) => ({
  ...deliveryJson(delivery),
  attempts: attempts.map(attemptJson),
});

export const eventTypeJson = (t: EventType) => ({
  name: t.name,
  description: t.description,
  builtin: t.builtin,
  created_at: t.createdAt,
});
