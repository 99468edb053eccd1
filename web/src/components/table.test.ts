import { describe, expect, it } from 'vitest';
import { compareValues, sortRows } from './Table';

describe('table sorting', () => {
  it('compares numbers and strings naturally', () => {
    expect(compareValues(2, 10)).toBeLessThan(0);
    expect(compareValues('bid 2', 'bid 10')).toBeLessThan(0);
  });
  it('keeps empty values last in both directions and is stable', () => {
    const rows = [{ v: 3 }, { v: null }, { v: 1 }, { v: 3, tag: 'b' }];
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v)).toEqual([1, 3, 3, null]);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v)).toEqual([3, 3, 1, null]);
    expect(sortRows(rows, (r) => r.v, 'desc')[1]).toEqual({ v: 3, tag: 'b' });
  });
});
