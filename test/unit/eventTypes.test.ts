import fc from 'fast-check';
import {
  filtersMatch,
  isReservedEventType,
  isValidEventTypeFilter,
  isValidEventTypeName,
  matchingFilters,
} from '../../src/eventTypes.js';

describe('event type names', () => {
  it.each(['a', 'invoice.paid', 'user-profile.updated_v2', 'A.B.C', 'x'.repeat(100)])('accepts %s', (name) => {
    expect(isValidEventTypeName(name)).toBe(true);
  });
  it.each(['', '.a', 'a.', 'a..b', 'a b', 'a.*', '*', 'é', 'a/b', 'x'.repeat(101)])('refuses %j', (name) => {
    expect(isValidEventTypeName(name)).toBe(false);
  });
  it('accepts wildcard groups as filters only', () => {
    expect(isValidEventTypeFilter('invoice.*')).toBe(true);
    expect(isValidEventTypeFilter('a.b.*')).toBe(true);
    expect(isValidEventTypeFilter('*')).toBe(false);
    expect(isValidEventTypeFilter('a*')).toBe(false);
    expect(isValidEventTypeFilter('*.paid')).toBe(false);
    expect(isValidEventTypeFilter('a.*.b')).toBe(false);
  });
  it('reserves heroku.* and herald.*', () => {
    expect(isReservedEventType('heroku.deploy')).toBe(true);
    expect(isReservedEventType('herald.test')).toBe(true);
    expect(isReservedEventType('herokuish.deploy')).toBe(false);
  });
});

describe('matching', () => {
  it('lists the name and one wildcard per proper prefix', () => {
    expect(matchingFilters('a')).toEqual(['a']);
    expect(matchingFilters('a.b.c')).toEqual(['a.b.c', 'a.*', 'a.b.*']);
  });
  it('an empty filter matches everything; a group matches everything below it', () => {
    expect(filtersMatch([], 'anything.at.all')).toBe(true);
    expect(filtersMatch(['invoice.*'], 'invoice.paid')).toBe(true);
    expect(filtersMatch(['invoice.*'], 'invoice.line.added')).toBe(true);
    expect(filtersMatch(['invoice.*'], 'invoice')).toBe(false);
    expect(filtersMatch(['invoice.*'], 'invoices.paid')).toBe(false);
    expect(filtersMatch(['invoice.paid'], 'invoice.paid.late')).toBe(false);
  });
  it('agrees with a direct definition of the wildcard rule', () => {
    const segment = fc.stringMatching(/^[a-c]{1,2}$/);
    const name = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
    const filter = fc.oneof(name, name.map((n) => `${n}.*`));
    fc.assert(
      fc.property(fc.array(filter, { maxLength: 4 }), name, (filters, n) => {
        const direct =
          filters.length === 0 || filters.some((f) => (f.endsWith('.*') ? n.startsWith(f.slice(0, -1)) : f === n));
        expect(filtersMatch(filters, n)).toBe(direct);
      }),
    );
  });
});
