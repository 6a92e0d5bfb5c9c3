import type { NextFunction, Request, Response } from 'express';
import { AppError, isAppError, isConnectionError } from '../errors.js';
import { errorPage } from './html.js';

/** Body-parser errors carry `type` and `status`; translate them into our error vocabulary. */
function fromBodyParser(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const type = (err as { type: unknown }).type;
  if (type === 'entity.parse.failed') return new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
  if (type === 'entity.too.large') return new AppError(413, 'payload_too_large', 'The request body is too large.');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new AppError(415, 'unsupported_encoding', 'The request body encoding is not supported.');
  if (type === 'request.aborted') return new AppError(400, 'request_aborted', 'The request was aborted.');
  if (type === 'parameters.too.many') return new AppError(413, 'payload_too_large', 'Too many form parameters.');
  return undefined;
}

/**
 * Express itself refuses some requests by throwing an error with a 4xx `status`: the router when a
 * path segment is not valid percent-encoding (`/v1/endpoints/%ZZ`: a URIError), static files for a
 * malformed path. Their messages echo the raw input, so ours is fixed.
 */
function fromFramework(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (err instanceof URIError) return new AppError(400, 'invalid_request', 'The URL is not valid: it has a malformed %-escape.');
  if (status === 404) return new AppError(404, 'not_found', 'Not found.');
  return new AppError(status, 'invalid_request', 'The request could not be understood.');
}

/**
 * The one place errors become responses. AppErrors are rendered as they are; a database outage
 * becomes a 503; anything else is logged with its stack and answered with a generic 500.
 */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let appError = isAppError(err) ? err : (fromBodyParser(err) ?? fromFramework(err));
    if (!appError) {
      if (isConnectionError(err)) {
        res.locals.log?.warn('database unavailable', { err: (err as Error).message });
        appError = new AppError(503, 'unavailable', 'Herald cannot reach its database right now. Please retry shortly.');
      } else {
        res.locals.log?.error('unhandled error', {
          err: err instanceof Error ? { message: err.message, stack: err.stack, name: err.name } : String(err),
          method: req.method,
          path: req.path,
        });
        appError = new AppError(500, 'internal_error', 'Something went wrong on our side. It has been logged.');
      }
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    if (appError.headers) res.set(appError.headers);
    res.status(appError.status);
    if (res.locals.html) {
      res.type('html').send(errorPage(appError.status, appError.code.replace(/_/g, ' '), appError.message));
      return;
    }
    const body: Record<string, unknown> = { error: appError.code, message: appError.message };
    if (appError.details) Object.assign(body, appError.details);
    res.json(body);
  };
}
