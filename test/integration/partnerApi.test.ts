import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { hashApiKey } from '../../src/apiKeys.js';
import { getResource, getResourceByApiKeyHash } from '../../src/db/resources.js';
import type { Deps } from '../../src/deps.js';
import { PLANS } from '../../src/plans.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { capturedLogs, testDeps } from '../helpers/deps.js';
import { kensaProvisionBody, partnerAuthHeader, v3ProvisionBody, WRONG_AUTH } from '../helpers/heroku.js';

let tdb: TestDb;
let deps: Deps;
let app: Express;
let AUTH: string;

beforeAll(async () => {
  tdb = await createTestDb();
  deps = testDeps(tdb.db, { env: { PUBLIC_URL: 'http://localhost:5000' } });
  app = createApp(deps);
  AUTH = partnerAuthHeader(deps.config);
});
afterAll(async () => {
  await tdb.destroy();
});

const provision = (body: Record<string, unknown>, auth = AUTH) =>
  request(app).post('/heroku/resources').set('Authorization', auth).set('Accept', 'application/json').send(body);
const changePlan = (id: string, body: Record<string, unknown>, auth = AUTH) =>
  request(app).put(`/heroku/resources/${id}`).set('Authorization', auth).send(body);
const deprovision = (id: string, auth = AUTH) => request(app).delete(`/heroku/resources/${id}`).set('Authorization', auth);

async function countRows(table: string, where: Record<string, unknown>): Promise<number> {
  const row = await tdb.db(table).where(where).count<{ count: number }>('* as count').first();
  return Number(row?.count);
}

async function addEndpoints(resourceId: string, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    resource_id: resourceId,
    url: `https://example.com/hook/${i}`,
    secret: `whsec_${i}`,
  }));
  await tdb.db('endpoints').insert(rows);
}

describe('provision: POST /heroku/resources', () => {
  it('3: kensa-style body with correct credentials → 200 with a JSON object', async () => {
    const res = await provision(kensaProvisionBody());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(typeof res.body).toBe('object');
    expect(Array.isArray(res.body)).toBe(false);
    expect(typeof res.body.message).toBe('string');
  });

  it('4: wrong credentials → exactly 401 with WWW-Authenticate, and nothing is stored', async () => {
    const body = kensaProvisionBody();
    const res = await provision(body, WRONG_AUTH);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="heroku"');
    expect(res.body).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    expect(await getResource(tdb.db, body.uuid as string)).toBeUndefined();
  });

  it('4: missing credentials, or the right password with the wrong user → 401', async () => {
    const none = await request(app).post('/heroku/resources').send(kensaProvisionBody());
    expect(none.status).toBe(401);
    const wrongUser = await provision(kensaProvisionBody(), partnerAuthHeader(deps.config, deps.config.heroku.apiPassword, 'someone'));
    expect(wrongUser.status).toBe(401);
  });

  it('5: id is truthy, equals the uuid and does not contain the digits of heroku_id', async () => {
    const body = kensaProvisionBody({ heroku_id: 'app98765@kensa.heroku.com' });
    const res = await provision(body);
    expect(res.body.id).toBe(body.uuid);
    expect(res.body.id).not.toContain('98765');
  });

  it('6: config holds exactly the manifest config vars, as strings, URLs absolute', async () => {
    const res = await provision(kensaProvisionBody());
    expect(Object.keys(res.body.config).sort()).toEqual(['HERALD_API_KEY', 'HERALD_URL']);
    for (const value of Object.values(res.body.config)) expect(typeof value).toBe('string');
    const url = new URL(res.body.config.HERALD_URL);
    expect(url.protocol).toBe('http:');
    expect(url.host).toBe('localhost:5000');
    expect(res.body.config.HERALD_URL).toBe('http://localhost:5000/v1');
    expect(res.body.config.HERALD_API_KEY).toMatch(/^hrld_[A-Za-z0-9_-]{40,}$/);
  });

  it('6: only the hash of the API key is stored, and it finds the resource', async () => {
    const body = kensaProvisionBody();
    const res = await provision(body);
    const row = await tdb.db('resources').where({ id: body.uuid }).first();
    expect(JSON.stringify(row)).not.toContain(res.body.config.HERALD_API_KEY);
    expect(row.api_key_hash).toBe(hashApiKey(res.body.config.HERALD_API_KEY));
    expect((await getResourceByApiKeyHash(tdb.db, row.api_key_hash))?.id).toBe(body.uuid);
  });

  it('7: the manifest does not require syslog_drain, so no log_drain_url is returned', async () => {
    const res = await provision(kensaProvisionBody());
    expect(res.body).not.toHaveProperty('log_drain_url');
  });

  it('8: a second provision with a new uuid and the same heroku_id → another JSON object with a different id', async () => {
    const first = await provision(kensaProvisionBody({ heroku_id: 'app555@kensa.heroku.com' }));
    const second = await provision(kensaProvisionBody({ heroku_id: 'app555@kensa.heroku.com' }));
    expect(second.status).toBe(200);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.config.HERALD_API_KEY).not.toBe(first.body.config.HERALD_API_KEY);
  });

  it('9: v3 body with name, oauth_grant and unknown extra keys → 200, informational fields stored', async () => {
    const body = v3ProvisionBody();
    const res = await provision(body);
    expect(res.status).toBe(200);
    const stored = await getResource(tdb.db, body.uuid as string);
    expect(stored).toMatchObject({
      plan: 'basic',
      region: 'us',
      name: 'acme-inc-primary-webhooks',
      callbackUrl: body.callback_url,
      options: { foo: 'bar' },
      state: 'provisioned',
    });
  });

  it('10: repeating the identical POST → same id and config, still one row', async () => {
    const body = kensaProvisionBody();
    const first = await provision(body);
    const second = await provision(body);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(await countRows('resources', { id: body.uuid })).toBe(1);
  });

  it('10: 20 parallel POSTs with one uuid → exactly one row, all 200 with the same body', async () => {
    const body = kensaProvisionBody();
    const results = await Promise.all(Array.from({ length: 20 }, () => provision(body)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual(results[0]!.body);
    }
    expect(await countRows('resources', { id: body.uuid })).toBe(1);
  });

  it('11: every plan is synchronous and answers 200 with config (no plan provisions with 202)', async () => {
    for (const plan of Object.values(PLANS)) {
      expect(plan.asyncProvisioning).toBe(false);
      const res = await provision(kensaProvisionBody({ plan: plan.slug }));
      expect(res.status).toBe(200);
      expect(res.body.config).toBeDefined();
    }
  });

  it('12: unknown plan → 422 JSON naming the valid plans', async () => {
    const body = kensaProvisionBody({ plan: 'platinum' });
    const res = await provision(body);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('unknown_plan');
    expect(res.body.message).toContain('platinum');
    expect(res.body.message).toContain('test, basic, pro');
    expect(await getResource(tdb.db, body.uuid as string)).toBeUndefined();
  });

  it('12: unsupported region → 422 JSON naming the supported regions', async () => {
    const res = await provision(kensaProvisionBody({ region: 'amazon-web-services::ap-northeast-1' }));
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('unsupported_region');
    expect(res.body.message).toContain('amazon-web-services::eu-west-1');
  });

  it('12: uuid missing or not a UUID → 422 with a message', async () => {
    const missing = await provision(kensaProvisionBody({ uuid: undefined }));
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({ error: 'invalid_uuid', message: expect.stringContaining('uuid') });
    const notUuid = await provision(kensaProvisionBody({ uuid: 'app123@kensa.heroku.com' }));
    expect(notUuid.status).toBe(422);
  });

  it('12: malformed JSON → 400 JSON (but wrong credentials still win with 401)', async () => {
    const bad = await request(app)
      .post('/heroku/resources')
      .set('Authorization', AUTH)
      .set('Content-Type', 'application/json')
      .send('{"uuid": ');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_json', message: expect.any(String) });
    const unauth = await request(app)
      .post('/heroku/resources')
      .set('Authorization', WRONG_AUTH)
      .set('Content-Type', 'application/json')
      .send('{"uuid": ');
    expect(unauth.status).toBe(401);
  });

  it('13: both Accept: application/json and the v3 vendor type work', async () => {
    for (const accept of ['application/json', 'application/vnd.heroku-addons+json; version=3']) {
      const res = await request(app)
        .post('/heroku/resources')
        .set('Authorization', AUTH)
        .set('Accept', accept)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(v3ProvisionBody()));
      expect(res.status).toBe(200);
    }
  });

  it('a body sent with the vendor content type is parsed too', async () => {
    const body = v3ProvisionBody();
    const res = await request(app)
      .post('/heroku/resources')
      .set('Authorization', AUTH)
      .set('Content-Type', 'application/vnd.heroku-addons+json; version=3')
      .send(JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(body.uuid);
  });
});

describe('plan change: PUT /heroku/resources/:id', () => {
  it('14: kensa body (plan, heroku_id, a RANDOM uuid) → 200 and the plan changes', async () => {
    const { body } = await provision(kensaProvisionBody());
    const res = await changePlan(body.id, { plan: 'basic', heroku_id: 'app123@kensa.heroku.com', uuid: randomUUID() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'Changed from Test to Basic.' });
    expect((await getResource(tdb.db, body.id))?.plan).toBe('basic');
  });

  it('15: wrong credentials → 401 and the plan is unchanged', async () => {
    const { body } = await provision(kensaProvisionBody());
    const res = await changePlan(body.id, { plan: 'basic' }, WRONG_AUTH);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="heroku"');
    expect((await getResource(tdb.db, body.id))?.plan).toBe('test');
  });

  it('16: a downgrade below current usage → 422 with a readable message; plan unchanged', async () => {
    const { body } = await provision(kensaProvisionBody({ plan: 'basic' }));
    await addEndpoints(body.id, PLANS.test!.maxEndpoints + 2);
    const res = await changePlan(body.id, { plan: 'test' });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('plan_change_not_allowed');
    expect(res.body.message).toContain(`allows ${PLANS.test!.maxEndpoints} endpoints`);
    expect(res.body.message).toContain('Delete 2 endpoint');
    expect((await getResource(tdb.db, body.id))?.plan).toBe('basic');
  });

  it('16: a downgrade to exactly the limit is allowed', async () => {
    const { body } = await provision(kensaProvisionBody({ plan: 'basic' }));
    await addEndpoints(body.id, PLANS.test!.maxEndpoints);
    const res = await changePlan(body.id, { plan: 'test' });
    expect(res.status).toBe(200);
  });

  it('16: the same plan twice → 200 both times', async () => {
    const { body } = await provision(kensaProvisionBody());
    expect((await changePlan(body.id, { plan: 'pro' })).status).toBe(200);
    const again = await changePlan(body.id, { plan: 'pro' });
    expect(again.status).toBe(200);
    expect(again.body.message).toContain('already');
  });

  it('16: unknown or missing plan → 422', async () => {
    const { body } = await provision(kensaProvisionBody());
    const unknown = await changePlan(body.id, { plan: 'foo' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toBe('unknown_plan');
    expect((await changePlan(body.id, {})).status).toBe(422);
  });

  it('unknown id → 404 JSON, also for an id that is not a UUID; deprovisioned → 410 JSON', async () => {
    const unknown = await changePlan(randomUUID(), { plan: 'basic' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('not_found');
    expect((await changePlan('app123@kensa.heroku.com', { plan: 'basic' })).status).toBe(404);
    const { body } = await provision(kensaProvisionBody());
    await deprovision(body.id);
    const gone = await changePlan(body.id, { plan: 'basic' });
    expect(gone.status).toBe(410);
    expect(gone.body.error).toBe('gone');
  });

  it('a plan change never changes the id or the API key', async () => {
    const body = kensaProvisionBody();
    const first = await provision(body);
    const before = await getResource(tdb.db, first.body.id);
    await changePlan(first.body.id, { plan: 'pro' });
    const after = await getResource(tdb.db, first.body.id);
    expect(after?.apiKeyHash).toBe(before?.apiKeyHash);
    const repeat = await provision(body);
    expect(repeat.body.id).toBe(first.body.id);
    expect(repeat.body.config).toEqual(first.body.config);
  });
});

describe('deprovision: DELETE /heroku/resources/:id', () => {
  it('17: correct credentials → 204; the row stays as a tombstone and its key stops working', async () => {
    const { body } = await provision(kensaProvisionBody());
    const res = await deprovision(body.id);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const row = await getResource(tdb.db, body.id);
    expect(row?.state).toBe('deprovisioned');
    expect(row?.deprovisionedAt).toBeInstanceOf(Date);
    expect(await getResourceByApiKeyHash(tdb.db, hashApiKey(body.config.HERALD_API_KEY))).toBeUndefined();
  });

  it('18: then DELETE with wrong credentials → 401 although the resource is gone', async () => {
    const { body } = await provision(kensaProvisionBody());
    await deprovision(body.id);
    const res = await deprovision(body.id, WRONG_AUTH);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="heroku"');
  });

  it('19: DELETE again → 410 JSON, never 5xx; unknown and non-UUID ids → 410', async () => {
    const { body } = await provision(kensaProvisionBody());
    expect((await deprovision(body.id)).status).toBe(204);
    const again = await deprovision(body.id);
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ error: 'gone', message: expect.any(String) });
    expect((await deprovision(randomUUID())).status).toBe(410);
    expect((await deprovision('not-a-uuid')).status).toBe(410);
  });

  it('deprovisioning keeps the data for the worker to purge (no inline bulk delete)', async () => {
    const { body } = await provision(kensaProvisionBody());
    await addEndpoints(body.id, 3);
    expect((await deprovision(body.id)).status).toBe(204);
    expect(await countRows('endpoints', { resource_id: body.id })).toBe(3);
  });

  it('20: provision again with a deprovisioned uuid → 422 and the tombstone stays', async () => {
    const body = kensaProvisionBody();
    await provision(body);
    await deprovision(body.uuid as string);
    const res = await provision(body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'resource_deprovisioned', message: expect.any(String) });
    expect((await getResource(tdb.db, body.uuid as string))?.state).toBe('deprovisioned');
  });
});

describe('every partner call', () => {
  it('answers well under 3 s (provision, plan change, deprovision)', async () => {
    const timed = async (fn: () => Promise<{ status: number }>) => {
      const started = performance.now();
      const res = await fn();
      return { status: res.status, ms: performance.now() - started };
    };
    const body = kensaProvisionBody();
    const calls = [
      await timed(() => provision(body)),
      await timed(() => provision(body)),
      await timed(() => changePlan(body.uuid as string, { plan: 'basic' })),
      await timed(() => deprovision(body.uuid as string)),
    ];
    for (const call of calls) {
      expect(call.status).toBeLessThan(300);
      expect(call.ms).toBeLessThan(3000);
    }
  });

  it('other paths under /heroku/resources also demand credentials first', async () => {
    const res = await request(app).patch(`/heroku/resources/${randomUUID()}`).send({});
    expect(res.status).toBe(401);
  });

  it('never logs the partner password or an API key', async () => {
    const { body } = await provision(kensaProvisionBody());
    const logs = capturedLogs.join('\n');
    expect(logs).toContain('resource provisioned');
    expect(logs).not.toContain(deps.config.heroku.apiPassword);
    expect(logs).not.toContain(body.config.HERALD_API_KEY);
  });
});
