/**
 * The one place that says what each plan allows. Every limit Herald enforces reads from here:
 * provisioning (plan names, async flag), plan changes (downgrade checks), the customer API
 * (endpoint count, payload size, monthly quota) and the worker (retention).
 */
export interface Plan {
  readonly slug: string;
  readonly name: string;
  readonly priceCentsPerMonth: number;
  readonly maxEndpoints: number;
  readonly messagesPerMonth: number;
  readonly retentionDays: number;
  readonly maxPayloadBytes: number;
  /** Provisioned with 202 and completed later through the Platform API. None are, yet. */
  readonly asyncProvisioning: boolean;
}

const KIB = 1024;

export const PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  test: {
    slug: 'test',
    name: 'Test',
    priceCentsPerMonth: 0,
    maxEndpoints: 5,
    messagesPerMonth: 10_000,
    retentionDays: 3,
    maxPayloadBytes: 64 * KIB,
    asyncProvisioning: false,
  },
  basic: {
    slug: 'basic',
    name: 'Basic',
    priceCentsPerMonth: 2_500,
    maxEndpoints: 50,
    messagesPerMonth: 1_000_000,
    retentionDays: 30,
    maxPayloadBytes: 256 * KIB,
    asyncProvisioning: false,
  },
  pro: {
    slug: 'pro',
    name: 'Pro',
    priceCentsPerMonth: 10_000,
    maxEndpoints: 500,
    messagesPerMonth: 20_000_000,
    retentionDays: 90,
    maxPayloadBytes: 1024 * KIB,
    asyncProvisioning: false,
  },
});

export const PLAN_SLUGS = Object.keys(PLANS);

export function findPlan(slug: string): Plan | undefined {
  return Object.prototype.hasOwnProperty.call(PLANS, slug) ? PLANS[slug] : undefined;
}

export function getPlan(slug: string): Plan {
  const plan = findPlan(slug);
  if (!plan) throw new Error(`unknown plan ${slug}`);
  return plan;
}

/** Heroku sends the region as `amazon-web-services::us-east-1`; the manifest declares `us` and `eu`. */
export const REGIONS: Readonly<Record<string, string>> = Object.freeze({
  'amazon-web-services::us-east-1': 'us',
  'amazon-web-services::eu-west-1': 'eu',
  us: 'us',
  eu: 'eu',
});

export function regionFor(herokuRegion: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(REGIONS, herokuRegion) ? REGIONS[herokuRegion] : undefined;
}
