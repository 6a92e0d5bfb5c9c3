import { Router, type Request } from 'express';
import type { Deps } from '../deps.js';
import { gone, unprocessable } from '../errors.js';
import { changePlan, deprovisionResource, isUuid, provisionResource, type ProvisionRequest } from '../services/resources.js';
import { jsonProblem, textProblem } from '../validation.js';
import { jsonBody } from './jsonBody.js';
import { partnerAuth } from './partnerAuth.js';

/**
 * The Heroku Add-on Partner API (v3, and the legacy body shapes kensa still sends):
 *   POST   /heroku/resources       provision
 *   PUT    /heroku/resources/:id   plan change
 *   DELETE /heroku/resources/:id   deprovision
 * Basic auth runs first on every path here, before any lookup or body parsing. Unknown fields are
 * accepted (Heroku adds fields without notice); the Accept header is never checked, since kensa
 * sends application/json and Heroku its vendor type.
 */
export function herokuRouter(deps: Deps): Router {
  const router = Router();
  router.use(
    '/heroku/resources',
    partnerAuth(deps.config),
    jsonBody({ limit: '100kb', type: ['application/json', 'application/*+json'] }),
  );

  router.post('/heroku/resources', async (req, res) => {
    const result = await provisionResource(deps, provisionRequestFrom(req));
    res.status(200).json(result);
  });

  router.put('/heroku/resources/:id', async (req, res) => {
    // kensa sends a random `uuid` and a `heroku_id` alongside the plan: both are ignored.
    const plan = bodyOf(req).plan;
    if (typeof plan !== 'string' || plan === '') throw unprocessable('invalid_plan', 'plan: a plan name is required.');
    res.status(200).json(await changePlan(deps, req.params.id, plan));
  });

  router.delete('/heroku/resources/:id', async (req, res) => {
    // 410 for a repeat and for an unknown id alike: never a 5xx, which Heroku would retry.
    if (!(await deprovisionResource(deps, req.params.id))) throw gone(`No live Herald resource ${req.params.id}.`);
    res.status(204).end();
  });

  return router;
}

function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/**
 * An informational string, kept as text: one Postgres cannot store as given (a NUL, a lone
 * surrogate) is refused rather than failing the insert with a 500.
 */
function optionalText(body: Record<string, unknown>, field: string): string | null {
  const v = body[field];
  if (typeof v !== 'string' || v === '') return null;
  const problem = textProblem(v);
  if (problem) throw unprocessable('invalid_request', `${field}: ${problem}.`, { field });
  return v;
}

/** Validates what provisioning needs and keeps the rest as informational; extra keys are fine. */
function provisionRequestFrom(req: Request): ProvisionRequest {
  const body = bodyOf(req);
  if (!isUuid(body.uuid)) throw unprocessable('invalid_uuid', 'uuid: Heroku\'s add-on uuid is required and must be a UUID.');
  if (typeof body.plan !== 'string' || body.plan === '') throw unprocessable('invalid_plan', 'plan: a plan name is required.');
  if (typeof body.region !== 'string' || body.region === '') throw unprocessable('invalid_region', 'region: a region is required.');
  const options = typeof body.options === 'object' && body.options !== null && !Array.isArray(body.options) ? body.options : {};
  const problem = jsonProblem(options);
  if (problem) throw unprocessable('invalid_options', `options: ${problem}.`, { field: 'options' });
  return {
    uuid: body.uuid,
    plan: body.plan,
    region: body.region,
    name: optionalText(body, 'name'),
    herokuId: optionalText(body, 'heroku_id'),
    callbackUrl: optionalText(body, 'callback_url'),
    options: options as Record<string, unknown>,
  };
}
