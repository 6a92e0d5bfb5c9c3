import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createDb } from '../../src/db/knex.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { testDeps } from '../helpers/deps.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb.destroy();
});

describe('GET /healthz', () => {
  it('answers 200 when Postgres answers', async () => {
    const res = await request(createApp(testDeps(tdb.db))).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('answers 503 JSON when Postgres does not', async () => {
    const dead = createDb({ connectionString: 'postgres://postgres@127.0.0.1:1/none', ssl: false, poolMax: 1 });
    try {
      const res = await request(createApp(testDeps(dead))).get('/healthz');
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('unavailable');
    } finally {
      await dead.destroy();
    }
  });

  it('echoes a valid X-Request-ID and makes one otherwise', async () => {
    const app = createApp(testDeps(tdb.db));
    const given = await request(app).get('/healthz').set('X-Request-ID', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await request(app).get('/healthz');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(createApp(testDeps(tdb.db))).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'No route for GET /nope' });
  });
});
