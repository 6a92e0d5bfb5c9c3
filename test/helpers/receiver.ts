import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. Header names are lower case. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Date.now() when the body had fully arrived. */
  at: number;
}

/** How to answer one request. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many milliseconds. */
  delayMs?: number;
  /** Never answer (the socket stays open until the client gives up or the receiver closes). */
  hang?: boolean;
  /** Drop the connection without answering. */
  destroy?: boolean;
}

export type Script = Reply | ((req: ReceivedRequest, index: number) => Reply);

export interface Receiver {
  /** `http://127.0.0.1:<port>` — append a path. */
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** The most requests it was answering at the same time. */
  readonly maxConcurrent: number;
  /** Requests it is answering right now (body received, no answer sent yet). */
  readonly active: number;
  /** Answers for one path, in order; the last one repeats. */
  script(path: string, ...replies: Script[]): void;
  /** The answer for paths without a script (default: 200 `ok`). */
  setDefault(reply: Script): void;
  /** Resolves once at least `n` requests have arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  on(path: string): ReceivedRequest[];
  clear(): void;
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on 127.0.0.1, port 0, for delivery tests: records every request and
 * answers as scripted (status, headers, body, delay, hang, dropped connection), per path.
 * `record: false` keeps only counts and webhook headers, for load tests.
 */
export async function startReceiver(opts: { record?: boolean } = {}): Promise<Receiver> {
  const record = opts.record ?? true;
  const requests: ReceivedRequest[] = [];
  const scripts = new Map<string, { replies: Script[]; next: number }>();
  let fallback: Script = { status: 200, body: 'ok' };
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let active = 0;
  let maxConcurrent = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    active++;
    maxConcurrent = Math.max(maxConcurrent, active);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      active--;
    };
    res.on('close', finish);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const path = url.split('?')[0]!;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined) continue;
        if (!record && !k.startsWith('webhook-')) continue;
        headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const received: ReceivedRequest = {
        method: req.method ?? 'GET',
        url,
        path,
        headers,
        body: record ? Buffer.concat(chunks).toString('utf8') : '',
        at: Date.now(),
      };
      requests.push(received);
      waiters = waiters.filter((w) => {
        if (requests.length >= w.n) w.resolve();
        return requests.length < w.n;
      });

      const entry = scripts.get(path);
      let script: Script = fallback;
      if (entry) {
        script = entry.replies[Math.min(entry.next, entry.replies.length - 1)]!;
        entry.next++;
      }
      const reply = typeof script === 'function' ? script(received, requests.length - 1) : script;
      if (reply.hang) return;
      if (reply.destroy) {
        req.socket.destroy();
        return;
      }
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, reply.headers ?? {});
        res.end(reply.body ?? '');
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get maxConcurrent() {
      return maxConcurrent;
    },
    get active() {
      return active;
    },
    script(path, ...replies) {
      scripts.set(path, { replies, next: 0 });
    },
    setDefault(reply) {
      fallback = reply;
    },
    waitFor(n, timeoutMs = 20_000) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver got ${requests.length} of ${n} requests in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    on(path) {
      return requests.filter((r) => r.path === path);
    },
    clear() {
      requests.length = 0;
      scripts.clear();
      maxConcurrent = active;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
