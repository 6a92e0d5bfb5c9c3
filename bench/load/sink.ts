import { fork } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DIST } from '../processes.js';
import { createSinkServer } from '../sinkHttp.js';

/**
 * The load/soak/fault benchmark's receiver, its own process (`fork`) like bench/sink.ts, with what
 * those runs need and the throughput sink does not: a count per (webhook-id, path), so "delivered
 * exactly once per endpoint" can be checked against the database, and paths that hang (read the
 * request, never answer) to play a stuck receiver while the others stay healthy.
 *
 * Same minimal HTTP/1.1 (bench/sinkHttp.ts): the senders are measured on the same two cores.
 * Signatures are not verified here (bench/sink.ts does that).
 */

export type LoadSinkCommand =
  | { type: 'hang'; prefixes: string[] }
  | { type: 'stats' }
  | { type: 'dump'; file: string };

export interface LoadSinkStats {
  /** Requests answered 204. */
  received: number;
  /** Distinct `webhook-id path` pairs answered. */
  unique: number;
  /** Requests read and left unanswered (hanging paths). */
  hung: number;
  firstAt: number;
  lastAt: number;
}

type Reply = { type: 'ready'; port: number } | { type: 'ack' } | { type: 'stats'; stats: LoadSinkStats };

function main(): void {
  const counts = new Map<string, number>();
  let hang: string[] = [];
  let received = 0;
  let hung = 0;
  let firstAt = 0;
  let lastAt = 0;

  const server = createSinkServer((req) => {
    if (hang.some((h) => req.path.startsWith(h))) {
      hung++;
      return false; // read, never answered; nor is anything after it on this connection
    }
    const at = Date.now();
    received++;
    if (firstAt === 0) firstAt = at;
    lastAt = at;
    const key = `${req.id} ${req.path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return true;
  });

  process.on('message', (cmd: LoadSinkCommand) => {
    const reply = (r: Reply) => process.send!(r);
    if (cmd.type === 'hang') {
      hang = cmd.prefixes;
      reply({ type: 'ack' });
    } else if (cmd.type === 'stats') {
      reply({ type: 'stats', stats: { received, unique: counts.size, hung, firstAt, lastAt } });
    } else if (cmd.type === 'dump') {
      // A file, not IPC: a million keys is ~50 MB of text.
      const fd = fs.openSync(cmd.file, 'w');
      let chunk = '';
      for (const [key, n] of counts) {
        chunk += `${key} ${n}\n`;
        if (chunk.length > 1 << 20) {
          fs.writeSync(fd, chunk);
          chunk = '';
        }
      }
      fs.writeSync(fd, chunk);
      fs.closeSync(fd);
      reply({ type: 'ack' });
    }
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies Reply));
}

export interface LoadSink {
  readonly url: string;
  readonly pid: number;
  hang(prefixes: string[]): Promise<void>;
  stats(): Promise<LoadSinkStats>;
  /** Every `webhook-id path` answered, with how many times. */
  counts(file: string): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function startLoadSink(): Promise<LoadSink> {
  const child = fork(path.join(DIST, 'bench', 'load', 'sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=1024'] });
  const waiting: Array<(r: Reply) => void> = [];
  let ready!: (port: number) => void;
  const port = new Promise<number>((resolve) => (ready = resolve));
  child.on('message', (r: Reply) => {
    if (r.type === 'ready') ready(r.port);
    else waiting.shift()?.(r);
  });
  const ask = (cmd: LoadSinkCommand) =>
    new Promise<Reply>((resolve) => {
      waiting.push(resolve);
      child.send(cmd);
    });
  const p = await port;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `http://127.0.0.1:${p}`,
    pid: child.pid!,
    async hang(prefixes) {
      await ask({ type: 'hang', prefixes });
    },
    async stats() {
      const r = await ask({ type: 'stats' });
      if (r.type !== 'stats') throw new Error('sink answered out of order');
      return r.stats;
    },
    async counts(file) {
      await ask({ type: 'dump', file });
      const out = new Map<string, number>();
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (line === '') continue;
        const sp = line.lastIndexOf(' ');
        out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
      }
      fs.rmSync(file, { force: true });
      return out;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      await exited;
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) main();
