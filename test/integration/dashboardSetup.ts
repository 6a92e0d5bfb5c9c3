import type { Express } from 'express';
import type { Knex } from 'knex';
import request from 'supertest';
import type { Deps } from '../../src/deps.js';
import { resourceToken } from '../../src/ssoTokens.js';

/** Shared set-up of the dashboard and portal tests (not a test file itself). */

export type Agent = ReturnType<typeof request.agent>;

/** A browser-like agent signed in to the dashboard through the real SSO form. */
export async function ssoAgent(app: Express, deps: Deps, resourceId: string, appName = 'demo-app'): Promise<Agent> {
  const agent = request.agent(app);
  const timestamp = String(Math.floor(deps.clock.now().getTime() / 1000));
  await agent
    .post('/sso/login')
    .type('form')
    .send({ resource_id: resourceId, timestamp, resource_token: resourceToken(resourceId, deps.config.heroku.ssoSalt, timestamp), app: appName, email: 'dev@example.com' })
    .expect(303);
  return agent;
}

/** The CSRF token of a page's forms. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

/** GETs `page` for its token, then posts `form` to `action` with it. */
export async function postForm(agent: Agent, page: string, action: string, form: Record<string, string> = {}) {
  const token = csrfOf((await agent.get(page).expect(200)).text);
  return agent.post(action).type('form').send({ _csrf: token, ...form });
}

/** Text of an HTML fragment without tags (for "shown next to the field" checks). */
export function fieldBlock(html: string, field: string): string {
  const start = html.indexOf(`id="field-${field}"`);
  if (start < 0) throw new Error(`no field ${field} on the page`);
  const rest = html.slice(start + 10);
  const end = rest.search(/<div class="field[ "]|<\/form>/);
  return html.slice(start, end < 0 ? undefined : start + 10 + end);
}

export async function insertSubscriber(db: Knex, resourceId: string, name: string, id: string): Promise<string> {
  await db('subscribers').insert({ id, resource_id: resourceId, name });
  return id;
}

/** The Location of a redirect (fails the test when there is none). */
export function locationOf(res: { headers: Record<string, string | undefined> }): string {
  const location = res.headers.location;
  if (!location) throw new Error('not a redirect');
  return location;
}
