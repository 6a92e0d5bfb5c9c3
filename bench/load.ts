import autocannon from 'autocannon';
import { Pool } from 'undici';

/** What one run of the closed-loop generator saw. */
export interface ClosedLoopResult {
  seconds: number;
  accepted: number;
  non2xx: number;
  errors: number;
  perSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/**
 * Closed loop (autocannon): `connections` keep-alive connections, each sending its next request as
 * soon as the previous one is answered. Connection i uses API key i mod keys.length, so the load
 * is spread over several add-on resources the way several customer apps would spread it.
 */
export async function closedLoop(opts: { url: string; keys: string[]; body: string; connections: number; seconds: number }): Promise<ClosedLoopResult> {
  let next = 0;
  const result = await autocannon({
    url: opts.url,
    method: 'POST',
    connections: opts.connections,
    duration: opts.seconds,
    body: opts.body,
    setupClient: (client) => {
      const key = opts.keys[next++ % opts.keys.length]!;
      client.setHeaders({ 'content-type': 'application/json', authorization: `Bearer ${key}` });
    },
  });
  return {
    seconds: result.duration,
    accepted: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    perSecond: Math.round(result['2xx'] / result.duration),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

export interface Accepted {
  /** The message id from the 202. */
  id: string;
  /** When the request was handed to the client, and when its 202 arrived (epoch ms, sub-ms resolution). */
  sentAt: number;
  acceptedAt: number;
}

export interface OpenLoopResult {
  accepted: Accepted[];
  failed: number;
  /** Requests sent later than their slot by more than 10 ms (the generator itself fell behind). */
  late: number;
  seconds: number;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Open loop: requests leave on a fixed schedule (`rate` per second), whether or not earlier ones
 * were answered, so a slow server shows up as latency instead of quietly lowering the rate.
 * A 1 ms tick sends whatever the schedule says is due.
 */
export async function openLoop(opts: { url: string; keys: string[]; body: string; rate: number; seconds: number; connections: number }): Promise<OpenLoopResult> {
  const target = new URL(opts.url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const accepted: Accepted[] = [];
  let failed = 0;
  let late = 0;
  let sent = 0;
  const total = Math.round(opts.rate * opts.seconds);
  const inFlight = new Set<Promise<void>>();

  const send = (n: number, slot: number) => {
    const sentAt = now();
    if (sentAt - slot > 10) late++;
    const p = pool
      .request({
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.keys[n % opts.keys.length]}` },
        body: opts.body,
      })
      .then(async (res) => {
        const acceptedAt = now();
        const text = await res.body.text();
        if (res.statusCode !== 202) {
          failed++;
          return;
        }
        accepted.push({ id: (JSON.parse(text) as { id: string }).id, sentAt, acceptedAt });
      })
      .catch(() => {
        failed++;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const start = now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - start) * opts.rate) / 1000));
      while (sent < due) {
        send(sent, start + (sent * 1000) / opts.rate);
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const seconds = (now() - start) / 1000;
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  await pool.close();
  return { accepted, failed, late, seconds };
}

/** A one-off request (set-up calls, the single wide message). */
export async function postJson(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; json: unknown; sentAt: number; answeredAt: number }> {
  const sentAt = now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const answeredAt = now();
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, json, sentAt, answeredAt };
}
