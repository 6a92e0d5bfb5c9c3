import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { SinkCommand, SinkReply, SinkStats } from './sink.js';

/** The built project: dist/bench/processes.js → the repository root. */
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const DIST = path.join(ROOT, 'dist');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** Output lines so far (stdout and stderr). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function track(name: string, child: ChildProcess): Proc {
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(l);
    if (lines.length > 5_000) lines.splice(0, lines.length - 5_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    name,
    child,
    lines,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A Herald entry point from dist/, as the Procfile runs it, with `env` on top of a bare environment. */
export function spawnNode(name: string, script: string, env: Record<string, string>, nodeFlags: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeFlags, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(name, child);
}

/** Resolves when a JSON log line with this `message` appears; rejects if the process exits first. */
export async function waitForLogLine(proc: Proc, message: string, timeoutMs: number): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitUntil(`${proc.name} to log "${message}"`, () => {
    if (exited) throw new Error(`${proc.name} exited before logging "${message}":\n${proc.lines.slice(-20).join('\n')}`);
    return proc.lines.some((l) => l.includes(`"message":"${message}"`));
  }, timeoutMs);
}

export interface Sink {
  readonly url: string;
  readonly pid: number;
  setSecrets(secrets: Record<string, string>): Promise<void>;
  reset(record: boolean): Promise<void>;
  stats(withArrivals?: boolean): Promise<SinkStats>;
  close(): Promise<void>;
}

/** Forks the keep-alive sink (bench/sink.ts) and talks to it over IPC, one command at a time. */
export async function startSink(): Promise<Sink> {
  const child = fork(path.join(DIST, 'bench', 'sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const waiting: Array<(r: SinkReply) => void> = [];
  let ready: (port: number) => void;
  const port = new Promise<number>((resolve) => (ready = resolve));
  child.on('message', (r: SinkReply) => {
    if (r.type === 'ready') ready(r.port);
    else waiting.shift()?.(r);
  });
  const ask = (cmd: SinkCommand) =>
    new Promise<SinkReply>((resolve) => {
      waiting.push(resolve);
      child.send(cmd);
    });
  const p = await port;
  return {
    url: `http://127.0.0.1:${p}`,
    pid: child.pid!,
    async setSecrets(secrets) {
      await ask({ type: 'secrets', secrets });
    },
    async reset(record) {
      await ask({ type: 'reset', record });
    },
    async stats(withArrivals = false) {
      const r = await ask({ type: 'stats', withArrivals });
      if (r.type !== 'stats') throw new Error('sink answered out of order');
      return r.stats;
    },
    async close() {
      child.disconnect();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

// ---- /proc: memory and CPU of our processes -------------------------------------------------

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function rssMb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface Stat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, in seconds. */
  cpu: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    return { pid, ppid: Number(f[1]), comm, cpu: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) out.push(st);
  }
  return out;
}

/** A process and all its descendants (a cluster primary and its workers). */
function tree(stats: Stat[], root: number): Stat[] {
  const byParent = new Map<number, Stat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: Stat[] = [];
  const visit = (pid: number) => {
    const self = stats.find((s) => s.pid === pid);
    if (self) out.push(self);
    for (const c of byParent.get(pid) ?? []) visit(c.pid);
  };
  visit(root);
  return out;
}

export interface CpuSnapshot {
  at: number;
  /** Seconds of CPU per process id. */
  perPid: Map<number, number>;
  /** Process groups we watch: name → pids (a tree at snapshot time). */
  groups: Map<string, number[]>;
}

/**
 * CPU time per component: our process trees by root pid, and the Postgres processes in
 * `postgresPids` (the backends of our databases and the server's own background processes, so
 * that other databases on a shared server are left out).
 */
export function cpuSnapshot(roots: Record<string, number | undefined>, postgresPids: readonly number[] = []): CpuSnapshot {
  const stats = allStats();
  const perPid = new Map(stats.map((s) => [s.pid, s.cpu]));
  const groups = new Map<string, number[]>();
  for (const [name, pid] of Object.entries(roots)) if (pid) groups.set(name, tree(stats, pid).map((s) => s.pid));
  groups.set('postgres', [...postgresPids]);
  groups.set('bench', [process.pid]);
  return { at: performance.now(), perPid, groups };
}

/** Cores used per component between two snapshots (1.0 = one core busy the whole time). */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const seconds = (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  for (const [name, pids] of b.groups) {
    let used = 0;
    for (const pid of new Set([...pids, ...(a.groups.get(name) ?? [])])) {
      const end = b.perPid.get(pid);
      if (end === undefined) continue; // exited meanwhile: its last ticks are lost (short-lived only)
      used += end - (a.perPid.get(pid) ?? 0);
    }
    out[name] = Math.round((used / seconds) * 100) / 100;
  }
  return out;
}

/** Samples RSS of a process tree every `everyMs` until stopped. */
export function sampleRss(pid: () => number | undefined, everyMs = 250): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    const p = pid();
    if (!p) return;
    const stats = allStats();
    samples.push(tree(stats, p).reduce((sum, s) => sum + rssMb(s.pid), 0));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}
