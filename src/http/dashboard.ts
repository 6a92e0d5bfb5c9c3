import { Router, type Request, type Response } from 'express';
import type { Subscriber } from './../db/subscribers.js';
import type { Deps } from '../deps.js';
import { parseNamePage, parseTimePage, toPage } from '../pagination.js';
import { listEndpoints } from '../services/endpoints.js';
import { declareEventType, listEventTypes } from '../services/eventTypes.js';
import { createPortalLink, PORTAL_LINK_TTL, type PortalLink } from '../services/portal.js';
import { addonConfigVars, getResourceOverview } from '../services/resources.js';
import { deliveryCharts, troubledEndpoints } from '../services/stats.js';
import * as subscribers from '../services/subscribers.js';
import { clearSession, requireSession, sessionContext } from '../session.js';
import { eventTypeInput } from './api/eventTypes.js';
import { messageInput } from './api/messages.js';
import { createMessage } from '../services/messages.js';
import { invalidField } from '../errors.js';
import { subscriberCreateInput, subscriberUpdateInput } from './api/subscribers.js';
import { formFields, formGuard } from './dashboard/csrf.js';
import { mountEndpointPages } from './dashboard/endpointPages.js';
import { SUBSCRIBER_FORM_FIELDS, subscriberBody, subscriberFormValues } from './dashboard/forms.js';
import { mountMessagePages } from './dashboard/messagePages.js';
import { formFailure, sendPage, type FormFailure } from './dashboard/render.js';
import { dashboardSurface } from './dashboard/surface.js';
import { renderView } from './views.js';

const MESSAGE_FORM_FIELDS = ['event_type', 'data', 'event_id', 'version'] as const;

/** Portal link lifetimes offered by the dashboard's button (the API takes any number of seconds). */
const LINK_CHOICES = [
  [3600, '1 hour'],
  [PORTAL_LINK_TTL.default, '24 hours'],
  [PORTAL_LINK_TTL.max, '7 days'],
] as const;

/**
 * The add-on owner's dashboard, after Heroku SSO: overview, endpoints, messages, subscribers and
 * the API key. No resource id in any URL: every page shows the session's resource and nothing else,
 * and every POST carries the session's CSRF token (formGuard).
 */
export function dashboardRouter(deps: Deps): Router {
  const outer = Router();
  const router = Router();
  const surface = dashboardSurface(deps);
  outer.use('/dashboard', requireSession(deps), formGuard(deps.config), router);

  router.get('/', async (req, res) => {
    const { session, resource } = sessionContext(res);
    const [overview, charts, troubled] = await Promise.all([
      getResourceOverview(deps, resource),
      deliveryCharts(deps, resource),
      troubledEndpoints(deps, resource),
    ]);
    sendPage(res, 'dashboard', surface.chrome(req, res, 'overview', session.app ?? resource.appName ?? 'Dashboard'), {
      appName: session.app ?? resource.appName,
      ...overview,
      charts,
      troubled,
    });
  });

  mountEndpointPages(router, deps, surface);

  // Sending a message, as `POST /v1/messages` does (same validation, same service). Before the
  // message pages, so `/messages/new` is not read as a message id.
  const renderSendForm = (req: Request, res: Response, values: Record<string, string>, failure?: FormFailure) =>
    sendPage(
      res,
      'messageForm',
      surface.chrome(req, res, 'messages', 'Send a message'),
      { values, errors: failure?.errors ?? {}, formError: failure?.formError ?? null },
      failure?.status ?? 200,
    );
  router.get('/messages/new', (req, res) => {
    renderSendForm(req, res, { event_type: '', data: '{\n  \n}', event_id: '', version: '' });
  });
  router.post('/messages', async (req, res) => {
    const form = formFields(req);
    const optional = (name: string) => ((form[name] ?? '').trim() === '' ? undefined : (form[name] ?? '').trim());
    let created: Awaited<ReturnType<typeof createMessage>>;
    try {
      let data: unknown;
      try {
        data = JSON.parse(form.data ?? '');
      } catch {
        throw invalidField('data', 'is not valid JSON');
      }
      const input = messageInput({
        event_type: (form.event_type ?? '').trim(),
        data,
        ...(optional('event_id') !== undefined ? { event_id: optional('event_id') } : {}),
        ...(optional('version') !== undefined ? { version: optional('version') } : {}),
      });
      created = await createMessage(deps, sessionContext(res).resource, input, { source: 'api' });
    } catch (err) {
      const failure = formFailure(err, MESSAGE_FORM_FIELDS);
      if (!failure) throw err;
      renderSendForm(req, res, form, failure);
      return;
    }
    res.locals.log.info('message sent from dashboard', { messageId: created.message.id, deliveries: created.deliveriesCreated });
    res.redirect(303, `/dashboard/messages/${created.message.id}?notice=${created.duplicate ? 'duplicate' : 'sent'}`);
  });

  mountMessagePages(router, deps, surface);

  // -------------------------------------------------------------------------------------------
  // Subscribers

  router.get('/subscribers', async (req, res) => {
    const { resource } = sessionContext(res);
    const page = parseTimePage(req.query);
    const rows = await subscribers.listSubscribers(deps, resource, page);
    const list = toPage(rows, page.limit, (s) => [s.cursorAt, s.id], (s) => s);
    sendPage(res, 'subscribers', surface.chrome(req, res, 'subscribers', 'Subscribers'), {
      subscribers: list.data,
      nextCursor: list.next_cursor,
    });
  });

  const renderSubscriberForm = (req: Request, res: Response, values: Record<string, string>, failure?: FormFailure) =>
    sendPage(
      res,
      'subscriberForm',
      surface.chrome(req, res, 'subscribers', 'New subscriber'),
      { values, errors: failure?.errors ?? {}, formError: failure?.formError ?? null },
      failure?.status ?? 200,
    );

  router.get('/subscribers/new', (req, res) => {
    renderSubscriberForm(req, res, { metadata: '{}' });
  });

  router.post('/subscribers', async (req, res) => {
    const form = formFields(req);
    let created: Subscriber;
    try {
      created = await subscribers.createSubscriber(deps, sessionContext(res).resource, subscriberCreateInput(subscriberBody(form)));
    } catch (err) {
      const failure = formFailure(err, SUBSCRIBER_FORM_FIELDS);
      if (!failure) throw err;
      renderSubscriberForm(req, res, form, failure);
      return;
    }
    res.redirect(303, `/dashboard/subscribers/${created.id}?notice=subscriber-created`);
  });

  const renderSubscriber = async (
    req: Request,
    res: Response,
    subscriber: Subscriber,
    opts: { values?: Record<string, string>; failure?: FormFailure; link?: PortalLink } = {},
  ) => {
    const { resource } = sessionContext(res);
    // The list functions fetch one extra row to tell whether another page exists.
    const endpoints = (await listEndpoints(deps, resource, { subscriberId: subscriber.id }, { limit: 250, after: undefined })).slice(0, 250);
    sendPage(
      res,
      'subscriber',
      surface.chrome(req, res, 'subscribers', subscriber.name),
      {
        subscriber,
        endpoints,
        values: opts.values ?? subscriberFormValues(subscriber),
        errors: opts.failure?.errors ?? {},
        formError: opts.failure?.formError ?? null,
        link: opts.link ?? null,
        linkChoices: LINK_CHOICES,
      },
      opts.failure?.status ?? 200,
    );
  };

  router.get('/subscribers/:id', async (req, res) => {
    await renderSubscriber(req, res, await subscribers.getSubscriber(deps, sessionContext(res).resource, req.params.id));
  });

  router.post('/subscribers/:id', async (req, res) => {
    const { resource } = sessionContext(res);
    const subscriber = await subscribers.getSubscriber(deps, resource, req.params.id);
    const form = formFields(req);
    try {
      await subscribers.updateSubscriber(deps, resource, subscriber.id, subscriberUpdateInput(subscriberBody(form)));
    } catch (err) {
      const failure = formFailure(err, SUBSCRIBER_FORM_FIELDS);
      if (!failure) throw err;
      await renderSubscriber(req, res, subscriber, { values: form, failure });
      return;
    }
    res.redirect(303, `/dashboard/subscribers/${subscriber.id}?notice=subscriber-saved`);
  });

  // Shown in the answer to the POST only: a link is a credential for the subscriber's portal.
  router.post('/subscribers/:id/portal-link', async (req, res) => {
    const { resource } = sessionContext(res);
    const subscriber = await subscribers.getSubscriber(deps, resource, req.params.id);
    const raw = formFields(req).expires_in;
    const link = await createPortalLink(deps, resource, subscriber.id, raw === undefined || raw === '' ? undefined : Number(raw));
    await renderSubscriber(req, res, subscriber, { link });
  });

  router.get('/subscribers/:id/delete', async (req, res) => {
    const subscriber = await subscribers.getSubscriber(deps, sessionContext(res).resource, req.params.id);
    sendPage(res, 'subscriberDelete', surface.chrome(req, res, 'subscribers', 'Delete subscriber'), { subscriber });
  });

  router.post('/subscribers/:id/delete', async (req, res) => {
    await subscribers.deleteSubscriber(deps, sessionContext(res).resource, req.params.id);
    res.redirect(303, '/dashboard/subscribers?notice=subscriber-deleted');
  });

  // -------------------------------------------------------------------------------------------
  // Event types: the catalogue the API's GET/POST /v1/event-types manage.

  const renderEventTypes = async (req: Request, res: Response, values: Record<string, string>, failure?: FormFailure) => {
    const { resource } = sessionContext(res);
    const page = parseNamePage(req.query);
    const rows = await listEventTypes(deps, resource, page);
    const list = toPage(rows, page.limit, (t) => [t.name], (t) => t);
    sendPage(
      res,
      'eventTypes',
      surface.chrome(req, res, 'event-types', 'Event types'),
      { eventTypes: list.data, nextCursor: list.next_cursor, values, errors: failure?.errors ?? {}, formError: failure?.formError ?? null },
      failure?.status ?? 200,
    );
  };

  router.get('/event-types', async (req, res) => {
    await renderEventTypes(req, res, {});
  });

  router.post('/event-types', async (req, res) => {
    const form = formFields(req);
    try {
      await declareEventType(deps, sessionContext(res).resource, eventTypeInput({ name: (form.name ?? '').trim(), description: form.description ?? '' }));
    } catch (err) {
      const failure = formFailure(err, ['name', 'description']);
      if (!failure) throw err;
      await renderEventTypes(req, res, form, failure);
      return;
    }
    res.redirect(303, '/dashboard/event-types?notice=event-type-saved');
  });

  // -------------------------------------------------------------------------------------------
  // API key: shown only in the answer to a POST, never in a page's source by default.

  const renderApiKey = (req: Request, res: Response, apiKey: string | null) => {
    const { resource } = sessionContext(res);
    sendPage(res, 'apiKey', surface.chrome(req, res, 'api-key', 'API key'), {
      heraldUrl: addonConfigVars(deps.config, resource).HERALD_URL,
      apiKey,
      appName: resource.appName,
    });
  };

  router.get('/api-key', (req, res) => {
    renderApiKey(req, res, null);
  });

  router.post('/api-key', (req, res) => {
    const { resource } = sessionContext(res);
    res.locals.log.info('api key revealed', { resourceId: resource.id });
    renderApiKey(req, res, addonConfigVars(deps.config, resource).HERALD_API_KEY);
  });

  router.post('/logout', (_req, res) => {
    clearSession(res, deps.config, 'heroku');
    res.status(200).type('html').send(renderView('signedOut', { title: 'Signed out', heroku: null }));
  });

  return outer;
}
