import type { Request, Response, Router } from 'express';
import type { Endpoint } from '../../db/endpoints.js';
import type { Subscriber } from '../../db/subscribers.js';
import type { Deps } from '../../deps.js';
import { parseTimePage, toPage } from '../../pagination.js';
import { listDeliveries } from '../../services/deliveries.js';
import { ENDPOINT_FORMATS, TIMEOUT_SECONDS } from '../../services/endpoints.js';
import * as scoped from '../../services/portal.js';
import { endpointHealth, HEALTH_WINDOW_HOURS } from '../../services/stats.js';
import { getSubscriber, listSubscribers } from '../../services/subscribers.js';
import { parseTime } from '../../validation.js';
import { endpointCreateInput, endpointUpdateInput } from '../api/endpoints.js';
import { formFields } from './csrf.js';
import { ENDPOINT_FORM_FIELDS, endpointBody, endpointFormValues } from './forms.js';
import { formFailure, fmt, sendPage, type FormFailure } from './render.js';
import type { Surface } from './surface.js';

const RECENT_DELIVERIES = 20;
const DAY_MS = 86_400_000;

/**
 * The endpoint pages, shared by the dashboard and the portal: list, create, edit, enable and
 * disable, delete (with a confirmation page), reveal and rotate the secret, send a test event,
 * recover (a count first, then a confirmation). Every action goes through services/portal.ts,
 * which checks the row belongs to the session's scope before calling the API's own services.
 */
export function mountEndpointPages(router: Router, deps: Deps, surface: Surface): void {
  const { base } = surface;
  const withSubscriber = surface.kind === 'dashboard';
  const endpointPath = (id: string) => `${base}/endpoints/${id}`;

  /** Subscribers to choose from (dashboard forms), and names for the list. The first 250 are plenty for a select. */
  const subscriberChoices = async (res: Response): Promise<Subscriber[]> =>
    withSubscriber ? (await listSubscribers(deps, surface.scope(res).resource, { limit: 250, after: undefined })).slice(0, 250) : [];

  const renderForm = async (
    req: Request,
    res: Response,
    opts: { endpoint: Endpoint | null; values: Record<string, string>; failure?: FormFailure },
  ) => {
    const create = opts.endpoint === null;
    sendPage(
      res,
      'endpointForm',
      surface.chrome(req, res, 'endpoints', create ? 'New endpoint' : 'Edit endpoint'),
      {
        endpoint: opts.endpoint,
        values: opts.values,
        errors: opts.failure?.errors ?? {},
        formError: opts.failure?.formError ?? null,
        subscribers: await subscriberChoices(res),
        withSubscriber,
        formats: ENDPOINT_FORMATS,
        timeout: TIMEOUT_SECONDS,
      },
      opts.failure?.status ?? 200,
    );
  };

  const renderEndpoint = async (req: Request, res: Response, endpoint: Endpoint, extra: { secret?: string; rotated?: boolean } = {}) => {
    const scope = surface.scope(res);
    const [health, deliveries, previousSecrets] = await Promise.all([
      endpointHealth(deps, scope.resource, [endpoint.id]),
      listDeliveries(deps, scope.resource, { endpointId: endpoint.id }, { limit: RECENT_DELIVERIES, after: undefined }),
      scoped.previousSecretCount(deps, scope, endpoint.id),
    ]);
    const subscriber = withSubscriber && endpoint.subscriberId ? await getSubscriber(deps, scope.resource, endpoint.subscriberId) : null;
    sendPage(res, 'endpoint', surface.chrome(req, res, 'endpoints', endpoint.description || endpoint.url), {
      endpoint,
      health: health.get(endpoint.id) ?? null,
      healthWindowHours: HEALTH_WINDOW_HOURS,
      deliveries: deliveries.slice(0, RECENT_DELIVERIES),
      subscriber,
      secret: extra.secret ?? null,
      rotated: extra.rotated ?? false,
      previousSecrets,
      graceHours: deps.config.secretRotationGraceHours,
    });
  };

  router.get('/endpoints', async (req, res) => {
    const scope = surface.scope(res);
    const page = parseTimePage(req.query);
    const rows = await scoped.listScopedEndpoints(deps, scope, page);
    const list = toPage(rows, page.limit, (e) => [e.cursorAt, e.id], (e) => e);
    const [health, subscribers] = await Promise.all([
      endpointHealth(deps, scope.resource, list.data.map((e) => e.id)),
      subscriberChoices(res),
    ]);
    sendPage(res, 'endpoints', surface.chrome(req, res, 'endpoints', 'Endpoints'), {
      endpoints: list.data,
      nextCursor: list.next_cursor,
      health: Object.fromEntries(health),
      subscriberNames: Object.fromEntries(subscribers.map((s) => [s.id, s.name])),
      withSubscriber,
      healthWindowHours: HEALTH_WINDOW_HOURS,
    });
  });

  router.get('/endpoints/new', async (req, res) => {
    const preset = typeof req.query.subscriber_id === 'string' ? req.query.subscriber_id : '';
    await renderForm(req, res, { endpoint: null, values: { format: 'standard', active: 'on', timeout: String(TIMEOUT_SECONDS.default), subscriber_id: preset } });
  });

  router.post('/endpoints', async (req, res) => {
    const form = formFields(req);
    let created: Endpoint;
    try {
      const input = endpointCreateInput(endpointBody(form, { create: true, withSubscriber }));
      created = (await scoped.createScopedEndpoint(deps, surface.scope(res), input)).endpoint;
    } catch (err) {
      const failure = formFailure(err, ENDPOINT_FORM_FIELDS);
      if (!failure) throw err;
      await renderForm(req, res, { endpoint: null, values: form, failure });
      return;
    }
    res.locals.log.info('endpoint created', { endpointId: created.id, surface: surface.kind });
    res.redirect(303, `${endpointPath(created.id)}?notice=endpoint-created`);
  });

  router.get('/endpoints/:id', async (req, res) => {
    await renderEndpoint(req, res, await scoped.scopedEndpoint(deps, surface.scope(res), req.params.id));
  });

  router.get('/endpoints/:id/edit', async (req, res) => {
    const endpoint = await scoped.scopedEndpoint(deps, surface.scope(res), req.params.id);
    await renderForm(req, res, { endpoint, values: endpointFormValues(endpoint) });
  });

  router.post('/endpoints/:id', async (req, res) => {
    const scope = surface.scope(res);
    const endpoint = await scoped.scopedEndpoint(deps, scope, req.params.id);
    const form = formFields(req);
    try {
      await scoped.updateScopedEndpoint(deps, scope, endpoint.id, endpointUpdateInput(endpointBody(form, { create: false, withSubscriber })));
    } catch (err) {
      const failure = formFailure(err, ENDPOINT_FORM_FIELDS);
      if (!failure) throw err;
      await renderForm(req, res, { endpoint, values: form, failure });
      return;
    }
    res.redirect(303, `${endpointPath(endpoint.id)}?notice=endpoint-saved`);
  });

  for (const [action, active] of [['enable', true], ['disable', false]] as const) {
    router.post(`/endpoints/:id/${action}`, async (req, res) => {
      const e = await scoped.updateScopedEndpoint(deps, surface.scope(res), req.params.id, { active });
      res.redirect(303, `${endpointPath(e.id)}?notice=endpoint-${action}d`);
    });
  }

  router.get('/endpoints/:id/delete', async (req, res) => {
    const endpoint = await scoped.scopedEndpoint(deps, surface.scope(res), req.params.id);
    sendPage(res, 'endpointDelete', surface.chrome(req, res, 'endpoints', 'Delete endpoint'), { endpoint });
  });

  router.post('/endpoints/:id/delete', async (req, res) => {
    await scoped.deleteScopedEndpoint(deps, surface.scope(res), req.params.id);
    res.locals.log.info('endpoint deleted', { endpointId: req.params.id, surface: surface.kind });
    res.redirect(303, `${base}/endpoints?notice=endpoint-deleted`);
  });

  // The secret is shown only in the answer to a POST: never in a page anyone can reload or link to.
  router.post('/endpoints/:id/secret', async (req, res) => {
    const scope = surface.scope(res);
    const endpoint = await scoped.scopedEndpoint(deps, scope, req.params.id);
    const secret = await scoped.scopedEndpointSecret(deps, scope, endpoint.id);
    await renderEndpoint(req, res, endpoint, { secret });
  });

  router.post('/endpoints/:id/secret/rotate', async (req, res) => {
    const scope = surface.scope(res);
    const endpoint = await scoped.scopedEndpoint(deps, scope, req.params.id);
    const secret = await scoped.rotateScopedEndpointSecret(deps, scope, endpoint.id);
    res.locals.log.info('endpoint secret rotated', { endpointId: endpoint.id, surface: surface.kind });
    await renderEndpoint(req, res, endpoint, { secret, rotated: true });
  });

  router.post('/endpoints/:id/test', async (req, res) => {
    const { message } = await scoped.sendScopedTestEvent(deps, surface.scope(res), req.params.id);
    res.redirect(303, `${base}/messages/${message.id}?notice=test-sent`);
  });

  /** Step 1: choose a time; with `since`, step 2: how many deliveries that re-queues, and a confirm button. */
  router.get('/endpoints/:id/recover', async (req, res) => {
    const scope = surface.scope(res);
    const endpoint = await scoped.scopedEndpoint(deps, scope, req.params.id);
    const now = deps.clock.now();
    const raw = typeof req.query.since === 'string' && req.query.since !== '' ? req.query.since : undefined;
    let count: number | null = null;
    let since: Date | null = null;
    let error: string | null = null;
    let status = 200;
    if (raw !== undefined) {
      try {
        since = parseTime(raw, 'since');
        count = await scoped.countScopedRecoverable(deps, scope, endpoint.id, since);
      } catch (err) {
        const failure = formFailure(err, ['since']);
        if (!failure) throw err;
        error = failure.errors.since ?? failure.formError;
        status = failure.status;
        since = null;
      }
    }
    sendPage(
      res,
      'endpointRecover',
      surface.chrome(req, res, 'endpoints', 'Recover failed messages'),
      {
        endpoint,
        sinceValue: raw ?? fmt.datetimeLocal(new Date(now.getTime() - DAY_MS)),
        since,
        count,
        error,
      },
      status,
    );
  });

  router.post('/endpoints/:id/recover', async (req, res) => {
    const scope = surface.scope(res);
    const form = formFields(req);
    const since = parseTime(form.since, 'since');
    const n = await scoped.recoverScopedEndpoint(deps, scope, req.params.id, since);
    res.locals.log.info('endpoint recovered', { endpointId: req.params.id, requeued: n, surface: surface.kind });
    res.redirect(303, `${endpointPath(req.params.id)}?notice=recovered&n=${n}`);
  });
}
