import { Logger, run, type Runner } from 'graphile-worker';
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
 * The job payload carries everything the request needs (url, secret, message id, body), which is
 * the most favourable shape for the baseline: no lookups per job. Unlike Herald it records no
 * attempt rows; a completed job is simply deleted.
 */
export interface DeliverJob {
  url: string;
  secret: string;
  msgId: string;
  body: string;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
}

async function main(): Promise<void> {
  const connectionString = process.env.GW_DATABASE_URL;
  if (!connectionString) throw new Error('GW_DATABASE_URL is not set');
  const concurrency = int('GW_CONCURRENCY', 64);
  const batchDelay = int('GW_BATCH_DELAY_MS', 0);

  const agent = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
  const keys = new Map<string, Buffer>();
  const keyOf = (secret: string) => {
    let k = keys.get(secret);
    if (!k) keys.set(secret, (k = secretKey(secret)));
    return k;
  };

  const deliver = async (payload: unknown): Promise<void> => {
    const job = payload as DeliverJob;
    const ts = Math.floor(Date.now() / 1000);
    const url = new URL(job.url);
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': job.msgId,
        'webhook-timestamp': String(ts),
        'webhook-signature': sign(keyOf(job.secret), job.msgId, ts, job.body),
      },
      body: job.body,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
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
    taskList: { deliver },
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
