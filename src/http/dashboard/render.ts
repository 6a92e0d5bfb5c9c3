import type { Response } from 'express';
import { isAppError } from '../../errors.js';
import { renderView } from '../views.js';

/** What every dashboard and portal page's layout needs besides its own content. */
export interface Chrome {
  title: string;
  /** Heroku's nav header (dashboard sessions from Heroku SSO); null in the portal. */
  heroku: { app: string; addon: string } | null;
  surface: 'dashboard' | 'portal';
  /** URL prefix of the surface: /dashboard or /portal. */
  base: string;
  nav: Array<{ href: string; label: string; current: boolean }>;
  /** The session's CSRF token, for every form on the page. */
  csrf: string;
  /** Shown at the top right (app name, or the subscriber's name in the portal). */
  who: string;
  notice: string | null;
}

/** Fixed notices, chosen by a code in the query string after a redirect (never free text from the URL). */
const NOTICES: Record<string, (q: Record<string, unknown>) => string> = {
  'endpoint-created': () => 'Endpoint created. Reveal its signing secret below to configure your receiver.',
  'endpoint-saved': () => 'Endpoint saved.',
  'endpoint-deleted': () => 'Endpoint deleted, with its deliveries.',
  'endpoint-enabled': () => 'Endpoint enabled: new messages will be delivered to it.',
  'endpoint-disabled': () => 'Endpoint disabled: new messages are kept as skipped until you recover them.',
  recovered: (q) => `Recovery started: ${count(q.n)} ${count(q.n) === 1 ? 'delivery was' : 'deliveries were'} queued again.`,
  'test-sent': () => 'Test event sent. Its attempt appears below once a worker has delivered it (reload the page).',
  retried: () => 'Delivery queued again: it will be sent as soon as a worker is free.',
  'subscriber-created': () => 'Subscriber created.',
  'subscriber-saved': () => 'Subscriber saved.',
  'subscriber-deleted': () => 'Subscriber deleted, with its endpoints.',
  'event-type-saved': () => 'Event type saved.',
};

function count(v: unknown): number {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function noticeFrom(query: Record<string, unknown>): string | null {
  const code = query.notice;
  if (typeof code !== 'string' || !Object.prototype.hasOwnProperty.call(NOTICES, code)) return null;
  return NOTICES[code]!(query);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Formatting helpers the templates use; every time is shown in UTC, and said so. */
export const fmt = {
  time(d: Date | string | null | undefined): string {
    if (!d) return '—';
    const t = new Date(d);
    return `${t.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  },
  /** `YYYY-MM-DDTHH:MM` for <input type="datetime-local">, in UTC. */
  datetimeLocal(d: Date): string {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  },
  n(v: number): string {
    return Number(v).toLocaleString('en-US');
  },
  ms(v: number | null | undefined): string {
    return v === null || v === undefined ? '—' : `${Number(v).toLocaleString('en-US')} ms`;
  },
  pct(v: number | null | undefined): string {
    return v === null || v === undefined ? '—' : `${v}%`;
  },
  /** JSON text pretty-printed when it parses; as it was otherwise. */
  json(text: string | null | undefined): string {
    if (text === null || text === undefined) return '';
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  },
  jsonValue(v: unknown): string {
    return JSON.stringify(v, null, 2);
  },
};

/** Renders a full page (layout included) with the no-store header every per-account page needs. */
export function sendPage(res: Response, view: string, chrome: Chrome, data: object, status = 200): void {
  res
    .status(status)
    .type('html')
    // Per-account data (and sometimes a secret): never let a shared cache or the back button keep it.
    .set('Cache-Control', 'private, no-store')
    .send(renderView(view, { ...chrome, ...data, chrome, fmt }));
}

export interface FormFailure {
  status: number;
  /** Message per form field, from the service's `details.field`. */
  errors: Record<string, string>;
  /** A message that belongs to no single field (a plan limit, a missing subscriber). */
  formError: string | null;
}

/**
 * Turns a client error from a service (or the API's body parser) into messages for the form:
 * next to the field it names when the form has that field, above the form otherwise. Anything
 * else (a 5xx, a bug) is not the person's fault and goes to the error handler.
 */
export function formFailure(err: unknown, formFieldNames: readonly string[]): FormFailure | undefined {
  if (!isAppError(err) || err.status >= 500 || err.status === 401 || err.status === 403) return undefined;
  const field = typeof err.details?.field === 'string' ? err.details.field : undefined;
  if (field !== undefined && formFieldNames.includes(field)) {
    return { status: err.status, errors: { [field]: err.message }, formError: null };
  }
  return { status: err.status, errors: {}, formError: err.message };
}
