import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { deriveApiKey, hashApiKey } from '../apiKeys.js';
import { AppError, forbidden, gone, notFound, unprocessable } from '../errors.js';
import { findPlan, PLAN_SLUGS, PLANS, REGIONS, regionFor, type Plan } from '../plans.js';
import type { VerifiedSso } from '../ssoTokens.js';
import {
  getResource,
  getResourceForUpdate,
  getResourceUsage,
  insertResourceIfAbsent,
  markResourceDeprovisioned,
  recordSsoLogin,
  updateResourcePlan,
  type Resource,
  type ResourceUsage,
} from '../db/resources.js';

/**
 * The add-on lifecycle Heroku drives (provision, plan change, deprovision) and the SSO sign-in.
 * Heroku shows the `message` of a 422 to the user, so every refusal says what to do.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The config vars Herald sets on every app the add-on is attached to (manifest `config_vars`). */
export const CONFIG_VAR_NAMES = ['HERALD_URL', 'HERALD_API_KEY'] as const;
export type AddonConfigVars = Record<(typeof CONFIG_VAR_NAMES)[number], string>;

/** HERALD_URL is the customer API's absolute base URL: `${PUBLIC_URL}/v1`. */
export function addonConfigVars(config: Config, resource: Pick<Resource, 'id' | 'keyGeneration'>): AddonConfigVars {
  return {
    HERALD_URL: `${config.publicUrl}/v1`,
    HERALD_API_KEY: deriveApiKey(config.apiKeySecret, resource.id, resource.keyGeneration),
  };
}

export interface ProvisionRequest {
  uuid: string;
  plan: string;
  region: string;
  name: string | null;
  herokuId: string | null;
  callbackUrl: string | null;
  options: Record<string, unknown>;
}

export interface ProvisionResult {
  id: string;
  config: AddonConfigVars;
  message: string;
}

function planOrRefuse(slug: string): Plan {
  const plan = findPlan(slug);
  if (!plan) {
    throw unprocessable('unknown_plan', `Herald has no plan "${slug}". Choose one of: ${PLAN_SLUGS.join(', ')}.`, {
      plans: PLAN_SLUGS,
    });
  }
  return plan;
}

function regionOrRefuse(herokuRegion: string): string {
  const region = regionFor(herokuRegion);
  if (!region) {
    const supported = Object.keys(REGIONS).filter((r) => r.includes('::'));
    throw unprocessable(
      'unsupported_region',
      `Herald is not available in region "${herokuRegion}". Supported regions: ${supported.join(', ')}.`,
      { regions: supported },
    );
  }
  return region;
}

/**
 * Idempotent on Heroku's uuid: a repeat (Heroku delivers at least once) gets the same id and the
 * same config, because the key is derived from the id rather than drawn at random.
 */
export async function provisionResource(deps: Deps, req: ProvisionRequest): Promise<ProvisionResult> {
  const plan = planOrRefuse(req.plan);
  const region = regionOrRefuse(req.region);
  const id = req.uuid.toLowerCase();
  const keyGeneration = 1;
  const inserted = await insertResourceIfAbsent(deps.db, {
    id,
    plan: plan.slug,
    region,
    name: req.name,
    herokuId: req.herokuId,
    callbackUrl: req.callbackUrl,
    options: req.options,
    apiKeyHash: hashApiKey(deriveApiKey(deps.config.apiKeySecret, id, keyGeneration)),
    keyGeneration,
  });
  const resource = inserted ?? (await getResource(deps.db, id));
  if (!resource) throw new Error(`resource ${id} neither inserted nor found`);
  if (resource.state !== 'provisioned') {
    throw unprocessable(
      'resource_deprovisioned',
      'This Herald add-on was removed and cannot be provisioned again. Create a new add-on instead.',
    );
  }
  if (inserted) deps.logger.info('resource provisioned', { resourceId: id, plan: plan.slug, region });
  return {
    id: resource.id,
    config: addonConfigVars(deps.config, resource),
    message: `Herald is ready. Send messages to HERALD_URL with the key in HERALD_API_KEY; open the dashboard to add endpoints.`,
  };
}

function lookupFailure(resource: Resource | undefined, id: string): AppError | undefined {
  if (!resource) return notFound(`Herald resource ${id}`);
  if (resource.state !== 'provisioned') return gone(`Herald resource ${id} was deprovisioned.`);
  return undefined;
}

/**
 * Refused (plan unchanged) when the resource already uses more than the new plan allows. The row
 * lock makes endpoint creation that also locks the resource row wait, so the count stays true.
 */
export async function changePlan(deps: Deps, id: string, planSlug: string): Promise<{ message: string }> {
  if (!isUuid(id)) throw notFound(`Herald resource ${id}`);
  const plan = planOrRefuse(planSlug);
  return deps.db.transaction(async (trx) => {
    const resource = await getResourceForUpdate(trx, id.toLowerCase());
    const failure = lookupFailure(resource, id);
    if (failure) throw failure;
    const current = resource!;
    if (current.plan === plan.slug) return { message: `Herald is already on the ${plan.name} plan.` };
    const usage = await getResourceUsage(trx, current.id, monthPeriod(deps.clock.now()));
    if (usage.endpoints > plan.maxEndpoints) {
      throw unprocessable(
        'plan_change_not_allowed',
        `The ${plan.name} plan allows ${plan.maxEndpoints} endpoints and this add-on has ${usage.endpoints}. ` +
          `Delete ${usage.endpoints - plan.maxEndpoints} endpoint(s) in the Herald dashboard, then change the plan again.`,
        { endpoints: usage.endpoints, maxEndpoints: plan.maxEndpoints },
      );
    }
    await updateResourcePlan(trx, current.id, plan.slug);
    const from = findPlan(current.plan)?.name ?? current.plan;
    deps.logger.info('resource plan changed', { resourceId: current.id, from: current.plan, to: plan.slug });
    return { message: `Changed from ${from} to ${plan.name}.` };
  });
}

/** Fast by design (one UPDATE); false when nothing live had that id (Heroku then gets a 410). */
export async function deprovisionResource(deps: Deps, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const done = await markResourceDeprovisioned(deps.db, id.toLowerCase());
  if (done) deps.logger.info('resource deprovisioned', { resourceId: id.toLowerCase() });
  return done;
}

/** After the token checked out: the resource must be live. Records the app and email Heroku sent. */
export async function signInWithSso(deps: Deps, sso: VerifiedSso): Promise<Resource> {
  const refused = forbidden('This Herald add-on does not exist or was removed. Open it again from your Heroku dashboard.');
  if (!isUuid(sso.resourceId)) throw refused;
  const resource = await recordSsoLogin(deps.db, sso.resourceId.toLowerCase(), { appName: sso.app, ownerEmail: sso.email });
  if (!resource) throw refused;
  return resource;
}

/** The first day of `now`'s UTC month, as usage_counters keys its rows. */
export function monthPeriod(now: Date): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

export interface ResourceOverview {
  resource: Resource;
  plan: Plan;
  usage: ResourceUsage;
  period: string;
  configVarNames: readonly string[];
}

/** What the dashboard shows: plan, limits and usage. Never the API key. */
export async function getResourceOverview(deps: Deps, resource: Resource): Promise<ResourceOverview> {
  const period = monthPeriod(deps.clock.now());
  const usage = await getResourceUsage(deps.db, resource.id, period);
  // A plan slug no longer in plans.ts would be a deploy mistake; show the smallest limits, not a 500.
  const plan = findPlan(resource.plan) ?? PLANS.test!;
  return { resource, plan, usage, period, configVarNames: CONFIG_VAR_NAMES };
}
