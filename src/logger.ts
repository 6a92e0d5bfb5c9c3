import winston from 'winston';
import type { LogLevel } from './config.js';

export type Logger = winston.Logger;

/** Field names whose values never reach a log line, whatever logs them. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[_-]?key|cookie|salt|signature/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

/**
 * One structured JSON logger per process. Short fixed messages; data goes in fields; children
 * carry `requestId` or `deliveryId`/`endpointId`/`attempt`.
 */
export function createLogger(opts: {
  level: LogLevel;
  service: string;
  stream?: NodeJS.WritableStream;
  silent?: boolean;
}): Logger {
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: [] });
  const logger: Logger = winston.createLogger({
    level: opts.level,
    silent: opts.silent ?? false,
    defaultMeta: { service: opts.service },
    format: winston.format.combine(
      // winston formats every line and only its transport drops those below the level: without
      // this gate, each request's `http` access line was redacted, timestamped and serialised for
      // nothing at the default `info` level.
      winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false))(),
      redactFormat(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [transport],
  });
  return logger;
}
