import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhookId}.${timestampSeconds}.${body}`, base64, sent as `v1,<sig>`; several signatures are
 * space-separated while an old secret is still valid after a rotation.
 */
export const SECRET_PREFIX = 'whsec_';

/** `whsec_` + base64 of 32 random bytes (the spec allows 24 to 64). */
export function generateEndpointSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

export function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(b64, 'base64');
}

export function isValidEndpointSecret(secret: string): boolean {
  if (!secret.startsWith(SECRET_PREFIX)) return false;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  const len = Buffer.from(b64, 'base64').length;
  return len >= 24 && len <= 64;
}

export function sign(key: Buffer, webhookId: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${webhookId}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The `webhook-signature` header value: one `v1,…` per key, newest first. */
export function signatureHeader(keys: readonly Buffer[], webhookId: string, timestampSeconds: number, body: string): string {
  return keys.map((k) => sign(k, webhookId, timestampSeconds, body)).join(' ');
}
