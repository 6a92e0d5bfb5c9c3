import { canonicalJson } from '../../src/services/herokuEvents.js';
import { isUuid, objectBody, optionalInteger, parseTime, requiredString } from '../../src/validation.js';

describe('validation helpers', () => {
  it('names the field in every refusal', () => {
    expect(() => objectBody([1], ['a'])).toThrow('body: must be a JSON object');
    expect(() => objectBody({ b: 1 }, ['a'])).toThrow(/^b: unknown field/);
    expect(() => requiredString({}, 'name', { max: 5 })).toThrow('name: is required');
    expect(() => requiredString({ name: 'toolong' }, 'name', { max: 5 })).toThrow('name: must be at most 5 characters');
    expect(() => optionalInteger({ n: 1.5 }, 'n', 1, 3)).toThrow('n: must be an integer between 1 and 3');
  });

  it('parses ISO times, reading a zone-less time as UTC', () => {
    expect(parseTime('2026-11-15', 't').toISOString()).toBe('2026-11-15T00:00:00.000Z');
    expect(parseTime('2026-11-15T12:30', 't').toISOString()).toBe('2026-11-15T12:30:00.000Z');
    expect(parseTime('2026-11-15T12:30:00+01:00', 't').toISOString()).toBe('2026-11-15T11:30:00.000Z');
    for (const bad of ['yesterday', '2026-13-45', '15/11/2026', 1700000000]) expect(() => parseTime(bad, 't')).toThrow(/^t: /);
  });

  it('recognises uuids', () => {
    expect(isUuid('0b1b3c64-6d2a-4d43-9a47-0c8f2e2a9b10')).toBe(true);
    expect(isUuid('0b1b3c64')).toBe(false);
    expect(isUuid(42)).toBe(false);
  });
});

describe('canonicalJson', () => {
  it('is independent of key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson('x')).toBe('"x"');
  });
});
