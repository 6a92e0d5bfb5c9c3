import { invalidField } from './errors.js';

/**
 * Validation of what callers send, in one place so every message names the field and says what
 * is wrong with it (pg-boss style). Each helper throws a 400 `invalid_request` naming the field.
 */
export type Body = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids; anything else cannot name a row, so routes answer 404 without asking Postgres. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The request body as an object. The customer API refuses unknown fields so a typo
 * (`event_typ`) is a clear 400 instead of a silently ignored setting.
 */
export function objectBody(body: unknown, allowed: readonly string[]): Body {
  if (body === undefined) return {};
  if (!isPlainObject(body)) throw invalidField('body', 'must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw invalidField(key, `unknown field (allowed: ${allowed.join(', ')})`);
  }
  return body;
}

interface StringRules {
  max: number;
  min?: number;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why Postgres could not store `s` exactly as given, or undefined. Text cannot hold NUL (the
 * insert fails: a 500 unless refused here), and a lone surrogate has no UTF-8 form: pg would
 * silently store U+FFFD instead, and jsonb refuses its `\ud800` escape outright.
 */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (it contains a lone surrogate)';
  return undefined;
}

/**
 * How deeply JSON may nest (Ruby's JSON, which Heroku's tooling speaks, stops at 100 as well).
 * JSON.parse handles any depth, but JSON.stringify recurses and overflows the stack somewhere
 * below 10,000 levels, which would be a 500 for a 1 MB request.
 */
export const MAX_JSON_DEPTH = 100;

/** True when `value` has more than `max` levels of arrays and objects. Iterative: depth here is unbounded. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const item of Array.isArray(v) ? v : Object.values(v)) {
      if (item !== null && typeof item === 'object') stack.push([item, depth + 1]);
    }
  }
  return false;
}

const TOO_DEEP = `must not nest arrays and objects more than ${MAX_JSON_DEPTH} levels deep`;

/** JSON.parse reads 1e400 as Infinity, which JSON.stringify then writes as null: the value would change. */
const NON_FINITE = 'must not contain numbers beyond the range of a double (such as 1e400)';

/**
 * Why a parsed JSON value could not be stored and read back exactly, or undefined: a string or key
 * `textProblem` refuses (unless `text: false`: a value kept as JSON text escapes them safely), a
 * number that overflowed, or nesting deeper than MAX_JSON_DEPTH. Iterative, so 10,000 levels of
 * nesting cannot overflow the stack here.
 */
export function jsonProblem(value: unknown, opts: { text?: boolean } = {}): string | undefined {
  const checkText = opts.text ?? true;
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) return TOO_DEEP;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      const problem = checkText ? textProblem(v) : undefined;
      if (problem) return problem;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return NON_FINITE;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        const problem = checkText ? textProblem(key) : undefined;
        if (problem) return problem.replace('must', 'keys must');
        stack.push(item);
      }
    }
  }
  return undefined;
}

export function optionalString(body: Body, field: string, rules: StringRules): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidField(field, 'must be a string');
  const problem = textProblem(v);
  if (problem) throw invalidField(field, problem);
  if (v.length < (rules.min ?? 0)) throw invalidField(field, rules.min === 1 ? 'must not be empty' : `must be at least ${rules.min} characters`);
  if (v.length > rules.max) throw invalidField(field, `must be at most ${rules.max} characters`);
  return v;
}

export function requiredString(body: Body, field: string, rules: StringRules): string {
  const v = optionalString(body, field, rules);
  if (v === undefined) throw invalidField(field, 'is required');
  return v;
}

/** `undefined` = not given (leave as is), `null` = clear it. */
export function nullableString(body: Body, field: string, rules: StringRules): string | null | undefined {
  if (body[field] === null) return null;
  return optionalString(body, field, rules);
}

export function optionalBoolean(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalidField(field, 'must be true or false');
  return v;
}

export function optionalInteger(body: Body, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidField(field, `must be an integer between ${min} and ${max}`);
  }
  return v;
}

export function optionalStringArray(body: Body, field: string, maxItems: number): string[] | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalidField(field, 'must be an array of strings');
  if (v.length > maxItems) throw invalidField(field, `must have at most ${maxItems} entries`);
  return v as string[];
}

export function optionalObject(body: Body, field: string, maxJsonBytes: number): Record<string, unknown> | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!isPlainObject(v)) throw invalidField(field, 'must be a JSON object');
  const problem = jsonProblem(v);
  if (problem) throw invalidField(field, problem);
  if (Buffer.byteLength(JSON.stringify(v)) > maxJsonBytes) throw invalidField(field, `must be at most ${maxJsonBytes} bytes of JSON`);
  return v;
}

/** An id field referring to another row: returns it as given (format checks are the lookup's job). */
export function nullableId(body: Body, field: string): string | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v;
  if (typeof v !== 'string') throw invalidField(field, 'must be a string id');
  return v;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time (a time without a zone is read as UTC). */
export function parseTime(value: unknown, field: string): Date {
  if (typeof value !== 'string' || !ISO_TIME.test(value)) {
    throw invalidField(field, 'must be an ISO 8601 time such as 2026-01-31T12:00:00Z');
  }
  const hasZone = /T.*(Z|[+-]\d{2}:?\d{2})$/.test(value);
  const t = Date.parse(value.includes('T') && !hasZone ? `${value}Z` : value);
  if (Number.isNaN(t)) throw invalidField(field, 'is not a valid date');
  return new Date(t);
}

/** A single query-string value: arrays (`?a=1&a=2`) are refused rather than guessed at, and so is `%00`. */
export function queryString(query: Record<string, unknown>, field: string): string | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidField(field, 'give it once, as a string');
  const problem = textProblem(v);
  if (problem) throw invalidField(field, problem);
  return v;
}
