import type { Endpoint } from '../../db/endpoints.js';
import type { Subscriber } from '../../db/subscribers.js';
import { invalidField } from '../../errors.js';

/**
 * HTML forms carry strings; the API carries JSON. These turn a form into the API's JSON body, so
 * the very same parser (src/http/api/*) and services validate both, with the same messages. Only
 * what a form cannot express natively is decided here: how a list, a header set or a JSON object
 * is written in a text box.
 */

export const ENDPOINT_FORM_FIELDS = ['url', 'description', 'subscriber_id', 'event_types', 'format', 'version', 'headers', 'timeout', 'active', 'secret'] as const;
export const SUBSCRIBER_FORM_FIELDS = ['name', 'external_id', 'metadata'] as const;

/** `a.b, c.*` or one per line → ['a.b', 'c.*']. */
export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter((s) => s !== '');
}

/** One `Name: value` per line → {Name: 'value'}; blank lines are ignored. */
export function parseHeaderLines(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalidField('headers', `write one "Name: value" per line ("${line.slice(0, 60)}" has no name)`);
    const name = line.slice(0, colon).trim();
    if (Object.prototype.hasOwnProperty.call(headers, name)) throw invalidField('headers', `"${name}" is given twice`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

export const headerLines = (headers: Record<string, string>): string =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');

/**
 * An endpoint form → the API's create or update body. `subscriber_id` only where the form has
 * that field (the dashboard): a portal form never chooses a subscriber.
 */
export function endpointBody(form: Record<string, string>, opts: { create: boolean; withSubscriber: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = {
    url: (form.url ?? '').trim(),
    description: form.description ?? '',
    event_types: splitList(form.event_types ?? ''),
    format: form.format ?? 'standard',
    version: (form.version ?? '').trim() === '' ? null : form.version!.trim(),
    headers: parseHeaderLines(form.headers ?? ''),
  };
  const timeout = (form.timeout ?? '').trim();
  // A non-number reaches the service as NaN, which refuses it with the API's message.
  if (timeout !== '') body.timeout = Number(timeout);
  if (opts.withSubscriber) body.subscriber_id = (form.subscriber_id ?? '') === '' ? null : form.subscriber_id;
  if (opts.create) {
    // An unticked checkbox sends nothing; the form marks that it had the box.
    body.active = form.active === 'on' || form.active === 'true';
    const secret = (form.secret ?? '').trim();
    if (secret !== '') body.secret = secret;
  }
  return body;
}

/** The form's text for an existing endpoint. */
export function endpointFormValues(e: Endpoint): Record<string, string> {
  return {
    url: e.url,
    description: e.description,
    subscriber_id: e.subscriberId ?? '',
    event_types: e.eventTypes.join(', '),
    format: e.format,
    version: e.version ?? '',
    headers: headerLines(e.headers),
    timeout: String(e.timeoutMs / 1000),
    active: e.active ? 'on' : '',
  };
}

/** A subscriber form → the API's body. Metadata is a JSON object typed in a text box. */
export function subscriberBody(form: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: (form.name ?? '').trim(),
    external_id: (form.external_id ?? '').trim() === '' ? null : form.external_id!.trim(),
  };
  const metadata = (form.metadata ?? '').trim();
  if (metadata === '') body.metadata = {};
  else {
    try {
      body.metadata = JSON.parse(metadata) as unknown;
    } catch {
      throw invalidField('metadata', 'must be a JSON object, e.g. {"plan": "gold"}');
    }
  }
  return body;
}

export function subscriberFormValues(s: Subscriber): Record<string, string> {
  return { name: s.name, external_id: s.externalId ?? '', metadata: JSON.stringify(s.metadata, null, 2) };
}
