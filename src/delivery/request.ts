import { secretKey, signatureHeader } from '../signing.js';
import { renderBody } from './formats/index.js';
import type { ClaimedDelivery, PreviousSecret } from './types.js';

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The headers as recorded in the attempt: secret-looking custom header values masked. */
  recordedHeaders: Record<string, string>;
}

/** Standard Webhooks id: the same for every endpoint and every retry of a message (the receiver's idempotency key). */
export function webhookId(messageId: string): string {
  return `msg_${messageId.replace(/-/g, '')}`;
}

// Decoded keys, so the hot path does not base64-decode the same secret thousands of times a
// second. Bounded: cleared when it holds more endpoints than any worker sends to in a while.
const keyCache = new Map<string, Buffer>();
function cachedKey(secret: string): Buffer {
  let key = keyCache.get(secret);
  if (!key) {
    if (keyCache.size >= 10_000) keyCache.clear();
    key = secretKey(secret);
    keyCache.set(secret, key);
  }
  return key;
}

/** The current secret first, then every previous one still inside its rotation grace period. */
export function signingKeys(secret: string, previous: readonly PreviousSecret[], now: Date): Buffer[] {
  const keys = [cachedKey(secret)];
  for (const p of previous) {
    if (p && typeof p.secret === 'string' && Date.parse(p.expires_at) > now.getTime()) keys.push(cachedKey(p.secret));
  }
  return keys;
}

/**
 * Custom headers the endpoint may not set: they would break the HTTP framing, the signature or
 * what the receiver needs to verify it. The API refuses them at save time; this is the backstop.
 */
const RESERVED_HEADER = /^(host|content-length|content-type|content-encoding|transfer-encoding|connection|keep-alive|upgrade|expect|te|trailer|proxy-.*|user-agent|webhook-.*)$/i;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SECRETISH = /authorization|token|secret|key|pass|cookie|signature|auth/i;

export function buildRequest(d: ClaimedDelivery, opts: { now: Date; userAgent: string }): OutgoingRequest {
  const body = renderBody(d.format, {
    eventType: d.eventType,
    payload: d.payload,
    version: d.version,
    createdAt: d.messageCreatedAt,
  });
  const id = webhookId(d.messageId);
  const timestamp = Math.floor(opts.now.getTime() / 1000);
  const headers: Record<string, string> = {};
  const recordedHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(d.headers ?? {})) {
    if (typeof value !== 'string' || !TOKEN.test(name) || RESERVED_HEADER.test(name) || /[\r\n\0]/.test(value)) continue;
    const key = name.toLowerCase();
    headers[key] = value;
    recordedHeaders[key] = SECRETISH.test(key) ? '[redacted]' : value;
  }
  const own: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': opts.userAgent,
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(signingKeys(d.secret, d.previousSecrets, opts.now), id, timestamp, body),
  };
  Object.assign(headers, own);
  Object.assign(recordedHeaders, own);
  return { url: d.url, headers, body, recordedHeaders };
}
