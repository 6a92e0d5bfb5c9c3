import { getResource } from '../db/resources.js';
import type { Deps } from '../deps.js';
import { sha256Hex } from '../crypto.js';
import { gone, notFound, unprocessable } from '../errors.js';
import { isValidNameSegment } from '../eventTypes.js';
import { isPlainObject, isUuid, jsonProblem } from '../validation.js';
import { createMessage, type CreatedMessage } from './messages.js';

/** Longest `<event>` kept in `heroku.<event>`, so the type stays within the 100-character limit. */
const MAX_EVENT_LENGTH = 60;

/** `deploy` → `heroku.deploy`; anything that is not one valid name segment → `heroku.unknown`. */
export function herokuEventType(event: string): string {
  const e = event.trim().toLowerCase();
  return e.length <= MAX_EVENT_LENGTH && isValidNameSegment(e) ? `heroku.${e}` : 'heroku.unknown';
}

/** JSON with object keys sorted at every depth: the same notification always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Stores one legacy Heroku notification (`POST /heroku/resources/:id/events`) as a message of type
 * `heroku.<event>` and fans it out like any other. Its data is `{event, heroku_id, detail}`:
 * Heroku's envelope kept whole, so unknown events lose nothing. `detail.log_token` is dropped: it
 * lets its holder write to the app's logs, and endpoints are third-party URLs.
 *
 * Heroku retries until it gets a 2xx, so the event id is a hash of the canonical body: a repeat
 * hits the messages unique constraint and is stored once.
 */
export async function recordHerokuEvent(deps: Deps, resourceId: string, body: unknown): Promise<CreatedMessage> {
  const resource = isUuid(resourceId) ? await getResource(deps.db, resourceId) : undefined;
  if (!resource) throw notFound('Resource');
  if (resource.state !== 'provisioned') throw gone('This add-on resource has been deprovisioned.');

  if (!isPlainObject(body)) throw unprocessable('invalid_event', 'The body must be a JSON object {heroku_id, event, detail}.');
  // Stored as JSON text, where NUL and lone surrogates survive as escapes; 1e400 would turn into null.
  const problem = jsonProblem(body, { text: false });
  if (problem) throw unprocessable('invalid_event', `The notification ${problem}.`);
  const event = body.event;
  if (typeof event !== 'string' || event.trim() === '') {
    throw unprocessable('invalid_event', 'event: is required and must be a non-empty string (deploy, attach, detach, ...).', { field: 'event' });
  }
  let detail: unknown = body.detail ?? {};
  if (isPlainObject(detail) && 'log_token' in detail) {
    const { log_token: _dropped, ...rest } = detail;
    detail = rest;
  }
  const data = { event, heroku_id: body.heroku_id ?? null, detail };
  return createMessage(
    deps,
    resource,
    { eventType: herokuEventType(event), data, eventId: `heroku:${sha256Hex(canonicalJson(body))}` },
    { source: 'heroku' },
  );
}
