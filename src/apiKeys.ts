import { createHmac } from 'node:crypto';
import { sha256Hex } from './crypto.js';

/**
 * A resource's API key is derived, not stored: HMAC-SHA256(API_KEY_SECRET, "<resource id>:<generation>").
 * The database keeps only its SHA-256 (for the Bearer lookup), so a leaked database leaks no key,
 * yet a repeated provision (Heroku retries) can answer with the very same config var.
 * Bumping `key_generation` rotates the key.
 */
export const API_KEY_PREFIX = 'hrld_';

export function deriveApiKey(apiKeySecret: string, resourceId: string, generation: number): string {
  return API_KEY_PREFIX + createHmac('sha256', apiKeySecret).update(`${resourceId}:${generation}`).digest('base64url');
}

export function hashApiKey(apiKey: string): string {
  return sha256Hex(apiKey);
}
