import { AppError } from './errors.js';
import { textProblem } from './validation.js';

/**
 * Cursor pagination for every list: `limit` (default 50, at most 250) and an opaque `cursor`.
 * A cursor is the sort key of the last row returned — (created_at, id) for most lists, the name
 * for event types — base64url-encoded, so new rows never shift a page the way offsets would.
 * Timestamps travel as Postgres' own microsecond text: a JS Date would round them to milliseconds
 * and could skip or repeat rows created within the same millisecond.
 */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 250;

export interface PageParams {
  limit: number;
  /** The decoded sort key of the previous page's last row. */
  after: string[] | undefined;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const invalidCursor = () =>
  new AppError(400, 'invalid_request', 'cursor: not a cursor from a previous page of this list', {
    details: { field: 'cursor' },
  });

export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, parts: number): string[] {
  if (cursor.length > 1000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  // A NUL would reach Postgres as a text parameter and fail there (a 500): refused like any forgery.
  if (!Array.isArray(key) || key.length !== parts || !key.every((k) => typeof k === 'string' && k.length <= 300 && !textProblem(k))) {
    throw invalidCursor();
  }
  return key as string[];
}

/** Microsecond UTC text as produced by `cursorTimestamp` in SQL. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * The shape is not enough: `2026-13-45T99:99:99` or year 0 would reach Postgres and fail there as
 * "out of range" (a 500). A real instant survives a round trip through Date unchanged.
 */
function isCursorTime(text: string): boolean {
  if (!CURSOR_TIME.test(text) || text.startsWith('0000')) return false;
  const millis = `${text.slice(0, 23)}Z`;
  const t = Date.parse(millis);
  return !Number.isNaN(t) && new Date(t).toISOString() === millis;
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** SQL expression giving the exact cursor text of a `created_at` column. */
export const cursorTimestamp = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function single(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new AppError(400, 'invalid_request', `${field}: give it once, as a string`, { details: { field } });
  }
  return value;
}

export function parseLimit(raw: unknown): number {
  const s = single(raw, 'limit');
  if (s === undefined || s === '') return DEFAULT_LIMIT;
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new AppError(400, 'invalid_request', `limit: must be an integer between 1 and ${MAX_LIMIT}`, {
      details: { field: 'limit' },
    });
  }
  return n;
}

/** Page parameters of a list keyed by (created_at, id). */
export function parseTimePage(query: Record<string, unknown>): PageParams {
  const limit = parseLimit(query.limit);
  const cursor = single(query.cursor, 'cursor');
  if (cursor === undefined || cursor === '') return { limit, after: undefined };
  const key = decodeCursor(cursor, 2);
  if (!isCursorTime(key[0]!) || !UUID.test(key[1]!)) throw invalidCursor();
  return { limit, after: key };
}

/** Page parameters of a list keyed by one text column (event type names). */
export function parseNamePage(query: Record<string, unknown>): PageParams {
  const limit = parseLimit(query.limit);
  const cursor = single(query.cursor, 'cursor');
  if (cursor === undefined || cursor === '') return { limit, after: undefined };
  return { limit, after: decodeCursor(cursor, 1) };
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says that another page exists.
 */
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => string[], map: (row: R) => T): Page<T> {
  const hasMore = rows.length > limit;
  const shown = hasMore ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return {
    data: shown.map(map),
    next_cursor: hasMore && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
