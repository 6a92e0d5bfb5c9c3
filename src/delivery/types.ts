import type { EndpointFormat } from './formats/types.js';

/** A delivery as the claim returns it: the row plus what sending needs from its endpoint, message and resource. */
export interface ClaimedDelivery {
  id: string;
  resourceId: string;
  messageId: string;
  endpointId: string;
  status: 'pending' | 'failed';
  /** Attempts made before this claim. */
  attemptCount: number;
  /** False when the endpoint (or the message) was deleted after this delivery was written: nothing to send. */
  endpointExists: boolean;
  url: string;
  format: EndpointFormat;
  headers: Record<string, string>;
  timeoutMs: number;
  secret: string;
  previousSecrets: PreviousSecret[];
  endpointActive: boolean;
  eventType: string;
  payload: string;
  version: string | null;
  messageCreatedAt: Date;
  /** Undefined when the resource row is missing, which is treated like deprovisioned. */
  resourceState: 'provisioned' | 'deprovisioned' | undefined;
}

export interface PreviousSecret {
  secret: string;
  expires_at: string;
}

/** Why an attempt failed; a closed vocabulary the dashboard and API show as is. */
export type ErrorKind =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'ssrf_blocked'
  | 'unreachable'
  | 'invalid_url'
  | 'http_error'
  | 'redirect'
  | 'network';

/** What came back from one HTTP attempt (or why there was no answer). */
export interface SendResult {
  statusCode?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  errorKind?: ErrorKind;
  errorMessage?: string;
  durationMs: number;
  /** Cut short by the worker's own shutdown: not the receiver's fault, not counted as an attempt. */
  aborted?: boolean;
}

/** The attempt row to insert (snake_case: it goes to Postgres as JSON as is). */
export interface AttemptRecord {
  attempt_number: number;
  attempted_at: string;
  url: string;
  request_headers: Record<string, string>;
  request_body: string | null;
  status_code: number | null;
  duration_ms: number;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  error_kind: ErrorKind | null;
  error_message: string | null;
  outcome: 'succeeded' | 'failed';
  next_attempt_at: string | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead' | 'skipped';

/** How one claimed delivery ends this round: its new row state, the attempt made, and what it says about the endpoint. */
export interface DeliveryResult {
  id: string;
  resourceId: string;
  messageId: string;
  endpointId: string;
  status: DeliveryStatus;
  attemptCount: number;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  completedAt: Date | null;
  attempt: AttemptRecord | null;
  /** For the endpoint health policy: when this attempt finished and how. */
  health: { at: Date; ok: boolean; gone: boolean } | null;
}
