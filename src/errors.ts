/**
 * The one application error. Anything a caller should see is thrown as an AppError with an HTTP
 * status, a stable snake_case code and a human message; the error handler renders it. Anything else
 * is a bug or an outage and becomes a logged, generic 500.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    if (opts.details) this.details = opts.details;
    if (opts.headers) this.headers = opts.headers;
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, details ? { details } : {});
export const unauthorized = (message: string, headers?: Record<string, string>) =>
  new AppError(401, 'unauthorized', message, headers ? { headers } : {});
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(409, code, message, details ? { details } : {});
export const gone = (message: string) => new AppError(410, 'gone', message);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
export const unprocessable = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(422, code, message, details ? { details } : {});
export const tooManyRequests = (message: string, headers?: Record<string, string>) =>
  new AppError(429, 'rate_limited', message, headers ? { headers } : {});
export const unavailable = (message: string) => new AppError(503, 'unavailable', message);

/** A field-level validation failure: 400 naming the field. */
export const invalidField = (field: string, message: string) =>
  new AppError(400, 'invalid_request', `${field}: ${message}`, { details: { field } });

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Postgres error codes we expect and translate where they can happen. */
export const PG = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined;
}

/** Errors that mean "the database is not reachable right now" (restart, failover, network). */
export function isConnectionError(err: unknown): boolean {
  const code = pgCode(err);
  if (code && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  const message = err instanceof Error ? err.message : '';
  return (
    /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated|Client has encountered a connection error|connect ENOENT|Knex: Timeout acquiring a connection/i.test(
      message,
    ) || (code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code))
  );
}
