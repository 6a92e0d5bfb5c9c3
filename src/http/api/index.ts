import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Resource } from '../../db/resources.js';
import type { Deps } from '../../deps.js';
import { AppError, payloadTooLarge, unauthorized } from '../../errors.js';
import { PLANS } from '../../plans.js';
import { jsonBody } from '../jsonBody.js';
import { lazyLog } from '../requestContext.js';
import { authenticateApiKey } from '../../services/apiAuth.js';
import { deliveriesRouter } from './deliveries.js';
import { endpointsRouter } from './endpoints.js';
import { eventTypesRouter } from './eventTypes.js';
import { messagesRouter } from './messages.js';
import { subscribersRouter } from './subscribers.js';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The add-on resource the request's API key belongs to (set by the /v1 auth). */
    apiResource: Resource;
  }
}

/**
 * The JSON parser's cap: the largest plan's payload plus room for the envelope (`event_type`,
 * `event_id`, …) and JSON escaping. Each plan's own cap is checked in the messages service, where
 * the plan is known, with a message that names it.
 */
export const JSON_BODY_LIMIT = Math.max(...Object.values(PLANS).map((p) => p.maxPayloadBytes)) + 64 * 1024;

const BEARER = /^Bearer +([^\s]{1,200}) *$/i;
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="herald"' };

/** `Authorization: Bearer <HERALD_API_KEY>`. */
function apiKeyAuth(deps: Deps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthorized('Send your HERALD_API_KEY as "Authorization: Bearer <key>".', CHALLENGE);
    const resource = await authenticateApiKey(deps, match[1]!);
    if (!resource) {
      throw unauthorized('The API key is not valid: it may have been rotated, or the add-on removed.', CHALLENGE);
    }
    res.locals.apiResource = resource;
    lazyLog(res, deps.logger, { requestId: res.locals.requestId, resourceId: resource.id });
    next();
  };
}

/** A body in another format would otherwise be silently ignored and fail as "field is required". */
function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (hasBody && !req.is('application/json')) {
    next(new AppError(415, 'unsupported_media_type', 'Send the request body as JSON with "Content-Type: application/json".'));
    return;
  }
  next();
}

function explainTooLarge(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  if (typeof err === 'object' && err !== null && (err as { type?: unknown }).type === 'entity.too.large') {
    next(payloadTooLarge(`The request body is larger than ${JSON_BODY_LIMIT} bytes, more than any plan accepts.`));
    return;
  }
  next(err);
}

/** The customer API, mounted at /v1. */
export function apiRouter(deps: Deps): Router {
  const router = Router();
  // Authenticate before parsing: an anonymous caller cannot make us read a megabyte of JSON.
  router.use(apiKeyAuth(deps));
  router.use(requireJsonBody);
  router.use(jsonBody({ limit: JSON_BODY_LIMIT }));
  router.use(explainTooLarge);
  // Messages first: POST /v1/messages is nearly all of the traffic, and every router it passes
  // tests each of its routes against the path.
  router.use(messagesRouter(deps));
  router.use(subscribersRouter(deps));
  router.use(endpointsRouter(deps));
  router.use(eventTypesRouter(deps));
  router.use(deliveriesRouter(deps));
  return router;
}
