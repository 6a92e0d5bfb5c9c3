import { decodeCursor, encodeCursor, parseLimit, parseTimePage, toPage } from '../../src/pagination.js';

describe('pagination', () => {
  it('round-trips cursors and rejects tampered ones with 400', () => {
    const key = ['2026-11-15T12:00:00.123456Z', '0b1b3c64-6d2a-4d43-9a47-0c8f2e2a9b10'];
    const cursor = encodeCursor(key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 2)).toEqual(key);
    expect(parseTimePage({ cursor, limit: '10' })).toEqual({ limit: 10, after: key });
    for (const bad of ['!!', encodeCursor(['x']), encodeCursor(['not a time', key[1]!]), encodeCursor([key[0]!, 'not-a-uuid']), 'e30']) {
      expect(() => parseTimePage({ cursor: bad })).toThrow(expect.objectContaining({ status: 400 }));
    }
  });

  it('defaults the limit to 50 and caps it at 250', () => {
    expect(parseLimit(undefined)).toBe(50);
    expect(parseLimit('250')).toBe(250);
    for (const bad of ['0', '251', '-1', '1.5', 'ten', ['1', '2']]) {
      expect(() => parseLimit(bad)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });

  it('uses the extra row to decide whether there is a next page', () => {
    const rows = [{ k: 'a' }, { k: 'b' }, { k: 'c' }];
    const full = toPage(rows, 2, (r) => [r.k], (r) => r.k);
    expect(full.data).toEqual(['a', 'b']);
    expect(decodeCursor(full.next_cursor!, 1)).toEqual(['b']);
    expect(toPage(rows, 3, (r) => [r.k], (r) => r.k).next_cursor).toBeNull();
  });
});
