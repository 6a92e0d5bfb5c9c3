import { loadManifest } from './manifest.js';

export type NodeEnv = 'development' | 'test' | 'production';
const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly nodeEnv: NodeEnv;
  readonly isProduction: boolean;
  readonly port: number;
  /** Web processes per dyno (node:cluster); each has its own pool of databasePoolMax connections. */
  readonly webConcurrency: number;
  /** Undefined: run on the embedded Postgres under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** Heroku Postgres needs TLS without certificate verification; local servers need none. */
  readonly databaseSsl: false | { rejectUnauthorized: false };
  readonly databasePoolMax: number;
  readonly dataDir: string;
  /** Port of the embedded Postgres (`npm start` without DATABASE_URL). Undefined: 5433, or a free one. */
  readonly embeddedPgPort: number | undefined;
  readonly logLevel: LogLevel;
  /** Base URL of this service, used for the HERALD_URL config var and links. No trailing slash. */
  readonly publicUrl: string;
  readonly sessionSecret: string;
  /** Key from which each resource's API key is derived (so keys are never stored in plain text). */
  readonly apiKeySecret: string;
  readonly heroku: { readonly addonId: string; readonly apiPassword: string; readonly ssoSalt: string };
  readonly sessionTtlSeconds: number;
  /** Lets endpoints target loopback/private addresses. Development and tests only. */
  readonly allowPrivateTargets: boolean;
  readonly secretRotationGraceHours: number;
  readonly worker: {
    readonly batchSize: number;
    readonly concurrency: number;
    /** Payload bytes in flight per worker process: bounds its memory whatever the payload sizes. */
    readonly maxInFlightBytes: number;
    readonly leaseSeconds: number;
    readonly pollIntervalMs: number;
  };
  readonly shutdownTimeoutMs: number;
}

export type Env = Record<string, string | undefined>;

/** Thrown with every problem found, so an operator fixes them all in one go. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function isLocalDatabase(url: URL): boolean {
  return ['localhost', '127.0.0.1', '::1', '[::1]'].includes(url.hostname) || url.hostname === '';
}

/**
 * Reads and validates the whole configuration at once. Pure: tests pass a literal object.
 * Outside production the partner credentials default to the manifest's so Heroku's test tools and
 * a newcomer work with no set-up; in production every secret must be set and must not be the
 * manifest's placeholder.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const manifest = loadManifest();

  const nodeEnvRaw = env.NODE_ENV ?? 'development';
  let nodeEnv: NodeEnv = 'development';
  if (nodeEnvRaw === 'development' || nodeEnvRaw === 'test' || nodeEnvRaw === 'production') nodeEnv = nodeEnvRaw;
  else problems.push(`NODE_ENV must be development, test or production (got "${nodeEnvRaw}")`);
  const isProduction = nodeEnv === 'production';

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return false;
    if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return false;
  };

  const port = int('PORT', 5000, 1, 65535);

  let databaseUrl = env.DATABASE_URL || undefined;
  let databaseSsl: Config['databaseSsl'] = false;
  if (databaseUrl) {
    try {
      const url = new URL(databaseUrl);
      if (!['postgres:', 'postgresql:'].includes(url.protocol)) problems.push('DATABASE_URL must be a postgres:// URL');
      const sslmode = url.searchParams.get('sslmode');
      if (sslmode === 'disable') databaseSsl = false;
      else if (sslmode || !isLocalDatabase(url)) databaseSsl = { rejectUnauthorized: false };
      if (sslmode) {
        // pg would otherwise re-read sslmode and demand a verified certificate.
        url.searchParams.delete('sslmode');
        databaseUrl = url.toString();
      }
    } catch {
      problems.push('DATABASE_URL is not a valid URL');
    }
  } else if (isProduction) {
    problems.push('DATABASE_URL is required in production (attach Heroku Postgres)');
  }

  const logLevelRaw = (env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info')).toLowerCase();
  let logLevel: LogLevel = 'info';
  if ((LOG_LEVELS as readonly string[]).includes(logLevelRaw)) logLevel = logLevelRaw as LogLevel;
  else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}")`);

  let publicUrl = env.PUBLIC_URL ?? '';
  if (!publicUrl) {
    if (isProduction) problems.push('PUBLIC_URL is required in production (e.g. https://herald.example.com)');
    publicUrl = `http://localhost:${port}`;
  } else {
    try {
      const url = new URL(publicUrl);
      if (isProduction && url.protocol !== 'https:') problems.push('PUBLIC_URL must be https:// in production');
      if (!['http:', 'https:'].includes(url.protocol)) problems.push('PUBLIC_URL must be an http(s) URL');
      publicUrl = publicUrl.replace(/\/+$/, '');
    } catch {
      problems.push('PUBLIC_URL is not a valid URL');
    }
  }

  const secret = (name: string, devDefault: string, placeholder: string | undefined, minLength: number): string => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (isProduction) {
        problems.push(`${name} is required in production`);
        return '';
      }
      return devDefault;
    }
    if (isProduction && placeholder !== undefined && raw === placeholder) {
      problems.push(`${name} is still the placeholder from addon-manifest.json; set the real value`);
    }
    if (isProduction && raw.length < minLength) problems.push(`${name} must be at least ${minLength} characters`);
    return raw;
  };

  const addonId = env.HEROKU_ADDON_ID || manifest.id;
  const apiPassword = secret('HEROKU_API_PASSWORD', manifest.api.password, manifest.api.password, 16);
  const ssoSalt = secret('HEROKU_SSO_SALT', manifest.api.sso_salt, manifest.api.sso_salt, 16);
  const sessionSecret = secret('SESSION_SECRET', 'herald-development-session-secret-not-for-production', undefined, 32);
  const apiKeySecret = secret('API_KEY_SECRET', 'herald-development-api-key-secret-not-for-production', undefined, 32);

  const allowPrivateTargets = bool('ALLOW_PRIVATE_TARGETS');
  if (isProduction && allowPrivateTargets) {
    problems.push('ALLOW_PRIVATE_TARGETS cannot be enabled in production (it would open Herald to SSRF)');
  }

  const config: Config = {
    nodeEnv,
    isProduction,
    port,
    webConcurrency: int('WEB_CONCURRENCY', 1, 1, 32),
    databaseUrl,
    databaseSsl,
    databasePoolMax: int('DATABASE_POOL_MAX', 10, 1, 200),
    dataDir: env.HERALD_DATA_DIR || '.data',
    embeddedPgPort: env.EMBEDDED_PG_PORT ? int('EMBEDDED_PG_PORT', 5433, 1, 65535) : undefined,
    logLevel,
    publicUrl,
    sessionSecret,
    apiKeySecret,
    heroku: { addonId, apiPassword, ssoSalt },
    sessionTtlSeconds: int('SESSION_TTL_SECONDS', 8 * 3600, 60, 7 * 24 * 3600),
    allowPrivateTargets,
    secretRotationGraceHours: int('SECRET_ROTATION_GRACE_HOURS', 24, 0, 7 * 24),
    worker: {
      batchSize: int('WORKER_BATCH_SIZE', 200, 1, 5000),
      concurrency: int('WORKER_CONCURRENCY', 256, 1, 10000),
      maxInFlightBytes: int('WORKER_MAX_IN_FLIGHT_MB', 32, 1, 4096) * 1024 * 1024,
      leaseSeconds: int('WORKER_LEASE_SECONDS', 60, 5, 3600),
      pollIntervalMs: int('WORKER_POLL_INTERVAL_MS', 1000, 10, 60000),
    },
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 25000, 1000, 120000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
