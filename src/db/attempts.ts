import type { Knex } from 'knex';

/** One HTTP attempt as the API shows it (the worker writes these rows). */
export interface Attempt {
  id: number;
  deliveryId: string;
  attemptNumber: number;
  attemptedAt: Date;
  url: string;
  requestHeaders: Record<string, string>;
  statusCode: number | null;
  durationMs: number;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  errorKind: string | null;
  errorMessage: string | null;
  outcome: 'succeeded' | 'failed';
  nextAttemptAt: Date | null;
}

interface AttemptRow {
  id: number;
  delivery_id: string;
  attempt_number: number;
  attempted_at: Date;
  url: string;
  request_headers: Record<string, string>;
  status_code: number | null;
  duration_ms: number;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  error_kind: string | null;
  error_message: string | null;
  outcome: 'succeeded' | 'failed';
  next_attempt_at: Date | null;
}

function toAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    attemptNumber: row.attempt_number,
    attemptedAt: row.attempted_at,
    url: row.url,
    requestHeaders: row.request_headers,
    statusCode: row.status_code,
    durationMs: row.duration_ms,
    responseHeaders: row.response_headers,
    responseBody: row.response_body,
    errorKind: row.error_kind,
    errorMessage: row.error_message,
    outcome: row.outcome,
    nextAttemptAt: row.next_attempt_at,
  };
}

/**
 * The attempts of several deliveries in one query, in order. The request body is left out: it is
 * the message's payload, which the message itself already shows.
 */
export async function listAttempts(db: Knex, resourceId: string, deliveryIds: readonly string[]): Promise<Attempt[]> {
  if (deliveryIds.length === 0) return [];
  const { rows } = await db.raw<{ rows: AttemptRow[] }>(
    `select id, delivery_id, attempt_number, attempted_at, url, request_headers, status_code, duration_ms,
       response_headers, response_body, error_kind, error_message, outcome, next_attempt_at
     from attempts where resource_id = ? and delivery_id = any(?::uuid[])
     order by delivery_id, attempt_number, id`,
    [resourceId, [...deliveryIds]],
  );
  return rows.map(toAttempt);
}

/**
 * The request bodies the worker recorded for these attempts (by attempt id). The worker records
 * one only when it differs from the standard envelope (Slack and Discord formats); null otherwise.
 */
export async function listAttemptRequestBodies(db: Knex, resourceId: string, attemptIds: readonly number[]): Promise<Map<number, string | null>> {
  if (attemptIds.length === 0) return new Map();
  const { rows } = await db.raw<{ rows: { id: string | number; request_body: string | null }[] }>(
    'select id, request_body from attempts where resource_id = ? and id = any(?::bigint[])',
    [resourceId, attemptIds.map(String)],
  );
  return new Map(rows.map((r) => [Number(r.id), r.request_body]));
}
