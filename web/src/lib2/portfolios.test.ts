import { describe, expect, it } from 'vitest';
import {
  alignSetpoints,
  bidTotals,
  bindingTotals,
  memberActions,
  netAt,
  offerChartData,
  parseSettings,
  stepRows,
  valueTotals,
  type AutomationStep,
  type OfferStep,
  type ValueMember,
} from './portfolios';

const none = { at_max_charge: 0, at_max_discharge: 0, soc_at_max: 0, soc_at_min: 0, curtailed: 0 };
const step = (price: number, net_kw: number, binding = none): OfferStep => ({ price, net_kw, volume_kwh: Math.abs(net_kw), side: net_kw > 0 ? 'buy' : net_kw < 0 ? 'sell' : 'none', binding });

// The demo's shape: buys at the low prices, sells from 4.44 up.
const curve = [step(4.44, -29.125, { ...none, soc_at_min: 1 }), step(0, 61, { ...none, at_max_charge: 2 }), step(2.22, 61, { ...none, at_max_charge: 2 }), step(6.67, -29.125, { ...none, soc_at_min: 1 })];

describe('netAt: what the bids make of a clearing price', () => {
  it('is the step itself at a step price', () => {
    expect(netAt(curve, 0)).toBe(61);
    expect(netAt(curve, 2.22)).toBe(61);
    expect(netAt(curve, 4.44)).toBe(-29.125);
  });
  it('buys what the next step up buys and sells what the step below sells', () => {
    expect(netAt(curve, 1)).toBe(61);
    expect(netAt(curve, 5)).toBe(-29.125);
    // between a buying and a selling step no bid is taken
    expect(netAt(curve, 3)).toBe(0);
    expect(netAt(curve, 10)).toBe(-29.125);
  });
  it('is zero without steps', () => {
    expect(netAt([], 3)).toBe(0);
  });
});

describe('offerChartData', () => {
  it('sorts by price, adds the expected price and marks it on the curve', () => {
    const d = offerChartData(curve, 1.941);
    expect(d.x).toEqual([0, 1.941, 2.22, 4.44, 6.67]);
    expect(d.steps).toEqual([61, null, 61, -29.125, -29.125]);
    expect(d.expected).toEqual([null, 61, null, null, null]);
    // the value from x[i] up to x[i+1]: 0 between the last buying and first selling step
    expect(d.curve).toEqual([61, 61, 0, -29.125, -29.125]);
  });
  it('does not duplicate an expected price that is a step price', () => {
    const d = offerChartData(curve, 4.44);
    expect(d.x).toEqual([0, 2.22, 4.44, 6.67]);
    expect(d.expected).toEqual([null, null, -29.125, null]);
  });
  it('has no expected point without steps or price', () => {
    expect(offerChartData([], 2)).toEqual({ x: [], curve: [], steps: [], expected: [] });
    expect(offerChartData(curve, null).expected.every((v) => v === null)).toBe(true);
  });
});

describe('binding and bid totals', () => {
  it('counts limits over the steps', () => {
    expect(bindingTotals(curve)).toEqual({ at_max_charge: 4, at_max_discharge: 0, soc_at_max: 0, soc_at_min: 2, curtailed: 0, limited: 4 });
    expect(bindingTotals([step(1, 0)]).limited).toBe(0);
  });
  it('sums bids per side', () => {
    expect(
      bidTotals([
        { id: 1, side: 'buy', price: 2.22, volume_kwh: 61 },
        { id: 2, side: 'sell', price: 4.44, volume_kwh: 29.125 },
        { id: 3, side: 'sell', price: 6.67, volume_kwh: 0.1 },
      ]),
    ).toEqual({ buy_kwh: 61, sell_kwh: 29.225, count: 3 });
    expect(bidTotals(undefined)).toEqual({ buy_kwh: 0, sell_kwh: 0, count: 0 });
  });
});

describe('stepRows', () => {
  const items: AutomationStep[] = [
    {
      slot_start: '2026-12-01T21:00:00Z',
      step: 'cycle',
      state: 'done',
      job_id: 12,
      detail: {
        offer: { slot_start: '2026-12-01T21:00:00Z', steps: [], preview: false, bids: [{ id: 9, side: 'buy', price: 2, volume_kwh: 5 }] },
        commitments: [{ slot_start: '2026-12-01T20:00:00Z', quantity_kw: -10, planned_kw: -9.5, up_price: 3, down_price: -2 }],
        warnings: ['w'],
      },
    },
    {
      slot_start: '2026-12-01T20:00:00+00:00',
      step: 'cycle',
      state: 'done',
      job_id: 11,
      detail: {
        offer: { slot_start: '2026-12-01T20:00:00Z', steps: [], preview: false, bids: [] },
        commitments: [{ slot_start: '2026-12-01T20:00:00Z', quantity_kw: 0, planned_kw: 0, up_price: 3, down_price: -2 }],
      },
    },
    { slot_start: '2026-12-01T19:00:00Z', step: 'share', state: 'done', job_id: 10, version: 1, detail: { statement: { contracted_kwh: 5, metered_kwh: 4, imbalance_kwh: -1, trade_amount: 10, imbalance_amount: -2, total: 8 }, fee: 1 } },
    { slot_start: '2026-12-01T18:00:00Z', step: 'cycle', state: 'skipped', job_id: 9, detail: { skipped: 'the gate closed' } },
    { slot_start: '2026-12-01T17:00:00Z', step: 'cycle', state: 'queued', job_id: null, detail: null },
  ];
  const rows = stepRows(items);
  it('takes a slot’s cleared and planned power from the latest cycle that committed it', () => {
    expect(rows[1].cleared_kw).toBe(-10);
    expect(rows[1].planned_kw).toBe(-9.5);
    expect(rows[0].cleared_kw).toBeNull();
  });
  it('sums the offered bids, shows statements and collects warnings', () => {
    expect(rows[0].offered).toEqual({ buy_kwh: 5, sell_kwh: 0, count: 1 });
    expect(rows[1].offered).toEqual({ buy_kwh: 0, sell_kwh: 0, count: 0 });
    expect(rows[0].warnings).toEqual(['w']);
    expect(rows[2]).toMatchObject({ total: 8, fee: 1, contracted_kwh: 5, metered_kwh: 4, offered: null });
    expect(rows[3].warnings).toEqual(['the gate closed']);
    expect(rows[4]).toMatchObject({ offered: null, warnings: [] });
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });
});

describe('valueTotals', () => {
  const m = (o: Partial<ValueMember>): ValueMember => ({
    asset_id: 1,
    name: 'x',
    type: 'battery',
    owner_account_id: 2,
    slots: 0,
    energy_traded_kwh: 0,
    delivered_kwh: 0,
    curtailment_kwh: 0,
    shifting_kwh_h: 0,
    metered_kwh: 0,
    baseline_kwh: 0,
    baseline_cost: 0,
    actual_cost: 0,
    share: 0,
    benefit: 0,
    ...o,
  });
  it('sums energies and money (money in minor units: no drift)', () => {
    const t = valueTotals([m({ delivered_kwh: 1.1, share: 0.1, slots: 3, baseline_cost: 10.01 }), m({ delivered_kwh: 2.2, share: 0.2, slots: 4, baseline_cost: -0.02 })]);
    expect(t.delivered_kwh).toBe(3.3);
    expect(t.share).toBe(0.3);
    expect(t.baseline_cost).toBe(9.99);
    expect(t.slots).toBe(7);
  });
  it('rounds to the currency’s digits', () => {
    expect(valueTotals([m({ share: 12 }), m({ share: 3 })], 0).share).toBe(15);
    expect(valueTotals([]).benefit).toBe(0);
  });
});

describe('members', () => {
  const owner = { account_id: 2, aggregator: false, admin: false };
  const agg = { account_id: 5, aggregator: true, admin: false };
  it('the owner accepts or refuses an invitation and leaves when active', () => {
    expect(memberActions({ state: 'invited', owner_account_id: 2 }, owner)).toEqual(['accept', 'refuse']);
    expect(memberActions({ state: 'active', owner_account_id: 2 }, owner)).toEqual(['leave']);
    expect(memberActions({ state: 'leaving', owner_account_id: 2 }, owner)).toEqual([]);
    expect(memberActions({ state: 'invited', owner_account_id: 3 }, owner)).toEqual([]);
  });
  it('the aggregator lets a member leave or withdraws an invitation', () => {
    expect(memberActions({ state: 'active', owner_account_id: 2 }, agg)).toEqual(['leave']);
    expect(memberActions({ state: 'invited', owner_account_id: 2 }, agg)).toEqual(['leave']);
    expect(memberActions({ state: 'left', owner_account_id: 2 }, agg)).toEqual([]);
  });
  it('parses the invite settings', () => {
    expect(parseSettings('')).toEqual({ ok: true, value: {} });
    expect(parseSettings('{"soc_at_start_kwh": 40}')).toEqual({ ok: true, value: { soc_at_start_kwh: 40 } });
    expect(parseSettings('{soc')).toEqual({ ok: false, error: 'notJson' });
    expect(parseSettings('[1]')).toEqual({ ok: false, error: 'notObject' });
    expect(parseSettings('3')).toEqual({ ok: false, error: 'notObject' });
  });
  it('aligns setpoints on one time axis', () => {
    const r = alignSetpoints([
      { asset_id: 1, resolution: 'PT15M', items: [{ start: '2026-12-01T20:00:00Z', power_kw: 5 }, { start: '2026-12-01T20:15:00Z', power_kw: 6 }] },
      { asset_id: 2, resolution: 'PT15M', items: [{ start: '2026-12-01T20:15:00+00:00', power_kw: -1 }] },
    ]);
    const t0 = Date.parse('2026-12-01T20:00:00Z') / 1000;
    expect(r.x).toEqual([t0, t0 + 900]);
    expect(r.ys).toEqual([[5, 6], [null, -1]]);
  });
});
