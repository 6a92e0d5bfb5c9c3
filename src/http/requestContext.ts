import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';

declare module 'express-serve-static-core' {
  interface Locals {
    requestId: string;
    log: Logger;
    /** Set by routers that serve browser pages: errors render as an HTML page. */
    html?: boolean;
  }
}

const VALID_REQUEST_ID = /^[\w\-.:]{1,200}$/;

/**
 * `res.locals.log` as a logger with `fields`, built on first use: most requests never log (at the
 * default level a success writes nothing), and a winston child per request is measurable at
 * thousands a second. Assigning `res.locals.log` still works.
 */
export function lazyLog(res: Response, parent: Logger, fields: Record<string, unknown>): void {
  let log: Logger | undefined;
  Object.defineProperty(res.locals, 'log', {
    configurable: true,
    enumerable: true,
    get: () => (log ??= parent.child(fields)),
    set: (value: Logger) => {
      log = value;
    },
  });
}

/**
 * Takes Heroku's `X-Request-ID` (or makes one), echoes it, and gives the request a child logger.
 * The access line logs the path without the query string: SSO tokens travel there.
 */
export function requestContext(logger: Logger) {
  // Read once: the level is set at boot. At the default `info` the access line is never written,
  // so no listener is registered for it (one per request is measurable at thousands a second).
  const accessLog = logger.isLevelEnabled('http');
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    lazyLog(res, logger, { requestId });
    res.setHeader('X-Request-ID', requestId);
    if (!accessLog) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      res.locals.log.http('request', {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  };
}
