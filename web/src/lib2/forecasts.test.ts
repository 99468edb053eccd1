import { describe, expect, it } from 'vitest';
import {
  accuracyPeriodProblem,
  accuracyRows,
  bandColumns,
  defaultAccuracyPeriod,
  filterSources,
  formatAccuracyCell,
  groupNotes,
  hasValues,
  mayForecast,
  modelOfSource,
  overlapsWindow,
  pairForecastSources,
  roundSensible,
  withAlpha,
  type Accuracy,
  type SourceInfo,
} from './forecasts';

const src = (id: number, name: string, type: string, kind: string, first = '2026-12-01T01:45:00Z', last = '2026-12-02T01:30:00Z'): SourceInfo => ({
  id,
  name,
  type,
  kind,
  beliefs: 10,
  first_event: first,
  last_event: last,
});

// as GET /sensors/1/sources answers after an "auto" forecast that used two models
const SOURCES: SourceInfo[] = [
  src(1, 'demo data', 'script', 'measurement', '2026-11-23T16:00:00Z', '2026-12-01T01:15:00Z'),
  src(3, 'flexmarket forecaster (naive)', 'forecaster', 'forecast'),
  src(4, 'flexmarket forecaster (naive) p10', 'forecaster_quantile', 'forecast'),
  src(5, 'flexmarket forecaster (naive) p90', 'forecaster_quantile', 'forecast'),
  src(8, 'flexmarket forecaster (gbt) p90', 'forecaster_quantile', 'forecast'),
  src(6, 'flexmarket forecaster (gbt)', 'forecaster', 'forecast'),
  src(7, 'flexmarket forecaster (gbt) p10', 'forecaster_quantile', 'forecast'),
  src(9, 'flexmarket forecaster (ols)', 'forecaster', 'forecast'),
  src(10, 'flexmarket forecaster (lost) p10', 'forecaster_quantile', 'forecast'),
  src(11, 'flexmarket scheduler', 'scheduler', 'schedule'),
  src(12, 'meter upload', 'user', 'measurement'),
];

describe('forecast sources', () => {
  it('pairs each median with its p10 and p90 by name, whatever the order', () => {
    const g = pairForecastSources(SOURCES);
    expect(g.map((x) => x.model)).toEqual(['gbt', 'naive', 'ols']);
    expect(g[0].median.id).toBe(6);
    expect(g[0].p10?.id).toBe(7);
    expect(g[0].p90?.id).toBe(8);
    expect(g[1].p10?.id).toBe(4);
    expect(g[1].p90?.id).toBe(5);
    // a forecast stored without quantiles has no band; quantiles without a median are ignored
    expect(g[2].p10).toBeNull();
    expect(g[2].p90).toBeNull();
    expect(g.some((x) => x.median.id === 10)).toBe(false);
  });
  it('reads the model from the source name', () => {
    expect(modelOfSource('flexmarket forecaster (seasonal_naive)')).toBe('seasonal_naive');
    expect(modelOfSource('my own forecast')).toBe('my own forecast');
  });
  it('a forecast named by a user with p10/p90 siblings pairs too', () => {
    const g = pairForecastSources([src(1, 'mine', 'user', 'forecast'), src(2, 'mine p10', 'user', 'forecast'), src(3, 'mine p90', 'user', 'forecast')]);
    expect(g).toHaveLength(1);
    expect(g[0].p10?.id).toBe(2);
  });
  it('keeps the sources with events in the window', () => {
    const s = SOURCES[5]; // gbt: 2026-12-01T01:45 .. 2026-12-02T01:30 (PT15M)
    expect(overlapsWindow(s, '2026-11-24T16:00:00Z', '2026-12-01T16:00:00Z')).toBe(true);
    expect(overlapsWindow(s, '2026-12-02T01:40:00Z', '2026-12-03T00:00:00Z', 900_000)).toBe(true);
    expect(overlapsWindow(s, '2026-12-02T01:45:00Z', '2026-12-03T00:00:00Z', 900_000)).toBe(false);
    expect(overlapsWindow(s, '2026-11-20T00:00:00Z', '2026-12-01T01:45:00Z')).toBe(false);
    expect(overlapsWindow({ ...s, beliefs: 0 }, '2026-11-24T16:00:00Z', '2026-12-03T00:00:00Z')).toBe(false);
    expect(overlapsWindow({ ...s, first_event: null, last_event: null }, '2026-11-24T16:00:00Z', '2026-12-03T00:00:00Z')).toBe(false);
  });
  it('filters measurements only, or lists all with measurements first', () => {
    expect(filterSources(SOURCES, 'measurements').map((s) => s.id)).toEqual([1, 12]);
    const all = filterSources(SOURCES, 'all');
    expect(all).toHaveLength(SOURCES.length);
    expect(all.slice(0, 2).map((s) => s.kind)).toEqual(['measurement', 'measurement']);
    expect(all[all.length - 1].kind).toBe('schedule');
  });
});

describe('band', () => {
  it('is null where a quantile is missing and ordered where they cross', () => {
    const b = bandColumns([1, null, 5, 2, 3], [4, 6, null, 1, 3]);
    expect(b.lo).toEqual([1, null, null, 1, 3]);
    expect(b.hi).toEqual([4, null, null, 2, 3]);
  });
  it('handles columns of different lengths and a year quickly', () => {
    expect(bandColumns([1], [2, 3])).toEqual({ lo: [1, null], hi: [2, null] });
    const n = 35040;
    const a = Array.from({ length: n }, (_, i) => (i % 3 ? i : null));
    const t0 = performance.now();
    const b = bandColumns(a, a.map((v) => (v === null ? null : v + 1)));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(b.hi[1]).toBe(2);
  });
  it('knows whether a column has values; colours with alpha', () => {
    expect(hasValues([null, null])).toBe(false);
    expect(hasValues([null, 0])).toBe(true);
    expect(hasValues(null)).toBe(false);
    expect(withAlpha('#d2691e', 0.2)).toBe('rgba(210,105,30,0.2)');
    expect(withAlpha('red', 0.2)).toBe('red');
  });
});

describe('accuracy', () => {
  const fmt = (v: number, d: number) => v.toFixed(d);
  it('rounds sensibly', () => {
    expect(roundSensible(1234.567)).toBe(1235);
    expect(roundSensible(12.345)).toBe(12.3);
    expect(roundSensible(3.09119)).toBe(3.09);
    expect(roundSensible(0.0123456)).toBe(0.012);
    expect(roundSensible(-6.07418)).toBe(-6.07);
  });
  it('formats cells: units, percentages with one decimal, signed skill, counts', () => {
    expect(formatAccuracyCell(3.09119, 'unit', 'kW', fmt)).toBe('3.09 kW');
    expect(formatAccuracyCell(17.0519, 'unit', 'kW', fmt)).toBe('17.1 kW');
    expect(formatAccuracyCell(0.2006, 'pct', 'kW', fmt)).toBe('20.1 %');
    expect(formatAccuracyCell(3.9663, 'pct', 'kW', fmt)).toBe('396.6 %');
    expect(formatAccuracyCell(-0.0999, 'skill', 'kW', fmt)).toBe('−10.0 %');
    expect(formatAccuracyCell(0.0325, 'skill', 'kW', fmt)).toBe('+3.3 %');
    expect(formatAccuracyCell(0, 'skill', 'kW', fmt)).toBe('0.0 %');
    expect(formatAccuracyCell(326, 'count', 'kW', fmt)).toBe('326');
    expect(formatAccuracyCell(null, 'pct', 'kW', fmt)).toBe('–');
    expect(formatAccuracyCell(undefined, 'unit', 'kW', fmt)).toBe('–');
  });
  it('lists each horizon, then the overall row when it has events', () => {
    const a = {
      horizons: [
        { horizon: 'PT24H', events: 326, mae: 3, rmse: 6, mape: 0.6, wape: 0.2, skill: -0.1, seasonal_naive_wape: 0.18 },
        { horizon: 'PT48H', events: 288, mae: 9, rmse: 17, mape: 4, wape: 0.55, skill: 0.03, seasonal_naive_wape: 0.57 },
      ],
      overall: { horizon: null, events: 614, mae: 5.9, rmse: 12.5, mape: 2.2, wape: 0.37, skill: 0, seasonal_naive_wape: 0.37 },
    } as unknown as Accuracy;
    const rows = accuracyRows(a);
    expect(rows.map((r) => r.horizon)).toEqual(['PT24H', 'PT48H', null]);
    expect(accuracyRows({ ...a, horizons: [], overall: { ...a.overall, events: 0 } })).toEqual([]);
  });
  it('groups repeated notes', () => {
    expect(groupNotes(['a', 'b', 'a', 'a'])).toEqual([
      { text: 'a', count: 3 },
      { text: 'b', count: 1 },
    ]);
    expect(groupNotes(undefined)).toEqual([]);
  });
  it('defaults to the 28 days before the window end, at most 31 days', () => {
    const end = Date.parse('2026-12-03T00:00:00+08:00');
    const p = defaultAccuracyPeriod(end);
    expect(new Date(p.start).toISOString()).toBe('2026-11-04T16:00:00.000Z');
    expect(accuracyPeriodProblem(p.start, p.end)).toBeNull();
    expect(accuracyPeriodProblem(p.end, p.start)).toBe('order');
    expect(accuracyPeriodProblem(end - 32 * 86400_000, end)).toBe('tooLong');
    expect(accuracyPeriodProblem(end - 31 * 86400_000, end)).toBeNull();
  });
});

describe('who may forecast', () => {
  const me = (roles: string[], account = 2) => ({ roles, account: { id: account } });
  it('admins any sensor; operator, aggregator, participant their own account only; meters never', () => {
    expect(mayForecast(me(['admin'], 1), 2)).toBe(true);
    expect(mayForecast(me(['participant']), 2)).toBe(true);
    expect(mayForecast(me(['participant']), 1)).toBe(false);
    expect(mayForecast(me(['operator'], 1), 1)).toBe(true);
    expect(mayForecast(me(['aggregator'], 3), 3)).toBe(true);
    expect(mayForecast(me(['meter']), 2)).toBe(false);
    expect(mayForecast(null, 2)).toBe(false);
  });
});
