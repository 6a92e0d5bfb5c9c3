import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import path from 'node:path';
import { deriveApiKey } from './apiKeys.js';
import { systemClock } from './clock.js';
import { loadConfig, type Config, type Env } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { createDb } from './db/knex.js';
import { startWorker, type WorkerHandle } from './delivery/worker.js';
import type { Deps } from './deps.js';
import { createLogger, type Logger } from './logger.js';
import { migrate } from './migrate.js';
import { devSsoUrl } from './ssoTokens.js';
import { walkthrough } from './walkthrough.js';
import { closeServer, listen } from './web.js';

/**
 * `npm start`: development all-in-one. Config, database (DATABASE_URL, or the embedded Postgres
 * under HERALD_DATA_DIR), migrations, web and worker in ONE process, then a walkthrough on stdout.
 * Production runs the Procfile's separate web, worker and release processes instead.
 */
export interface RunningHerald {
  readonly config: Config;
  readonly server: Server;
  /** Set when running on the embedded database. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** The human-readable block printed at start (empty in production, where it would show secrets). */
  readonly walkthrough: string;
  /** The resource id the walkthrough's curl provisions. */
  readonly walkthroughResourceId: string;
  stop(): Promise<void>;
}

/**
 * Outside production `npm start` lets endpoints target this machine, so the walkthrough's local
 * receiver works; ALLOW_PRIVATE_TARGETS=false turns that off to try the SSRF guard.
 */
export function startEnv(env: Env): Env {
  const production = env.NODE_ENV === 'production';
  return production || env.ALLOW_PRIVATE_TARGETS ? env : { ...env, ALLOW_PRIVATE_TARGETS: 'true' };
}

export async function startHerald(env: Env, opts: { logger?: Logger; walkthroughReceiverPort?: number } = {}): Promise<RunningHerald> {
  const config = loadConfig(startEnv(env));
  const logger = opts.logger ?? createLogger({ level: config.logLevel, service: 'herald' });

  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, logger });
    databaseUrl = embedded.url;
  }
  const db = createDb({
    connectionString: databaseUrl,
    ssl: embedded ? false : config.databaseSsl,
    poolMax: config.databasePoolMax,
    applicationName: 'herald-dev',
    logger,
  });

  let server: Server | undefined;
  let worker: WorkerHandle | undefined;
  try {
    await migrate(db, logger, { retries: embedded ? 0 : 5 });
    const deps: Deps = { config, db, logger, clock: systemClock };
    server = await listen(deps);
    worker = startWorker(deps);
  } catch (err) {
    if (server) await closeServer(server, 1000);
    await db.destroy();
    await embedded?.stop();
    throw err;
  }

  const resourceId = randomUUID();
  const dashboardUrl = devSsoUrl(config, resourceId);
  logger.info('herald ready', {
    url: config.publicUrl,
    port: config.port,
    database: embedded ? 'embedded' : 'DATABASE_URL',
    embeddedPgPort: embedded?.port,
    dataDir: embedded ? path.resolve(config.dataDir) : undefined,
    processes: ['web', 'worker'],
    walkthroughResourceId: config.isProduction ? undefined : resourceId,
    dashboardUrl: config.isProduction ? undefined : dashboardUrl,
  });
  const text = config.isProduction
    ? ''
    : walkthrough({
        publicUrl: config.publicUrl,
        addonId: config.heroku.addonId,
        apiPassword: config.heroku.apiPassword,
        resourceId,
        apiKey: deriveApiKey(config.apiKeySecret, resourceId, 1),
        dashboardUrl,
        database: embedded
          ? `embedded Postgres on 127.0.0.1:${embedded.port}, data in ${embedded.clusterDir} (kept across restarts)`
          : 'the server in DATABASE_URL',
        allowPrivateTargets: config.allowPrivateTargets,
        ...(opts.walkthroughReceiverPort ? { receiverPort: opts.walkthroughReceiverPort } : {}),
      });

  const running = server;
  const runningWorker = worker;
  let stopping: Promise<void> | undefined;
  return {
    config,
    server: running,
    embedded,
    walkthrough: text,
    walkthroughResourceId: resourceId,
    stop() {
      // Requests and deliveries drain first: both still need the database to finish.
      stopping ??= (async () => {
        await Promise.all([closeServer(running, config.shutdownTimeoutMs), runningWorker.stop()]);
        await db.destroy();
        await embedded?.stop();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

async function main(): Promise<void> {
  const herald = await startHerald(process.env);
  if (herald.walkthrough) process.stdout.write(herald.walkthrough);
  const { shutdownTimeoutMs } = herald.config;
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(1); // a second Ctrl-C: stop waiting (the exit hook still stops Postgres)
    signalled = true;
    // Past the drain budget something is stuck: leave rather than hang the terminal.
    setTimeout(() => process.exit(1), shutdownTimeoutMs + 5_000).unref();
    herald.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
