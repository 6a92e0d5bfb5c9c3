import type { Server, ServerResponse } from 'node:http';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config.js';
import { createDb } from './db/knex.js';
import type { Deps } from './deps.js';
import { createLogger } from './logger.js';

/** Starts the web process on `deps.config.port`; resolves with the server once it listens. */
export function listen(deps: Deps, port = deps.config.port): Promise<Server> {
  const app = createApp(deps);
  return new Promise((resolve, reject) => {
    const server = app.listen(port, () => resolve(server));
    server.once('error', reject);
    // Heroku's router keeps connections open for up to 55 s; outlive it so it never races a close.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  });
}

/**
 * Stop accepting, let in-flight requests finish, then close. A connection that finishes its request
 * while we drain is told `Connection: close` and closed once idle; without that, keep-alive sockets
 * (Heroku's router holds them up to 55 s) would hold the shutdown until `timeoutMs`.
 */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const markClose = (_req: unknown, res: ServerResponse) => {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    };
    server.prependListener('request', markClose);
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    sweep.unref();
    const done = () => {
      clearInterval(sweep);
      clearTimeout(timer);
      server.removeListener('request', markClose);
      resolve();
    };
    const timer = setTimeout(() => {
      server.closeAllConnections();
      done();
    }, timeoutMs);
    timer.unref();
    server.close(() => done());
    server.closeIdleConnections();
  });
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'web' });
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set: use `npm start` for the embedded development database');
  const db = createDb({ connectionString: config.databaseUrl, ssl: config.databaseSsl, poolMax: config.databasePoolMax, applicationName: 'herald-web', logger });
  const deps: Deps = { config, db, logger, clock: systemClock };
  const server = await listen(deps);
  logger.info('listening', { port: config.port });
  const shutdown = async (signal: string) => {
    logger.info('shutting down', { signal });
    await closeServer(server, config.shutdownTimeoutMs);
    await db.destroy();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
