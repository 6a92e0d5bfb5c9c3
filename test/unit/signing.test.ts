import { Webhook } from 'standardwebhooks';
import { buildRequest, signingKeys, webhookId } from '../../src/delivery/request.js';
import type { ClaimedDelivery } from '../../src/delivery/types.js';
import { generateEndpointSecret, secretKey, sign, signatureHeader } from '../../src/signing.js';

function delivery(overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: '0b9f6c1e-2d4a-4c8b-9e7f-1a2b3c4d5e6f',
    resourceId: '1b9f6c1e-2d4a-4c8b-9e7f-1a2b3c4d5e6f',
    messageId: '2b9f6c1e-2d4a-4c8b-9e7f-1a2b3c4d5e6f',
    endpointId: '3b9f6c1e-2d4a-4c8b-9e7f-1a2b3c4d5e6f',
    status: 'pending',
    attemptCount: 0,
    url: 'https://receiver.example.com/hooks?token=abc',
    format: 'standard',
    headers: {},
    timeoutMs: 15000,
    secret: generateEndpointSecret(),
    previousSecrets: [],
    endpointExists: true,
    endpointActive: true,
    eventType: 'invoice.paid',
    payload: '{"invoice":"in_1","amount":4200}',
    version: null,
    messageCreatedAt: new Date('2026-01-01T00:00:00Z'),
    resourceState: 'provisioned',
    ...overrides,
  };
}

describe('Standard Webhooks signing', () => {
  it('matches the spec test vector', () => {
    const key = secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    expect(sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(expected);
    expect(signatureHeader([key], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(expected);
    // …and the official library agrees.
    const lib = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(lib.sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330000), '{"test": 2432232314}')).toBe(expected);
  });

  it('signs every request so the official library verifies it', () => {
    const d = delivery();
    const now = new Date();
    const req = buildRequest(d, { now, userAgent: 'test' });
    expect(req.headers['webhook-id']).toBe('msg_2b9f6c1e2d4a4c8b9e7f1a2b3c4d5e6f');
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(d.secret).verify(req.body, req.headers)).toEqual(JSON.parse(req.body));
  });

  it('fails verification with another secret or a changed body', () => {
    const d = delivery();
    const req = buildRequest(d, { now: new Date(), userAgent: 'test' });
    expect(() => new Webhook(generateEndpointSecret()).verify(req.body, req.headers)).toThrow();
    expect(() => new Webhook(d.secret).verify(req.body.replace('4200', '4201'), req.headers)).toThrow();
  });

  it('signs with the new AND every unexpired old secret during a rotation', () => {
    const now = new Date();
    const oldSecret = generateEndpointSecret();
    const expiredSecret = generateEndpointSecret();
    const d = delivery({
      previousSecrets: [
        { secret: oldSecret, expires_at: new Date(now.getTime() + 3600_000).toISOString() },
        { secret: expiredSecret, expires_at: new Date(now.getTime() - 1000).toISOString() },
      ],
    });
    const req = buildRequest(d, { now, userAgent: 'test' });
    expect(req.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(d.secret).verify(req.body, req.headers)).toBeTruthy();
    expect(new Webhook(oldSecret).verify(req.body, req.headers)).toBeTruthy();
    expect(() => new Webhook(expiredSecret).verify(req.body, req.headers)).toThrow();
    expect(signingKeys(d.secret, d.previousSecrets, now)).toHaveLength(2);
  });

  it('uses a stable id per message and a fresh timestamp per attempt', () => {
    const d = delivery();
    const first = buildRequest(d, { now: new Date('2026-01-01T00:00:00Z'), userAgent: 'test' });
    const retry = buildRequest({ ...d, id: 'another-delivery', attemptCount: 3 }, { now: new Date('2026-01-01T00:05:00Z'), userAgent: 'test' });
    expect(retry.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(webhookId(d.messageId)).toBe(first.headers['webhook-id']);
    expect(Number(retry.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp'])).toBe(300);
    expect(retry.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
  });

  it('signs chat-format bodies exactly as sent', () => {
    const d = delivery({ format: 'slack', url: 'https://hooks.slack.com/services/T/B/X' });
    const req = buildRequest(d, { now: new Date(), userAgent: 'test' });
    expect(JSON.parse(req.body)).toHaveProperty('blocks');
    expect(new Webhook(d.secret).verify(req.body, req.headers)).toBeTruthy();
  });

  it('sends custom headers but never lets them replace ours, and masks secret-looking ones in the record', () => {
    const d = delivery({
      headers: {
        'X-Team': 'payments',
        Authorization: 'Bearer s3cr3t',
        'Webhook-Signature': 'v1,forged',
        'Content-Type': 'text/plain',
        Host: 'evil.example',
        'Bad Header': 'x',
        'X-Injected': 'a\r\nb: c',
      },
    });
    const req = buildRequest(d, { now: new Date(), userAgent: 'Herald-Webhooks/test' });
    expect(req.headers['x-team']).toBe('payments');
    expect(req.headers.authorization).toBe('Bearer s3cr3t');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('Herald-Webhooks/test');
    expect(req.headers['webhook-signature']).not.toContain('forged');
    expect(req.headers).not.toHaveProperty('host');
    expect(req.headers).not.toHaveProperty('bad header');
    expect(req.headers).not.toHaveProperty('x-injected');
    expect(req.recordedHeaders.authorization).toBe('[redacted]');
    expect(req.recordedHeaders['x-team']).toBe('payments');
    expect(JSON.stringify(req.recordedHeaders)).not.toContain(d.secret);
    expect(new Webhook(d.secret).verify(req.body, req.headers)).toBeTruthy();
  });
});
