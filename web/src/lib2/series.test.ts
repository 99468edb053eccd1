import { describe, expect, it } from 'vitest';
import {
  alignSeries,
  ceilTo,
  computeMetrics,
  energyByKind,
  panWindow,
  scheduleColumns,
  seriesTimes,
  shiftRequestTimes,
  sumColumns,
  sumField,
  toCsv,
  unitKind,
  visibleRange,
  zoomWindow,
} from './series';

describe('series times and alignment', () => {
  it('derives event starts from start and resolution', () => {
    expect(seriesTimes({ unit: 'kW', resolution: 'PT15M', start: '2026-11-22T00:00:00Z', values: [1, 2, 3] })).toEqual([
      1795305600, 1795306500, 1795307400,
    ]);
  });
  it('uses event_starts for calendar days', () => {
    const t = seriesTimes({ unit: 'kW', resolution: 'P1D', start: 'x', values: [1, 2], event_starts: ['2026-11-21T16:00:00Z', '2026-11-22T16:00:00Z'] });
    expect(t[1] - t[0]).toBe(86400);
  });
  it('aligns series of different starts on the union of instants', () => {
    const a = { unit: 'kW', resolution: 'PT1H', start: '2026-11-22T00:00:00Z', values: [1, 2] };
    const b = { unit: 'kW', resolution: 'PT1H', start: '2026-11-22T01:00:00Z', values: [5, 6] };
    const r = alignSeries([a, null, b]);
    expect(r.x.length).toBe(3);
    expect(r.ys[0]).toEqual([1, 2, null]);
    expect(r.ys[1]).toEqual([null, null, null]);
    expect(r.ys[2]).toEqual([null, 5, 6]);
  });
  it('takes the fast path for equal grids and handles a year of 15-minute data quickly', () => {
    const n = 35040;
    const values = Array.from({ length: n }, (_, i) => Math.sin(i / 50));
    const a = { unit: 'kW', resolution: 'PT15M', start: '2026-01-01T00:00:00Z', values };
    const t0 = performance.now();
    const r = alignSeries([a, { ...a, values: values.map((v) => v + 1) }]);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(r.x.length).toBe(n);
    expect(r.ys[1][10]).toBeCloseTo(values[10] + 1);
  });
  it('sums columns, null only where all are null', () => {
    expect(sumColumns([[1, null, null], [2, 3, null]])).toEqual([3, 3, null]);
    expect(sumColumns([])).toEqual([]);
  });
});

describe('metrics', () => {
  const x = [0, 900, 1800, 2700];
  it('realised energy from power (kW × h), errors where a forecast exists', () => {
    const m = computeMetrics(x, [10, 20, null, 40], 'kW', 900, [12, 15, 30, null]);
    expect(m.total).toBeCloseTo((10 + 20 + 40) / 4);
    expect(m.totalKind).toBe('energy');
    expect(m.pairs).toBe(2);
    expect(m.mae).toBeCloseTo(3.5);
    expect(m.mape).toBeCloseTo((2 / 10 + 5 / 20) / 2);
    expect(m.wape).toBeCloseTo(7 / 30);
  });
  it('converts W and sums energy units; other units give the mean', () => {
    expect(computeMetrics(x, [1000, 1000, 1000, 1000], 'W', 3600).total).toBeCloseTo(4);
    expect(computeMetrics(x, [1, 2, 3, null], 'MWh', 900).total).toBeCloseTo(6000);
    const p = computeMetrics(x, [3, 5, null, null], 'TWD/kWh', 900);
    expect(p.total).toBe(4);
    expect(p.totalKind).toBe('mean');
  });
  it('no forecast: no errors; zero actuals skip MAPE only', () => {
    const m = computeMetrics(x, [0, 0, 0, 0], 'kW', 900, [1, 1, 1, 1]);
    expect(m.mae).toBe(1);
    expect(m.mape).toBeNull();
    expect(m.wape).toBeNull();
    expect(computeMetrics(x, [1, 2, 3, 4], 'kW', 900).mae).toBeNull();
  });
  it('an as-known-at replay counts only events ending after it', () => {
    const m = computeMetrics(x, [10, 10, 10, 10], 'kW', 900, [10, 10, 20, 30], 1800);
    expect(m.pairs).toBe(2);
    expect(m.mae).toBe(15);
  });
  it('unit kinds', () => {
    expect(unitKind('kW')).toBe('power');
    expect(unitKind('MWh')).toBe('energy');
    expect(unitKind('°C')).toBe('other');
  });
});

describe('export and zoom', () => {
  it('writes CSV with empty cells for null and quoted names', () => {
    const csv = toCsv([0, 900], [{ name: 'a,b', values: [1, null] }], (s) => String(s));
    expect(csv).toBe('time,"a,b"\n0,1\n900,\n');
  });
  it('finds the visible index range', () => {
    expect(visibleRange([0, 10, 20, 30], 5, 20)).toEqual([1, 3]);
    expect(visibleRange([0, 10, 20, 30], -5, 100)).toEqual([0, 4]);
  });
  it('zooms around a point and pans within bounds', () => {
    expect(zoomWindow(0, 1000, 0.5, 0.5, 0, 1000)).toEqual([250, 750]);
    expect(zoomWindow(0, 1000, 2, 0.5, 0, 1000)).toEqual([0, 1000]);
    expect(zoomWindow(0, 1000, 0.5, 0, 0, 1000)).toEqual([0, 500]);
    expect(panWindow(250, 750, 0.5, 0, 1000)).toEqual([500, 1000]);
    expect(panWindow(250, 750, -1, 0, 1000)).toEqual([0, 500]);
  });
});

describe('portfolio shaping', () => {
  const days = [
    { date: '2026-11-25', energy_kwh: { net_load: 86.9, pv: -547.66, load: 634.5, ess: null, ev: null, wind: null }, generate_kwh: 547.66, consume_kwh: 634.5 },
    { date: '2026-11-26', energy_kwh: { net_load: -10, pv: -500, load: 490, ess: 5, ev: null, wind: null }, generate_kwh: 500, consume_kwh: 490 },
  ];
  it('splits consumed and produced per kind, null without data', () => {
    const r = energyByKind(days);
    const by = Object.fromEntries(r.map((k) => [k.kind, k]));
    expect(r[0].kind).toBe('net_load');
    expect(by.net_load.consumed).toBeCloseTo(86.9);
    expect(by.net_load.produced).toBeCloseTo(10);
    expect(by.pv.produced).toBeCloseTo(1047.66);
    expect(by.pv.consumed).toBe(0);
    expect(by.ess.days).toBe(1);
    expect(by.wind.consumed).toBeNull();
    expect(sumField(days, 'generate_kwh')).toBeCloseTo(1047.66);
    expect(sumField([], 'consume_kwh')).toBeNull();
  });
  it('shifts every instant of a schedule request', () => {
    const req = {
      start: '2026-11-30T22:15:00Z',
      duration: 'PT17H45M',
      flex_model: [{ asset_id: 8, availability: [{ start: '2026-11-30T22:15:00Z', end: '2026-12-01T16:00:00Z' }], soc_targets: [{ datetime: '2026-12-01T16:00:00Z', min: 45 }] }],
    };
    const s = shiftRequestTimes(req, 3600_000);
    expect(s.start).toBe('2026-11-30T23:15:00Z');
    expect(s.flex_model[0].availability[0].end).toBe('2026-12-01T17:00:00Z');
    expect(s.flex_model[0].soc_targets[0].datetime).toBe('2026-12-01T17:00:00Z');
    expect(s.flex_model[0].soc_targets[0].min).toBe(45);
    expect(s.duration).toBe('PT17H45M');
    expect(req.start).toBe('2026-11-30T22:15:00Z');
  });
  it('rounds up to the next step and lays out device columns', () => {
    expect(ceilTo(901_000, 900_000)).toBe(1_800_000);
    expect(ceilTo(900_000, 900_000)).toBe(900_000);
    const c = scheduleColumns('1970-01-01T00:00:00Z', 'PT15M', [{ power_kw: [1, 2] }, { power_kw: [3] }]);
    expect(c.x).toEqual([0, 900]);
    expect(c.ys).toEqual([[1, 2], [3, null]]);
  });
});

describe('realised so far', () => {
  it('keeps only events that have ended', async () => {
    const { maskAfter } = await import('./series');
    expect(maskAfter([0, 900, 1800], [1, 2, 3], 900, 1800)).toEqual([1, 2, null]);
  });
});
