import { randomUUID } from 'node:crypto';
import type { Config } from '../../src/config.js';

/** What Heroku sends to the partner API, for tests. */
export function partnerAuthHeader(config: Config, password = config.heroku.apiPassword, user = config.heroku.addonId): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export const WRONG_AUTH = `Basic ${Buffer.from('wrong:secret').toString('base64')}`;

/** kensa's provision body (legacy shape: heroku_id, logplex_token null, no name, no oauth_grant). */
export function kensaProvisionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    heroku_id: 'app123@kensa.heroku.com',
    plan: 'test',
    callback_url: 'http://localhost:7779/callback/999',
    logplex_token: null,
    region: 'amazon-web-services::us-east-1',
    options: {},
    uuid: randomUUID(),
    ...overrides,
  };
}

/** The v3 provision body as the Dev Center documents it, plus a field Heroku might add one day. */
export function v3ProvisionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    callback_url: 'https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef',
    name: 'acme-inc-primary-webhooks',
    oauth_grant: { code: randomUUID(), expires_at: '2016-03-03T18:01:31-0800', type: 'authorization_code' },
    options: { foo: 'bar' },
    plan: 'basic',
    region: 'amazon-web-services::us-east-1',
    uuid: randomUUID(),
    log_input_url: 'https://token:t.01234567@1.us.logplex.io/logs',
    some_future_field: { nested: true },
    ...overrides,
  };
}
