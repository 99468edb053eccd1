import { describe, expect, it } from 'vitest';
import { depthData, historyData, nextSlots } from './charts';
import type { ClearingSummary } from './types';

describe('depth chart data', () => {
  const demand = [
    { price: 4.63, volume_kwh: 70.493 },
    { price: 4.24, volume_kwh: 71.203 },
    { price: 2.81, volume_kwh: 573.445 },
  ];
  const supply = [{ price: 4.63, volume_kwh: 500 }];
  it('puts both curves on one ascending x axis with the clearing point', () => {
    const d = depthData(demand, supply, { price: 4.63, volume_kwh: 70.493 });
    expect(d.x).toEqual([0, 70.493, 71.203, 500, 573.445]);
    expect(d.demand).toEqual([4.63, 4.63, 4.24, 2.81, 2.81]);
    expect(d.supply).toEqual([4.63, 4.63, 4.63, 4.63, null]);
    expect(d.point).toEqual([null, 4.63, null, null, null]);
  });
  it('adds the cleared volume when it is not a breakpoint, and copes with empty curves', () => {
    const d = depthData([{ price: 5, volume_kwh: 10 }], [{ price: 3, volume_kwh: 4 }, { price: 6, volume_kwh: 12 }], { price: 4, volume_kwh: 7 });
    expect(d.x).toEqual([0, 4, 7, 10, 12]);
    expect(d.point[2]).toBe(4);
    expect(d.supply).toEqual([3, 3, 6, 6, 6]);
    const e = depthData([], [], { price: null, volume_kwh: 0 });
    expect(e.x).toEqual([0]);
    expect(e.demand).toEqual([null]);
  });
  it('orders curves by volume whatever order they come in', () => {
    const d = depthData([{ price: 2, volume_kwh: 20 }, { price: 5, volume_kwh: 10 }], []);
    expect(d.demand).toEqual([5, 5, 2]);
  });
});

describe('history data', () => {
  it('sorts ascending and deduplicates', () => {
    const rows = [
      { slot_start: '2026-12-01T01:00:00Z', price: 4.5, volume_kwh: 10 },
      { slot_start: '2026-12-01T00:00:00Z', price: null, volume_kwh: 0 },
      { slot_start: '2026-12-01T01:00:00Z', price: 4.5, volume_kwh: 10 },
    ] as ClearingSummary[];
    const h = historyData(rows);
    expect(h.t).toEqual([Date.parse('2026-12-01T00:00:00Z') / 1000, Date.parse('2026-12-01T01:00:00Z') / 1000]);
    expect(h.price).toEqual([null, 4.5]);
    expect(h.volume).toEqual([0, 10]);
  });
});

describe('next slots', () => {
  it('steps by the slot length', () => {
    expect(nextSlots('2026-12-01T00:00:00Z', 3600000, 3)).toEqual(['2026-12-01T00:00:00Z', '2026-12-01T01:00:00Z', '2026-12-01T02:00:00Z']);
  });
});
