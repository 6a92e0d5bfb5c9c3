import pg from 'pg';
import pRetry from 'p-retry';
import type { Logger } from '../logger.js';

/** The channel the web process notifies after committing new deliveries. */
export const DELIVERIES_CHANNEL = 'herald_deliveries';

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTENs on `herald_deliveries` with a dedicated connection (a pooled one would be handed to
 * queries and lose the subscription), so new work starts within milliseconds instead of at the
 * next poll. When the connection drops (Postgres restart, failover) it reconnects with p-retry's
 * backoff, forever, and calls `onReconnect`: notifications sent while it was away are lost, so the
 * caller claims once to catch up. The poll in the worker loop is the safety net either way.
 */
export function listenForDeliveries(opts: {
  connection: pg.ClientConfig;
  logger: Logger;
  onNotify: () => void;
  onReconnect: () => void;
}): Listener {
  const abort = new AbortController();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let everConnected = false;

  const connectOnce = async (): Promise<void> => {
    // TCP keep-alive: a connection that dies without a FIN must still be noticed and replaced.
    const c = new pg.Client({ ...opts.connection, application_name: 'herald-worker-listen', keepAlive: true, connectionTimeoutMillis: 10_000 });
    c.on('error', (err) => {
      opts.logger.warn('listen connection error', { err: err.message });
      lost(c);
    });
    c.on('end', () => lost(c));
    c.on('notification', () => opts.onNotify());
    try {
      await c.connect();
      await c.query(`listen ${DELIVERIES_CHANNEL}`);
    } catch (caught) {
      // p-retry stops at anything that is not an Error of this realm (socket errors made by Node
      // core are not, inside jest's VM): hand it one.
      const err = caught instanceof Error ? caught : new Error((caught as { message?: string })?.message ?? String(caught));
      c.removeAllListeners('end');
      c.on('error', () => {});
      // Not awaited: on a connection that failed half-way, end() can wait for an 'end' event that
      // already happened, and this retry loop would hang with it (seen during a Postgres restart).
      c.end().catch(() => {});
      throw err;
    }
    if (abort.signal.aborted) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    if (everConnected) opts.logger.info('listen connection restored');
    everConnected = true;
    opts.onReconnect();
  };

  const connect = (): void => {
    if (connecting || abort.signal.aborted) return;
    connecting = pRetry(connectOnce, {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: 5_000,
      randomize: true,
      signal: abort.signal,
      unref: true,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (attemptNumber === 1 || attemptNumber % 10 === 0) opts.logger.warn('listen connect failed', { err: error.message, attempt: attemptNumber });
      },
    })
      .then(
        () => {
          connecting = undefined;
        },
        (err: unknown) => {
          connecting = undefined;
          // An abort means we are closing; anything else must not leave us deaf: start over.
          if (abort.signal.aborted) return;
          opts.logger.error('listen retry loop ended', { err: (err as Error)?.message });
          setTimeout(connect, 1_000).unref();
        },
      );
  };

  function lost(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    c.removeAllListeners('notification');
    c.end().catch(() => {});
    connect();
  }

  connect();

  return {
    async close() {
      abort.abort();
      await connecting;
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        c.on('error', () => {});
        await Promise.race([c.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      }
    },
  };
}
