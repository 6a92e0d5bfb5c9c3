import cluster from 'node:cluster';
import http, { IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import type { Express } from 'express';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { loadConfig, type Config } from './config.js';
import { createDb } from './db/knex.js';
import type { Deps } from './deps.js';
import { createLogger, type Logger } from './logger.js';

/**
 * An HTTP server for an Express app whose requests and responses are born with the app's
 * prototypes. Express otherwise re-parents every request and response (Object.setPrototypeOf in
 * app.handle), and V8 then gives up its optimised shapes for Node's HTTP objects: measured on the
 * 2-core reference machine, a bare Express 5 app with express.json() and res.json() cost ~210-360 µs
 * of CPU per request that way and ~90-150 µs with this (Node's own server alone: ~40 µs). Express's
 * own setPrototypeOf then finds the prototype already in place and does nothing.
 *
 * Node's constructors are called on the new object rather than through Reflect.construct with the
 * app's prototype as new.target: that variant measured slower than plain Express (440-600 µs). Node
 * 20 and 22 define IncomingMessage and ServerResponse as plain functions; should a later Node make
 * them classes (not callable this way), this falls back to an ordinary server.
 */
export function createHttpServer(app: Express): Server {
  const callable = (f: unknown) => typeof f === 'function' && !/^class\b/.test(Function.prototype.toString.call(f));
  if (!callable(IncomingMessage) || !callable(ServerResponse)) return answerClientErrorsInJson(http.createServer(app));
  const initRequest = IncomingMessage as unknown as (this: IncomingMessage, socket: Socket) => void;
  const initResponse = ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void;
  function AppRequest(this: IncomingMessage, socket: Socket) {
    initRequest.call(this, socket);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: unknown) {
    initResponse.call(this, req, options);
  }
  AppResponse.prototype = app.response;
  return answerClientErrorsInJson(
    http.createServer(
      { IncomingMessage: AppRequest as unknown as typeof IncomingMessage, ServerResponse: AppResponse as unknown as typeof ServerResponse },
      app,
    ),
  );
}

/** What Node's parser refused, as the status, error code and message the API answers everything else with. */
function clientErrorAnswer(code: string | undefined): [status: number, error: string, message: string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', `The request's headers are larger than the ${http.maxHeaderSize} bytes this server reads.`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'payload_too_large', 'The chunk extensions of the request body are too large.'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time.'];
    default:
      return [400, 'bad_request', 'The request is not valid HTTP/1.1.'];
  }
}

/**
 * Requests Node's HTTP parser refuses (headers over its limit, malformed HTTP) never reach Express:
 * Node itself answers them, with an empty body. These get the JSON error every other refusal gets.
 */
export function answerClientErrorsInJson(server: Server): Server {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, error, message] = clientErrorAnswer(err.code);
    const body = JSON.stringify({ error, message });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Starts the web process on `deps.config.port`; resolves with the server once it listens. */
export function listen(deps: Deps, port = deps.config.port): Promise<Server> {
  const server = createHttpServer(createApp(deps));
  return new Promise((resolve, reject) => {
    server.listen(port, () => resolve(server));
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

/**
 * WEB_CONCURRENCY > 1: this process only supervises; node:cluster forks that many web processes (at
 * most one per core), which share the port (the primary accepts connections and hands them out
 * round-robin). Node runs JavaScript on one core per process, so where Postgres is on another
 * machine one process leaves the other cores idle. (On the 2-core benchmark machine, where Postgres
 * shares the cores, two processes accepted about as much as one: docs/benchmarks.md.)
 *
 * SIGTERM reaches every process of a dyno (Heroku signals the whole process group); the primary
 * also forwards it, so each web process drains once, and the primary exits when all have. A web
 * process that dies otherwise is replaced, unless it dies within seconds of starting (a crash loop
 * better ends the dyno, so Heroku's restart policy and logs take over).
 */
function supervise(config: Config, logger: Logger): void {
  const started = new Map<number, number>();
  let stopping = false;
  const fork = () => {
    const worker = cluster.fork();
    started.set(worker.id, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const ranMs = Date.now() - (started.get(worker.id) ?? 0);
    started.delete(worker.id);
    if (stopping) {
      if (started.size === 0) {
        logger.info('stopped');
        process.exit(0);
      }
      return;
    }
    logger.error('web process exited', { pid: worker.process.pid, code, signal, ranMs });
    if (ranMs < 5_000) {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      process.exit(1);
    }
    fork();
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal, processes: started.size });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Heroku's Node buildpack derives WEB_CONCURRENCY from the dyno's memory (up to tens of processes
  // on large dynos). More processes than cores only add context switches for a CPU-bound server,
  // and each brings its own pool of database connections.
  const count = Math.min(config.webConcurrency, os.availableParallelism());
  for (let i = 0; i < count; i++) fork();
  logger.info('web processes started', { count, webConcurrency: config.webConcurrency, cores: os.availableParallelism() });
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'web' });
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set: use `npm start` for the embedded development database');
  if (config.webConcurrency > 1 && os.availableParallelism() > 1 && cluster.isPrimary) {
    supervise(config, logger);
    return;
  }
  const db = createDb({ connectionString: config.databaseUrl, ssl: config.databaseSsl, poolMax: config.databasePoolMax, applicationName: 'herald-web', logger });
  const deps: Deps = { config, db, logger, clock: systemClock };
  const server = await listen(deps);
  logger.info('listening', { port: config.port });
  let stopping = false;
  const shutdown = async (signal: string) => {
    // Under a cluster the same SIGTERM comes from Heroku and from the primary: drain once.
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await closeServer(server, config.shutdownTimeoutMs);
    await db.destroy();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
