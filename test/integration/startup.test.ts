import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { createDb } from '../../src/db/knex.js';
import { createLogger } from '../../src/logger.js';
import { migrate } from '../../src/migrate.js';
import { startHerald } from '../../src/start.js';
import { closeServer } from '../../src/web.js';
import { urlFor, withAdmin } from '../helpers/pg.js';

const logLines: string[] = [];
const logger = createLogger({
  level: 'debug',
  service: 'startup-test',
  stream: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const children: ChildProcess[] = [];

/** A data directory the `postgres` OS user can enter when we run as root (mkdtemp makes it 0700). */
function dataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-startup-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
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

/** A live process that is neither Postgres nor Herald, owned by whoever the postmaster runs as. */
function bystander(cmd: string, args: string[]): ChildProcess {
  const owner = isRoot
    ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) }
    : {};
  const child = spawn(cmd, args, { ...owner, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** Exited (a zombie waiting for its reaper counts: it is no longer a postmaster). */
function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('closeServer (web SIGTERM)', () => {
  it('stops accepting, lets the in-flight request finish, then resolves', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const server = http.createServer((_req, res) => void held.then(() => res.end('done')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;

    const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then(async (r) => [r.status, await r.text()]);
    await new Promise((r) => setTimeout(r, 50)); // the request has reached the handler
    let closed = false;
    const closing = closeServer(server, 5_000).then(() => (closed = true));

    await expect(fetch(`http://127.0.0.1:${port}/new`)).rejects.toThrow();
    expect(closed).toBe(false);
    release();
    await expect(inFlight).resolves.toEqual([200, 'done']);
    // The client keeps its socket alive (for ~4 s); the drain must not wait for it.
    const finished = Date.now();
    await closing;
    expect(Date.now() - finished).toBeLessThan(1_000);
    expect(closed).toBe(true);
  });

  it('gives up on a request that outlives the timeout', async () => {
    const server = http.createServer(() => {}); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const stuck = fetch(`http://127.0.0.1:${port}/`).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await closeServer(server, 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(((await stuck) as Error).message).toBe('fetch failed'); // its connection was cut
  });
});

describe('migrate (release phase)', () => {
  it('migrates an empty database once, then finds nothing to do', async () => {
    const name = `herald_t_migrate_${process.pid}`;
    await withAdmin((c) => c.query(`create database "${name}"`));
    const db = createDb({ connectionString: urlFor(name), ssl: false, poolMax: 1 });
    try {
      const first = await migrate(db, logger);
      expect(first.length).toBeGreaterThanOrEqual(8);
      expect(first[0]).toBe('20261123000001_create_resources');
      expect(await migrate(db, logger)).toEqual([]);
    } finally {
      await db.destroy();
      await withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`));
    }
  });

  it('retries reaching the database, then gives up', async () => {
    const db = createDb({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`, ssl: false, poolMax: 1 });
    const before = logLines.filter((l) => l.includes('database not reachable yet')).length;
    try {
      await expect(migrate(db, logger, { retries: 2, minTimeoutMs: 10 })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await db.destroy();
    }
    expect(logLines.filter((l) => l.includes('database not reachable yet')).length - before).toBe(3);
  });
});

describe('embedded Postgres', () => {
  it('creates the cluster on first start and keeps its data across a restart', async () => {
    const dir = dataDir();
    const first = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
    try {
      expect(first.created).toBe(true);
      await query(first.url, 'create table kept (note text); insert into kept values ($$survives$$)');
    } finally {
      await first.stop();
    }
    expect(existsSync(path.join(first.clusterDir, 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(dir, 'herald.pid'))).toBe(false);

    const second = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
    try {
      expect(second.created).toBe(false);
      expect(await query(second.url, 'select note from kept')).toEqual([{ note: 'survives' }]);
      // Loopback TCP only, password required.
      const [settings] = await query<{ listen: string; socket: string }>(
        second.url,
        `select current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as socket`,
      );
      expect(settings).toEqual({ listen: '127.0.0.1', socket: '' });
      const noPassword = new URL(second.url);
      noPassword.password = '';
      await expect(query(noPassword.toString(), 'select 1')).rejects.toThrow();
    } finally {
      await second.stop();
    }
  });

  it('recovers from a crash: stops the orphaned postmaster, and ignores a postmaster.pid whose pid was reused', async () => {
    const dir = dataDir();
    const crashed = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
    const orphanPid = Number(readFileSync(path.join(crashed.clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

    // The crashed Herald never called stop(): its postmaster still runs and its lock file names this
    // (dead, for the purpose of the test) process. A new start must take over.
    const recovered = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
    expect(logLines.some((l) => l.includes('stopping a postmaster left by a previous run'))).toBe(true);
    await expect(query(crashed.url, 'select 1')).rejects.toThrow();
    expect(isGone(orphanPid)).toBe(true);
    expect(await query(recovered.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await recovered.stop();
    await crashed.stop(); // only unhooks its exit handler: its server is gone

    // After a reboot the pid in a stale postmaster.pid may belong to anything; Postgres, running as
    // the same user, would take it for a live server and refuse to start.
    const other = bystander('sleep', ['30']);
    writeFileSync(path.join(recovered.clusterDir, 'postmaster.pid'), `${other.pid}\n${recovered.clusterDir}\n`);
    if (isRoot) execFileSync('chown', ['postgres:postgres', path.join(recovered.clusterDir, 'postmaster.pid')]);
    const afterReboot = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
    try {
      expect(await query(afterReboot.url, 'select 1 as one')).toEqual([{ one: 1 }]);
      expect(logLines.some((l) => l.includes('removing stale postmaster.pid'))).toBe(true);
    } finally {
      await afterReboot.stop();
    }
  });

  it('refuses a data directory another running Herald holds', async () => {
    const dir = dataDir();
    const herald = bystander(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    writeFileSync(path.join(dir, 'herald.pid'), `${herald.pid}\n`);
    await expect(startEmbeddedPostgres({ dataDir: dir, port: await freePort(), logger })).rejects.toThrow(
      `another Herald (pid ${herald.pid}) is using ${dir}`,
    );
    expect(existsSync(path.join(dir, 'postgres'))).toBe(false);
  });
});

describe('npm start (startHerald)', () => {
  it('runs migrations, web and worker on the embedded database and prints a walkthrough that works', async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push(body);
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const receiverPort = (receiver.address() as net.AddressInfo).port;

    const [port, pgPort] = [await freePort(), await freePort()];
    const herald = await startHerald(
      { NODE_ENV: 'development', PORT: String(port), HERALD_DATA_DIR: dataDir(), EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' },
      { logger, walkthroughReceiverPort: receiverPort },
    );
    try {
      const base = `http://localhost:${port}`;
      expect(herald.embedded?.port).toBe(pgPort);
      expect(herald.config.allowPrivateTargets).toBe(true); // so the walkthrough's local receiver works
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      // Follow the printed walkthrough to the letter.
      const text = herald.walkthrough;
      const id = herald.walkthroughResourceId;
      const auth = /curl -sS -u '([^']+)'/.exec(text)?.[1];
      const [provision, endpoint, message] = [...text.matchAll(/-d '([^']+)'/g)].map((m) => m[1]!);
      const apiUrl = /export HERALD_URL=(\S+)/.exec(text)?.[1];
      const apiKey = /export HERALD_API_KEY=(\S+)/.exec(text)?.[1];
      const dashboard = new RegExp(`^(\\S+/dev/sso/${id})$`, 'm').exec(text)?.[1];
      expect([auth, provision, endpoint, message, apiUrl, apiKey, dashboard].every(Boolean)).toBe(true);
      expect(apiUrl).toBe(`${base}/v1`);

      // 1. The partner API provisions the resource and answers with the printed config vars.
      const provisioned = await fetch(`${base}/heroku/resources`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(auth!).toString('base64')}`, 'content-type': 'application/json' },
        body: provision,
      });
      expect(provisioned.status).toBe(200);
      expect(await provisioned.json()).toMatchObject({ id, config: { HERALD_URL: apiUrl, HERALD_API_KEY: apiKey } });

      // 3. An endpoint on the receiver, then a message, with that key.
      const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
      const created = await fetch(`${apiUrl}/endpoints`, { method: 'POST', headers, body: endpoint });
      expect(created.status).toBe(201);
      const sent = await fetch(`${apiUrl}/messages`, { method: 'POST', headers, body: message });
      expect(sent.status).toBe(202);

      // The worker running in the same process delivers it.
      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(received.length).toBe(1);
      expect(received[0]).toContain('ord_1001');

      // 4. The development sign-in link opens that resource's dashboard.
      const signIn = await fetch(dashboard!, { redirect: 'manual' });
      expect(signIn.status).toBe(302);
    } finally {
      await herald.stop();
      await new Promise((r) => receiver.close(r));
    }
    expect(existsSync(path.join(herald.embedded!.clusterDir, 'postmaster.pid'))).toBe(false);
  });
});
