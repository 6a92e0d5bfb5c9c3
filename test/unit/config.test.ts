import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Env } from '../../src/config.js';

const manifest = JSON.parse(readFileSync(new URL('../../addon-manifest.json', import.meta.url), 'utf8')) as {
  id: string;
  api: { password: string; sso_salt: string };
};

/** A complete, valid production environment; each test breaks one thing. */
const PROD: Env = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://user:pw@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc',
  PUBLIC_URL: 'https://herald.example.com',
  SESSION_SECRET: 's'.repeat(48),
  API_KEY_SECRET: 'k'.repeat(48),
  HEROKU_ADDON_ID: 'herald',
  HEROKU_API_PASSWORD: 'real-partner-password-0123456789',
  HEROKU_SSO_SALT: 'real-sso-salt-0123456789abcdef',
};

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts a complete production environment', () => {
    const config = loadConfig(PROD);
    expect(config.isProduction).toBe(true);
    expect(config.heroku).toEqual({
      addonId: 'herald',
      apiPassword: PROD.HEROKU_API_PASSWORD,
      ssoSalt: PROD.HEROKU_SSO_SALT,
    });
    expect(config.publicUrl).toBe('https://herald.example.com');
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'eighty', LOG_LEVEL: 'loud', WORKER_CONCURRENCY: '0' });
    const named = (name: string) => problems.some((p) => p.startsWith(name));
    for (const name of [
      'PORT',
      'LOG_LEVEL',
      'WORKER_CONCURRENCY',
      'DATABASE_URL',
      'PUBLIC_URL',
      'SESSION_SECRET',
      'API_KEY_SECRET',
      'HEROKU_API_PASSWORD',
      'HEROKU_SSO_SALT',
    ]) {
      expect({ name, found: named(name) }).toEqual({ name, found: true });
    }
    expect(problems.length).toBeGreaterThanOrEqual(9);
  });

  it('puts each problem on its own line of the error message', () => {
    expect(() => loadConfig({ PORT: '0', DATABASE_POOL_MAX: 'lots' })).toThrow(
      /Invalid configuration:\n {2}- PORT must be an integer between 1 and 65535 \(got "0"\)\n {2}- DATABASE_POOL_MAX/,
    );
  });

  it.each(['SESSION_SECRET', 'API_KEY_SECRET', 'HEROKU_API_PASSWORD', 'HEROKU_SSO_SALT'])(
    'refuses a production environment without %s, and says so',
    (name) => {
      const env = { ...PROD, [name]: undefined };
      expect(problemsOf(env)).toEqual([`${name} is required in production`]);
    },
  );

  it("refuses the manifest's placeholder password and salt in production, naming each", () => {
    const problems = problemsOf({ ...PROD, HEROKU_API_PASSWORD: manifest.api.password, HEROKU_SSO_SALT: manifest.api.sso_salt });
    expect(problems).toEqual([
      'HEROKU_API_PASSWORD is still the placeholder from addon-manifest.json; set the real value',
      'HEROKU_SSO_SALT is still the placeholder from addon-manifest.json; set the real value',
    ]);
  });

  it('refuses short secrets in production without echoing them', () => {
    const problems = problemsOf({ ...PROD, SESSION_SECRET: 'short-sekrit' });
    expect(problems).toEqual(['SESSION_SECRET must be at least 32 characters']);
    expect(problems.join('\n')).not.toContain('short-sekrit');
  });

  it('requires an https PUBLIC_URL in production and strips trailing slashes', () => {
    expect(problemsOf({ ...PROD, PUBLIC_URL: 'http://herald.example.com' })).toEqual(['PUBLIC_URL must be https:// in production']);
    expect(loadConfig({ ...PROD, PUBLIC_URL: 'https://herald.example.com//' }).publicUrl).toBe('https://herald.example.com');
  });

  it('takes the partner credentials from addon-manifest.json outside production', () => {
    for (const NODE_ENV of ['development', 'test', undefined]) {
      const config = loadConfig({ NODE_ENV });
      expect(config.heroku).toEqual({ addonId: manifest.id, apiPassword: manifest.api.password, ssoSalt: manifest.api.sso_salt });
      expect(config.sessionSecret.length).toBeGreaterThanOrEqual(32);
      expect(config.apiKeySecret.length).toBeGreaterThanOrEqual(32);
    }
  });

  it('defaults to development on port 5000 with the embedded database', () => {
    const config = loadConfig({});
    expect(config.nodeEnv).toBe('development');
    expect(config.port).toBe(5000);
    expect(config.publicUrl).toBe('http://localhost:5000');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe('.data');
    expect(config.embeddedPgPort).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.allowPrivateTargets).toBe(false);
  });

  it('reads PORT, HERALD_DATA_DIR and EMBEDDED_PG_PORT', () => {
    const config = loadConfig({ PORT: '8080', HERALD_DATA_DIR: '/var/herald', EMBEDDED_PG_PORT: '55432' });
    expect(config.port).toBe(8080);
    expect(config.publicUrl).toBe('http://localhost:8080');
    expect(config.dataDir).toBe('/var/herald');
    expect(config.embeddedPgPort).toBe(55432);
    expect(problemsOf({ EMBEDDED_PG_PORT: 'high' })).toEqual(['EMBEDDED_PG_PORT must be an integer between 1 and 65535 (got "high")']);
  });

  it('reads WEB_CONCURRENCY (web processes per dyno), 1 by default', () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: '4' }).webConcurrency).toBe(4);
    expect(problemsOf({ WEB_CONCURRENCY: '0' })).toEqual(['WEB_CONCURRENCY must be an integer between 1 and 32 (got "0")']);
  });

  it('refuses an unknown NODE_ENV', () => {
    expect(problemsOf({ NODE_ENV: 'staging' })).toEqual(['NODE_ENV must be development, test or production (got "staging")']);
  });

  describe('DATABASE_URL', () => {
    const ssl = (url: string) => loadConfig({ DATABASE_URL: url });

    it('uses TLS without certificate verification for a remote server (Heroku Postgres)', () => {
      const config = ssl('postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d');
      expect(config.databaseSsl).toEqual({ rejectUnauthorized: false });
      expect(config.databaseUrl).toBe('postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d');
    });

    it.each(['postgres://postgres@localhost:5432/herald', 'postgres://postgres@127.0.0.1/herald', 'postgresql://postgres@[::1]:5432/herald'])(
      'uses no TLS for a local server: %s',
      (url) => {
        expect(ssl(url).databaseSsl).toBe(false);
      },
    );

    it('honours sslmode=disable for a remote server and removes the parameter', () => {
      const config = ssl('postgres://u:p@db.internal:5432/d?sslmode=disable&application_name=x');
      expect(config.databaseSsl).toBe(false);
      expect(config.databaseUrl).toBe('postgres://u:p@db.internal:5432/d?application_name=x');
    });

    it('turns any other sslmode into TLS without verification and removes it (pg would demand a verified certificate)', () => {
      const config = ssl('postgres://postgres@localhost:5432/d?sslmode=require');
      expect(config.databaseSsl).toEqual({ rejectUnauthorized: false });
      expect(config.databaseUrl).toBe('postgres://postgres@localhost:5432/d');
    });

    it('refuses what is not a postgres URL', () => {
      expect(problemsOf({ DATABASE_URL: 'mysql://localhost/d' })).toEqual(['DATABASE_URL must be a postgres:// URL']);
      expect(problemsOf({ DATABASE_URL: 'not a url' })).toEqual(['DATABASE_URL is not a valid URL']);
    });
  });

  it('refuses ALLOW_PRIVATE_TARGETS in production but allows it elsewhere', () => {
    expect(problemsOf({ ...PROD, ALLOW_PRIVATE_TARGETS: 'true' })).toEqual([
      'ALLOW_PRIVATE_TARGETS cannot be enabled in production (it would open Herald to SSRF)',
    ]);
    expect(loadConfig({ ...PROD, ALLOW_PRIVATE_TARGETS: 'false' }).allowPrivateTargets).toBe(false);
    expect(loadConfig({ ALLOW_PRIVATE_TARGETS: 'yes' }).allowPrivateTargets).toBe(true);
    expect(problemsOf({ ALLOW_PRIVATE_TARGETS: 'maybe' })).toEqual(['ALLOW_PRIVATE_TARGETS must be true or false (got "maybe")']);
  });

  it('returns a deeply frozen config', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.heroku)).toBe(true);
    expect(Object.isFrozen(config.worker)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.worker as { concurrency: number }).concurrency = 1;
    }).toThrow(TypeError);
  });
});
