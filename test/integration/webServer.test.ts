import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import express from 'express';
import { createHttpServer } from '../../src/web.js';
import { createTestDb, type TestDb } from '../helpers/testDb.js';
import { waitUntil } from '../helpers/workerProcess.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('createHttpServer', () => {
  /** Writes raw bytes to the server and reads what it answers until it closes the connection. */
  function rawRequest(port: number, bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
      let out = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (out += d));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
  }

  it('answers what Node\'s parser refuses with a JSON error: headers over the limit (431), malformed HTTP (400)', async () => {
    const server = createHttpServer(express());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const big = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      const [head431, body431] = big.split('\r\n\r\n');
      expect(head431).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(head431).toContain('Content-Type: application/json');
      expect(JSON.parse(body431!)).toEqual({ error: 'headers_too_large', message: expect.stringContaining('headers are larger') });

      const bad = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n');
      const [head400, body400] = bad.split('\r\n\r\n');
      expect(head400).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(JSON.parse(body400!)).toEqual({ error: 'bad_request', message: 'The request is not valid HTTP/1.1.' });
    } finally {
      server.close();
    }
  });

  it("hands Express requests and responses that already have the app's prototypes", async () => {
    const app = express();
    const seen: boolean[] = [];
    app.use(express.json());
    app.post('/echo', (req, res) => {
      seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response);
      res.status(201).json({ got: req.body, path: req.path, ip: typeof req.ip });
    });
    const server = createHttpServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ got: { a: 1 }, path: '/echo', ip: 'string' });
      expect(seen).toEqual([true, true]);
    } finally {
      server.close();
    }
  });
});

describe('web entry point with WEB_CONCURRENCY', () => {
  let tdb: TestDb;
  beforeAll(async () => {
    tdb = await createTestDb();
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  it('runs that many web processes on one port and drains them all on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/web.ts'], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_OPTIONS: '', NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: tdb.url, PORT: String(port), WEB_CONCURRENCY: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listening = () => lines.filter((l) => l.includes('"message":"listening"')).length;
      await waitUntil('two web processes listening', () => listening() === 2, 20_000);
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(200);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.filter((l) => l.includes('"message":"stopped"'))).toHaveLength(3); // two web processes and the primary
      expect(lines.some((l) => l.includes('"level":"error"'))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
