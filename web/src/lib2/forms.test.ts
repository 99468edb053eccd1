import { describe, expect, it } from 'vitest';
import { assetPayload, assetTree, defaultExpiry, expiryProblem, type AssetDraft } from './forms';

const draft: AssetDraft = {
  name: ' Annex ',
  type: 'battery',
  parent_id: '3',
  account_id: '2',
  timezone: 'Asia/Taipei',
  latitude: '',
  longitude: '',
  capacity_kw: '50',
  storage_capacity_kwh: '',
  max_charge_kw: '',
  max_discharge_kw: '',
  charge_efficiency: '0.95',
  discharge_efficiency: '',
  soc_min_kwh: '',
  soc_max_kwh: '',
};

describe('asset payload', () => {
  it('omits empty numbers on create, nulls them on edit', () => {
    expect(assetPayload(draft, { editing: false, withAccount: false })).toEqual({
      name: 'Annex',
      type: 'battery',
      timezone: 'Asia/Taipei',
      parent_id: 3,
      capacity_kw: 50,
      charge_efficiency: 0.95,
    });
    const e = assetPayload(draft, { editing: true, withAccount: true });
    expect(e.account_id).toBe(2);
    expect(e.latitude).toBeNull();
    expect('discharge_efficiency' in e).toBe(false);
  });
  it('builds the tree', () => {
    const t = assetTree([
      { id: 2, parent_id: 1, name: 'b' },
      { id: 1, parent_id: null, name: 'site' },
      { id: 3, parent_id: 1, name: 'a' },
      { id: 4, parent_id: 99, name: 'orphan' },
    ]);
    expect(t.map((x) => x.node.id)).toEqual([4, 1]);
    expect(t[1].children.map((c) => c.id)).toEqual([3, 2]);
  });
});

describe('token expiry', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it('defaults to 90 days', () => expect(defaultExpiry(now)).toBe('2027-02-28'));
  it('checks the range', () => {
    expect(expiryProblem('', now)).toBeNull();
    expect(expiryProblem('2026-11-29', now)).toBe('past');
    expect(expiryProblem('2028-01-01', now)).toBe('tooLate');
    expect(expiryProblem('2027-01-01', now)).toBeNull();
    expect(expiryProblem('garbage', now)).toBe('bad');
  });
});
