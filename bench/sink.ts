import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createSinkServer } from './sinkHttp.js';

/**
 * The benchmark's webhook receiver, run as its own process (`fork`), so its work does not share an
 * event loop with the load generator. Answers every POST with 204 over keep-alive, verifies every
 * Standard Webhooks signature against the secret of the endpoint the path names, and reports over
 * IPC: counts, first/last arrival, duplicates and, when asked, each arrival time.
 *
 * It speaks the minimal HTTP/1.1 of bench/sinkHttp.ts instead of node:http: in production the
 * receiver runs on someone else's machine, so here it should take as little as possible of the two
 * cores the senders are measured on.
 *
 * Times are `performance.timeOrigin + performance.now()`: epoch milliseconds with sub-millisecond
 * resolution, comparable with the same clock read in the benchmark's own process.
 */

export type SinkCommand =
  | { type: 'secrets'; secrets: Record<string, string> }
  | { type: 'reset'; record: boolean }
  | { type: 'stats'; withArrivals?: boolean };

export interface SinkStats {
  received: number;
  /** Distinct (path, webhook-id) pairs: a redelivery of the same message to the same endpoint counts once. */
  unique: number;
  signedOk: number;
  signedBad: number;
  firstAt: number;
  lastAt: number;
  /** [webhook-id, path, arrival time] per request, when recording. */
  arrivals?: Array<[string, string, number]>;
}

export type SinkReply = { type: 'ready'; port: number } | { type: 'ack' } | { type: 'stats'; stats: SinkStats };

const now = () => performance.timeOrigin + performance.now();

function main(): void {
  const keys = new Map<string, Buffer>();
  let record = false;
  let received = 0;
  let signedOk = 0;
  let signedBad = 0;
  let firstAt = 0;
  let lastAt = 0;
  let seen = new Set<string>();
  let arrivals: Array<[string, string, number]> = [];

  /** `v1,<base64>` entries, space-separated: valid when one of them is the HMAC under the endpoint's key. */
  const verify = (path: string, id: string, ts: string, sigs: string, body: Buffer): boolean => {
    const key = keys.get(path);
    if (!key || !id || !ts) return false;
    const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
    for (const entry of sigs.split(' ')) {
      if (!entry.startsWith('v1,')) continue;
      const got = Buffer.from(entry.slice(3), 'base64');
      if (got.length === expected.length && timingSafeEqual(got, expected)) return true;
    }
    return false;
  };

  const onRequest = (path: string, id: string, ts: string, sigs: string, body: Buffer) => {
    const at = now();
    received++;
    if (firstAt === 0) firstAt = at;
    lastAt = at;
    seen.add(`${path} ${id}`);
    if (verify(path, id, ts, sigs, body)) signedOk++;
    else signedBad++;
    if (record) arrivals.push([id, path, at]);
  };

  const server = createSinkServer((req) => {
    onRequest(req.path, req.id, req.timestamp, req.signatures, req.body);
    return true;
  });

  process.on('message', (cmd: SinkCommand) => {
    const reply = (r: SinkReply) => process.send!(r);
    if (cmd.type === 'secrets') {
      for (const [path, secret] of Object.entries(cmd.secrets)) {
        keys.set(path, Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
      }
      reply({ type: 'ack' });
    } else if (cmd.type === 'reset') {
      record = cmd.record;
      received = signedOk = signedBad = firstAt = lastAt = 0;
      seen = new Set();
      arrivals = [];
      reply({ type: 'ack' });
    } else if (cmd.type === 'stats') {
      const stats: SinkStats = { received, unique: seen.size, signedOk, signedBad, firstAt, lastAt };
      if (cmd.withArrivals) stats.arrivals = arrivals;
      reply({ type: 'stats', stats });
    }
  });
  process.on('disconnect', () => process.exit(0));

  server.listen(0, '127.0.0.1', () => {
    process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies SinkReply);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) main();
