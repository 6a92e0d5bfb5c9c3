import { spawn, type ChildProcess } from 'node:child_process';
import type { Knex } from 'knex';

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** stdout and stderr lines so far (JSON log lines). */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs the real worker entry point (`node --import tsx src/worker.ts`, or a built `entry`) as its
 * own process, against `databaseUrl`, with test defaults (private targets allowed) and `env` on top.
 */
export function spawnWorker(
  databaseUrl: string,
  env: Record<string, string> = {},
  opts: { entry?: string; nodeFlags?: string[] } = {},
): WorkerProcess {
  const args = [...(opts.nodeFlags ?? []), ...(opts.entry ? [opts.entry] : ['--import', 'tsx', 'src/worker.ts'])];
  const child = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_OPTIONS: '',
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      ALLOW_PRIVATE_TARGETS: 'true',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, exited, kill: (signal) => child.kill(signal) };
}

/** How many LISTEN connections of workers are subscribed in `database`. */
export async function listeningWorkers(db: Knex, database: string): Promise<number> {
  const { rows } = await db.raw(
    `select count(*) as n from pg_stat_activity where datname = ? and application_name = 'herald-worker-listen' and query ilike 'listen %'`,
    [database],
  );
  return Number(rows[0].n);
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
