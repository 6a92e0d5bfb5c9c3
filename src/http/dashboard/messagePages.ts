import type { Router } from 'express';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../db/deliveries.js';
import type { MessageFilter } from '../../db/messages.js';
import type { Deps } from '../../deps.js';
import { invalidField } from '../../errors.js';
import { parseTimePage, toPage } from '../../pagination.js';
import { attemptRequestBodies } from '../../services/deliveries.js';
import { listEventTypes } from '../../services/eventTypes.js';
import * as scoped from '../../services/portal.js';
import { deliveryStatusCounts } from '../../services/stats.js';
import { parseTime, textProblem } from '../../validation.js';
import { formFailure, sendPage } from './render.js';
import type { Surface } from './surface.js';

const FILTER_FIELDS = ['event_type', 'status', 'since', 'until', 'q'] as const;
type FilterValues = Record<(typeof FILTER_FIELDS)[number], string>;

/** `msg_<32 hex>` is the `webhook-id` a receiver logs: accept it in the search box as the message id. */
function searchTerm(q: string): string {
  const m = /^msg_([0-9a-f]{32})$/i.exec(q);
  if (!m) return q;
  const h = m[1]!.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function messageFilter(values: FilterValues): MessageFilter {
  for (const field of FILTER_FIELDS) {
    // `?q=%00` would reach Postgres as a text parameter and fail there (a 500).
    const problem = textProblem(values[field]);
    if (problem) throw invalidField(field, problem);
  }
  const filter: MessageFilter = {};
  if (values.event_type !== '') filter.eventType = values.event_type;
  if (values.status !== '') {
    if (!(DELIVERY_STATUSES as readonly string[]).includes(values.status)) {
      throw invalidField('status', `must be one of ${DELIVERY_STATUSES.join(', ')}`);
    }
    filter.status = values.status as DeliveryStatus;
  }
  if (values.since !== '') filter.since = parseTime(values.since, 'since');
  if (values.until !== '') filter.until = parseTime(values.until, 'until');
  if (values.q !== '') filter.idOrEventId = searchTerm(values.q);
  return filter;
}

/**
 * The message pages, shared by the dashboard and the portal: a filtered list, and one message with
 * its payload and every attempt of every delivery (in the portal: of the deliveries to the
 * subscriber's own endpoints), with a resend button per delivery.
 */
export function mountMessagePages(router: Router, deps: Deps, surface: Surface): void {
  const { base } = surface;

  router.get('/messages', async (req, res) => {
    const scope = surface.scope(res);
    const values = Object.fromEntries(
      FILTER_FIELDS.map((f) => [f, typeof req.query[f] === 'string' ? (req.query[f] as string).trim() : '']),
    ) as FilterValues;
    const page = parseTimePage(req.query);
    let filterError: string | null = null;
    let errors: Record<string, string> = {};
    let status = 200;
    let messages: Awaited<ReturnType<typeof scoped.listScopedMessages>> = [];
    try {
      messages = await scoped.listScopedMessages(deps, scope, messageFilter(values), page);
    } catch (err) {
      const failure = formFailure(err, FILTER_FIELDS);
      if (!failure) throw err;
      ({ errors, formError: filterError, status } = failure);
    }
    const list = toPage(messages, page.limit, (m) => [m.cursorAt, m.id], (m) => m);
    const counts = await deliveryStatusCounts(
      deps,
      scope.resource,
      list.data.map((m) => m.id),
      scope.subscriberId === null ? {} : { subscriberId: scope.subscriberId },
    );
    // The portal never lists the resource's event types: they are the add-on owner's vocabulary.
    const eventTypes = scope.subscriberId === null ? await listEventTypes(deps, scope.resource, { limit: 250, after: undefined }) : [];
    const next = new URLSearchParams({ ...values, cursor: list.next_cursor ?? '' });
    sendPage(
      res,
      'messages',
      surface.chrome(req, res, 'messages', 'Messages'),
      {
        messages: list.data,
        counts: Object.fromEntries(counts),
        values,
        errors,
        filterError,
        statuses: DELIVERY_STATUSES,
        eventTypes: eventTypes.slice(0, 250).map((t) => t.name),
        nextHref: list.next_cursor ? `${base}/messages?${next.toString()}` : null,
      },
      status,
    );
  });

  router.get('/messages/:id', async (req, res) => {
    const scope = surface.scope(res);
    const detail = await scoped.scopedMessageDetail(deps, scope, req.params.id);
    const endpoints = await scoped.scopedEndpointsByIds(
      deps,
      scope,
      detail.deliveries.map((d) => d.delivery.endpointId),
    );
    const bodies = await attemptRequestBodies(
      deps,
      scope.resource,
      detail.message,
      detail.deliveries.flatMap((d) => d.attempts.map((a) => a.id)),
    );
    sendPage(res, 'message', surface.chrome(req, res, 'messages', `${detail.message.eventType} message`), {
      message: detail.message,
      deliveries: detail.deliveries,
      endpoints: Object.fromEntries(endpoints),
      bodies: Object.fromEntries(bodies),
    });
  });

  router.post('/deliveries/:id/retry', async (req, res) => {
    const delivery = await scoped.retryScopedDelivery(deps, surface.scope(res), req.params.id);
    res.locals.log.info('delivery retried', { deliveryId: delivery.id, surface: surface.kind });
    res.redirect(303, `${base}/messages/${delivery.messageId}?notice=retried#delivery-${delivery.id}`);
  });
}
