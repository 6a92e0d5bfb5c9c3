import net from 'node:net';

/**
 * The minimal HTTP/1.1 server both benchmark receivers speak (bench/sink.ts, bench/load/sink.ts)
 * instead of node:http: content-length bodies, keep-alive, every complete request of a read parsed
 * at once, and their answers (204) written together. The receiver runs on the same two cores as
 * the senders it measures, so it should take as little of them as it can: ~35-50 µs of CPU per
 * request this way, ~70-80 µs with node:http.
 */
export interface SinkRequest {
  path: string;
  /** The Standard Webhooks headers ('' when absent). */
  id: string;
  timestamp: string;
  signatures: string;
  body: Buffer;
}

const NO_CONTENT = 'HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\nKeep-Alive: timeout=120\r\n\r\n';

/**
 * `onRequest` answers true to have the request answered 204, false to leave it (and everything
 * after it on that connection) unanswered: a hanging receiver.
 */
export function createSinkServer(onRequest: (req: SinkRequest) => boolean): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let stuck = false;
    socket.on('data', (chunk: Buffer) => {
      if (stuck) return;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let answers = 0;
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) break;
        const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
        const path = lines[0]!.split(' ')[1] ?? '/';
        let length = 0;
        let id = '';
        let timestamp = '';
        let signatures = '';
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i]!;
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).toLowerCase();
          if (name === 'content-length') length = Number(line.slice(colon + 1));
          else if (name === 'webhook-id') id = line.slice(colon + 1).trim();
          else if (name === 'webhook-timestamp') timestamp = line.slice(colon + 1).trim();
          else if (name === 'webhook-signature') signatures = line.slice(colon + 1).trim();
          else if (name === 'transfer-encoding') {
            // Every sender measured here sends a content-length; anything else is a bench bug.
            socket.destroy(new Error('chunked bodies are not supported by the bench sink'));
            return;
          }
        }
        const end = headEnd + 4 + length;
        if (buf.length < end) break;
        const body = buf.subarray(headEnd + 4, end);
        buf = buf.subarray(end);
        if (!onRequest({ path, id, timestamp, signatures, body })) {
          stuck = true;
          break;
        }
        answers++;
      }
      if (answers > 0) socket.write(NO_CONTENT.repeat(answers));
    });
    socket.on('error', () => {});
  });
}
