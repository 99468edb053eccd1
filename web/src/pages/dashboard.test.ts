import { describe, expect, it } from 'vitest';
import { alertPage } from './Dashboard';

describe('alert links', () => {
  it('maps API links to pages the role may use', () => {
    expect(alertPage('/api/v1/jobs?state=failed', ['operator'])).toBe('/jobs');
    expect(alertPage('/api/v1/jobs?state=failed', ['participant'])).toBeNull();
    expect(alertPage('/api/v1/settlements?from=2026-12-01T00:00:00Z', ['participant'])).toBe('/market');
    expect(alertPage('/market', ['participant'])).toBe('/market');
    expect(alertPage(undefined, ['admin'])).toBeNull();
    expect(alertPage('/api/v1/unknown', ['admin'])).toBeNull();
  });
});
