/**
 * Event type names and endpoint filters. Names are dot-separated segments of `[a-zA-Z0-9_-]`
 * (Standard Webhooks' hierarchical types, plus `-`), at most 100 characters. An endpoint filter is
 * either an exact name or a wildcard group `prefix.*`, which matches every type below `prefix.`
 * (`heroku.*` matches `heroku.deploy`; `a.*` matches `a.b.c` too). An empty filter list means all.
 */
export const EVENT_TYPE_MAX_LENGTH = 100;

const SEGMENT = '[a-zA-Z0-9_-]+';
const NAME = new RegExp(`^${SEGMENT}(\\.${SEGMENT})*$`);
const WILDCARD = new RegExp(`^${SEGMENT}(\\.${SEGMENT})*\\.\\*$`);
const SEGMENT_ONLY = new RegExp(`^${SEGMENT}$`);

export interface BuiltinEventType {
  readonly name: string;
  readonly description: string;
}

/** Types Herald itself emits. Customers cannot send or declare names under these prefixes. */
export const BUILTIN_EVENT_TYPES: readonly BuiltinEventType[] = Object.freeze([
  { name: 'heroku.attach', description: 'The add-on was attached to a Heroku app.' },
  { name: 'heroku.deploy', description: 'An app the add-on is attached to was deployed.' },
  { name: 'heroku.detach', description: 'The add-on was detached from a Heroku app.' },
  { name: 'herald.test', description: 'A test event sent from Herald to one endpoint.' },
]);

export const RESERVED_PREFIXES: readonly string[] = Object.freeze(['heroku.', 'herald.']);

export function isValidEventTypeName(name: string): boolean {
  return name.length > 0 && name.length <= EVENT_TYPE_MAX_LENGTH && NAME.test(name);
}

export function isValidEventTypeFilter(filter: string): boolean {
  return isValidEventTypeName(filter) || (filter.length <= EVENT_TYPE_MAX_LENGTH && WILDCARD.test(filter));
}

/** A name only Heroku or Herald may emit. */
export function isReservedEventType(name: string): boolean {
  return RESERVED_PREFIXES.some((p) => name.startsWith(p));
}

/** True when `name` can be the part after `heroku.` in a type name. */
export function isValidNameSegment(segment: string): boolean {
  return SEGMENT_ONLY.test(segment);
}

/**
 * Every filter entry that selects `name`: the name itself and one wildcard per proper prefix.
 * `a.b.c` → [`a.b.c`, `a.*`, `a.b.*`].
 */
export function matchingFilters(name: string): string[] {
  const parts = name.split('.');
  const out = [name];
  for (let i = 1; i < parts.length; i++) out.push(`${parts.slice(0, i).join('.')}.*`);
  return out;
}

/** The rule the fan-out query applies in SQL (insertMessagesFanOut), for code that filters in memory. */
export function filtersMatch(filters: readonly string[], name: string): boolean {
  if (filters.length === 0) return true;
  const candidates = new Set(matchingFilters(name));
  return filters.some((f) => candidates.has(f));
}
