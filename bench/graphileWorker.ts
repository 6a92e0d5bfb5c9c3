import { Logger, run, type Runner, type Task } from 'graphile-worker';
import { Agent } from 'undici';
import { secretKey, sign } from '../src/signing.js';

/**
 * The baseline: what a team would build instead of Herald's worker — graphile-worker 0.17 with one
 * job per delivery, each POSTing a Standard Webhooks-signed request with undici. Run as its own
 * process by bench/run.ts, against its own database, with graphile-worker's documented batching
 * options (https://worker.graphile.org/docs/performance):
 *
 *   concurrency (GW_CONCURRENCY), maxPoolSize (GW_POOL), pollInterval (GW_POLL_MS),
 *   preset.worker.localQueue.size (GW_LOCAL_QUEUE), completeJobBatchDelay / failJobBatchDelay (GW_BATCH_DELAY_MS).
 *
 * Two job shapes (GW_MODE):
 *   - `bare`: the payload carries everything the request needs (url, secret, message id, body) and
 *     nothing is written but graphile-worker's own bookkeeping: no lookups, no attempt rows. The
 *     most favourable shape for the baseline, and what the benchmark's ratio is taken against.
 *   - `recorded`: the payload is a delivery id in Herald's own schema (migrated into the baseline's
 *     database); the job reads the delivery with its endpoint and message, sends, and records the
 *     attempt and the delivery's new state in one statement — Herald's bookkeeping, done the
 *     obvious way, one job at a time.
 */
export interface DeliverJob {
  url: string;
  secret: string;
  msgId: string;
  body: string;
}

export interface RecordedJob {
  deliveryId: string;
}

const READ_DELIVERY = `
  select d.id, d.attempt_count, e.url, e.secret, m.id as message_id, m.event_type, m.payload, m.created_at
  from deliveries d join endpoints e on e.id = d.endpoint_id join messages m on m.id = d.message_id
  where d.id = $1`;

const RECORD_ATTEMPT = `
  with d as (
    update deliveries
    set status = case when $2 then 'succeeded' else 'failed' end, attempt_count = attempt_count + 1,
        last_attempt_at = $3, last_status_code = $4, next_attempt_at = null,
        completed_at = case when $2 then $3::timestamptz end, updated_at = $3
    where id = $1
    returning id, resource_id, message_id, endpoint_id, attempt_count
  )
  insert into attempts (delivery_id, resource_id, message_id, endpoint_id, attempt_number, attempted_at, url,
                        request_headers, status_code, duration_ms, response_headers, outcome)
  select id, resource_id, message_id, endpoint_id, attempt_count, $3, $5, $6, $4, $7, $8,
         case when $2 then 'succeeded' else 'failed' end
  from d`;

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
}

async function main(): Promise<void> {
  const connectionString = process.env.GW_DATABASE_URL;
  if (!connectionString) throw new Error('GW_DATABASE_URL is not set');
  const concurrency = int('GW_CONCURRENCY', 256);
  const batchDelay = int('GW_BATCH_DELAY_MS', 0);

  const agent = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
  const keys = new Map<string, Buffer>();
  const keyOf = (secret: string) => {
    let k = keys.get(secret);
    if (!k) keys.set(secret, (k = secretKey(secret)));
    return k;
  };

  const post = async (url: URL, msgId: string, secret: string, body: string) => {
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'webhook-id': msgId,
      'webhook-timestamp': String(ts),
      'webhook-signature': sign(keyOf(secret), msgId, ts, body),
    };
    const started = performance.now();
    const res = await agent.request({ origin: url.origin, path: url.pathname, method: 'POST', headers, body, headersTimeout: 15_000, bodyTimeout: 15_000 });
    await res.body.dump();
    return { headers, statusCode: res.statusCode, responseHeaders: res.headers, durationMs: Math.round(performance.now() - started) };
  };
  const ok = (status: number) => status >= 200 && status < 300;

  const deliverBare = async (payload: unknown): Promise<void> => {
    const job = payload as DeliverJob;
    const res = await post(new URL(job.url), job.msgId, job.secret, job.body);
    if (!ok(res.statusCode)) throw new Error(`HTTP ${res.statusCode}`);
  };

  const deliverRecorded: Task = async (payload, helpers) => {
    const { deliveryId } = payload as RecordedJob;
    const { rows } = await helpers.query<{ url: string; secret: string; message_id: string; event_type: string; payload: string; created_at: Date }>(READ_DELIVERY, [deliveryId]);
    const d = rows[0];
    if (!d) return; // deleted meanwhile: nothing to send
    const body = `{"type":${JSON.stringify(d.event_type)},"timestamp":"${d.created_at.toISOString()}","data":${d.payload}}`;
    const attemptedAt = new Date();
    const res = await post(new URL(d.url), `msg_${d.message_id.replace(/-/g, '')}`, d.secret, body);
    await helpers.query(RECORD_ATTEMPT, [
      deliveryId, ok(res.statusCode), attemptedAt, res.statusCode, d.url, JSON.stringify(res.headers), res.durationMs, JSON.stringify(res.responseHeaders),
    ]);
    if (!ok(res.statusCode)) throw new Error(`HTTP ${res.statusCode}`);
  };

  const quiet = new Logger(() => (level, message) => {
    if (level === 'error') process.stderr.write(`${message}\n`);
  });

  const runner: Runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: int('GW_POOL', 10),
    pollInterval: int('GW_POLL_MS', 2_000),
    noHandleSignals: true,
    logger: quiet,
    taskList: { deliver: process.env.GW_MODE === 'recorded' ? deliverRecorded : deliverBare },
    preset: {
      worker: {
        localQueue: { size: int('GW_LOCAL_QUEUE', 500) },
        completeJobBatchDelay: batchDelay,
        failJobBatchDelay: batchDelay,
      },
    },
  });
  process.stdout.write(`${JSON.stringify({ message: 'graphile worker started', concurrency })}\n`);

  const stop = () => {
    void runner
      .stop()
      .then(() => agent.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
