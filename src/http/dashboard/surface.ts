import type { Request, Response } from 'express';
import type { Subscriber } from '../../db/subscribers.js';
import type { Deps } from '../../deps.js';
import type { Scope } from '../../services/portal.js';
import { sessionContext } from '../../session.js';
import { csrfToken } from './csrf.js';
import { noticeFrom, type Chrome } from './render.js';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The portal session's subscriber, live at the time of the request (set by the portal's guard). */
    subscriber?: Subscriber;
  }
}

/**
 * The two browser surfaces that share the endpoint and message pages: the add-on owner's
 * dashboard (the whole resource) and a subscriber's portal (one subscriber of it). A surface says
 * where its pages live, what the session may see, and how its pages are framed.
 */
export interface Surface {
  kind: 'dashboard' | 'portal';
  base: string;
  scope(res: Response): Scope;
  chrome(req: Request, res: Response, section: string, title: string): Chrome;
}

type NavItem = readonly [section: string, path: string, label: string];

const DASHBOARD_NAV: readonly NavItem[] = [
  ['overview', '', 'Overview'],
  ['endpoints', '/endpoints', 'Endpoints'],
  ['messages', '/messages', 'Messages'],
  ['subscribers', '/subscribers', 'Subscribers'],
  ['event-types', '/event-types', 'Event types'],
  ['api-key', '/api-key', 'API key'],
];

const PORTAL_NAV: readonly NavItem[] = [
  ['endpoints', '', 'Endpoints'],
  ['messages', '/messages', 'Messages'],
  ['verify', '/verify', 'Verifying signatures'],
];

const nav = (base: string, items: readonly NavItem[], section: string) =>
  items.map(([s, p, label]) => ({ href: `${base}${p}`, label, current: s === section }));

export function dashboardSurface(deps: Deps): Surface {
  const base = '/dashboard';
  return {
    kind: 'dashboard',
    base,
    scope: (res) => ({ resource: sessionContext(res).resource, subscriberId: null }),
    chrome(req, res, section, title) {
      const { session, resource } = sessionContext(res);
      const appName = session.app ?? resource.appName ?? '';
      return {
        title,
        heroku: { app: appName, addon: deps.config.heroku.addonId },
        surface: 'dashboard',
        base,
        nav: nav(base, DASHBOARD_NAV, section),
        csrf: csrfToken(deps.config, session),
        who: appName || 'Herald',
        notice: noticeFrom(req.query),
      };
    },
  };
}

export function portalSurface(deps: Deps): Surface {
  const base = '/portal';
  const subscriberOf = (res: Response): Subscriber => {
    if (!res.locals.subscriber) throw new Error('portal page without the portal guard');
    return res.locals.subscriber;
  };
  return {
    kind: 'portal',
    base,
    scope: (res) => ({ resource: sessionContext(res).resource, subscriberId: subscriberOf(res).id }),
    chrome(req, res, section, title) {
      const { session } = sessionContext(res);
      return {
        title,
        heroku: null,
        surface: 'portal',
        base,
        nav: nav(base, PORTAL_NAV, section),
        csrf: csrfToken(deps.config, session),
        who: subscriberOf(res).name,
        notice: noticeFrom(req.query),
      };
    },
  };
}
