import { describe, expect, it } from 'vitest';
import { findRoute, mayUse, navRoutes } from './routes';

describe('routes and roles', () => {
  it('admin sees everything', () => {
    expect(navRoutes(['admin']).map((r) => r.path)).toContain('/users');
    expect(navRoutes(['admin']).length).toBe(11);
  });
  it('participants never see users, accounts, jobs or operator', () => {
    const paths = navRoutes(['participant']).map((r) => r.path);
    expect(paths).toEqual(['/dashboard', '/market', '/portfolio', '/flexibility', '/analytics', '/assets', '/account']);
    expect(mayUse(findRoute('/users')!, ['participant'])).toBe(false);
  });
  it('operators get the operator views and jobs', () => {
    const paths = navRoutes(['operator']).map((r) => r.path);
    expect(paths).toContain('/operator');
    expect(paths).toContain('/jobs');
    expect(paths).not.toContain('/users');
  });
  it('aggregators, participants and operators get the flexibility page, meters do not', () => {
    for (const role of ['aggregator', 'participant', 'operator'] as const) expect(navRoutes([role]).map((r) => r.path)).toContain('/flexibility');
    expect(mayUse(findRoute('/flexibility')!, ['meter'])).toBe(false);
  });
  it('finds routes with a trailing slash', () => {
    expect(findRoute('/market/')?.path).toBe('/market');
    expect(findRoute('/nope')).toBeUndefined();
  });
});
