/** Small helpers the chat formats share. Pure. */

/** Cuts `s` to at most `max` UTF-16 units, ending with "…", never splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${s.slice(0, end)}…`;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parsePayload(payload: string): Json {
  try {
    return JSON.parse(payload) as Json;
  } catch {
    // Stored payloads are validated JSON; if one is not, show it as text rather than fail the send.
    return payload;
  }
}

/** A string field, or undefined when missing or not a non-empty string/number. */
export function str(obj: Record<string, Json> | undefined, key: string): string | undefined {
  const v = obj?.[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/**
 * The Heroku notification detail inside a message's data: the receiver stores `detail` either as
 * the data itself (with `event`/`heroku_id` added) or nested under `detail`; accept both.
 */
export function herokuDetail(data: Json): Record<string, Json> | undefined {
  if (!isObject(data)) return undefined;
  return isObject(data.detail) ? data.detail : data;
}

/** Heroku sends `git_log` as one multi-line string; tolerate a list too. */
export function gitLogLines(v: Json | undefined): string[] {
  const lines = Array.isArray(v) ? v.map((l) => String(l)) : typeof v === 'string' ? v.split('\n') : [];
  return lines.map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
}

export function shortSha(detail: Record<string, Json>): string | undefined {
  const head = str(detail, 'head') ?? str(detail, 'head_long');
  return head?.slice(0, 7);
}

/** An http(s) URL that can sit inside chat link syntax without breaking it, or undefined. */
export function linkableUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  try {
    const url = new URL(v);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const href = url.toString();
    return /[\s<>|()[\]]/.test(href) ? undefined : href;
  } catch {
    return undefined;
  }
}

/** `data` as indented JSON, without a Heroku log token (it grants write access to the app's logs). */
export function compactJson(data: Json, max: number): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data, (k, v: unknown) => (k === 'log_token' ? undefined : v), 2);
  return truncate(text ?? 'null', max);
}

/** Top-level scalar fields, for a two-column summary. */
export function scalarFields(data: Json, limit: number): Array<[string, string]> {
  if (!isObject(data)) return [];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(data)) {
    if (k === 'log_token') continue;
    if (v === null || typeof v === 'object') continue;
    out.push([k, String(v)]);
    if (out.length >= limit) break;
  }
  return out;
}
