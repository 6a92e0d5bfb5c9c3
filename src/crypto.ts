import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison (lengths are compared through fixed-size digests). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

export const sha1Hex = (s: string): string => createHash('sha1').update(s, 'utf8').digest('hex');
export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
export const hmacSha256 = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');
