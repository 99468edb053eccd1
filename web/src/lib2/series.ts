// Pure time-series shaping for the analytics, assets and portfolio pages: API series → chart
// columns, aligning several series, sums, metrics, CSV/JSON export, energy by kind.
// No DOM; unit-tested in series.test.ts.
import { parseIsoDuration } from '../format';

/** GET /api/v1/sensors/{id}/data (JSON). */
export interface SeriesData {
  sensor_id?: number;
  unit: string;
  resolution: string;
  timezone?: string;
  start: string;
  values: (number | null)[];
  event_starts?: string[];
}

/** Event start instants in Unix seconds (calendar resolutions use event_starts). */
export function seriesTimes(s: SeriesData): number[] {
  if (s.event_starts && s.event_starts.length === s.values.length) {
    return s.event_starts.map((x) => Date.parse(x) / 1000);
  }
  const t0 = Date.parse(s.start) / 1000;
  const step = parseIsoDuration(s.resolution) / 1000;
  const out = new Array<number>(s.values.length);
  for (let i = 0; i < s.values.length; i++) out[i] = t0 + i * step;
  return out;
}

/**
 * Put several series on one ascending time axis (the union of their event starts); a series has
 * null where it has no event. Fast path when all share start and step (the usual case).
 */
export function alignSeries(list: (SeriesData | null | undefined)[]): { x: number[]; ys: (number | null)[][] } {
  const present = list.filter((s): s is SeriesData => !!s);
  if (present.length === 0) return { x: [], ys: list.map(() => []) };
  const times = list.map((s) => (s ? seriesTimes(s) : null));
  const first = times.find((t) => t && t.length > 0) || [];
  const same = times.every((t) => !t || t.length === 0 || (t.length === first.length && t[0] === first[0] && t[t.length - 1] === first[first.length - 1]));
  if (same) {
    const x = first.slice();
    const ys = list.map((s) => (s && s.values.length === x.length ? s.values.slice() : new Array<number | null>(x.length).fill(null)));
    return { x, ys };
  }
  const set = new Set<number>();
  for (const t of times) if (t) for (const v of t) set.add(v);
  const x = Array.from(set).sort((a, b) => a - b);
  const index = new Map<number, number>();
  x.forEach((v, i) => index.set(v, i));
  const ys = list.map((s, k) => {
    const col = new Array<number | null>(x.length).fill(null);
    const t = times[k];
    if (s && t) for (let i = 0; i < t.length; i++) col[index.get(t[i])!] = s.values[i];
    return col;
  });
  return { x, ys };
}

/** Element-wise sum of aligned columns: null only where every column is null. */
export function sumColumns(cols: (number | null)[][]): (number | null)[] {
  if (cols.length === 0) return [];
  const n = cols[0].length;
  const out = new Array<number | null>(n).fill(null);
  for (const c of cols) {
    for (let i = 0; i < n; i++) {
      const v = c[i];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      out[i] = (out[i] ?? 0) + v;
    }
  }
  return out;
}

export type UnitKind = 'power' | 'energy' | 'other';
export function unitKind(unit: string): UnitKind {
  if (/^(k|M|G)?W$/.test(unit)) return 'power';
  if (/^(k|M|G)?Wh$/.test(unit)) return 'energy';
  return 'other';
}

/** kWh per unit-hour of a power unit (W → 0.001). */
function powerToKw(unit: string): number {
  return unit === 'W' ? 0.001 : unit === 'MW' ? 1000 : unit === 'GW' ? 1e6 : 1;
}
function energyToKwh(unit: string): number {
  return unit === 'Wh' ? 0.001 : unit === 'MWh' ? 1000 : unit === 'GWh' ? 1e6 : 1;
}

export interface Metrics {
  /** Realised total: energy in kWh for power and energy units, else the mean (in the unit). */
  total: number | null;
  totalKind: 'energy' | 'mean';
  count: number;
  known: number;
  /** Forecast errors, over the events where both are known (null without a forecast). */
  mae: number | null;
  mape: number | null;
  wape: number | null;
  pairs: number;
}

/**
 * Metrics of a realised series and (optionally) a forecast aligned with it. `x` in seconds,
 * `stepSeconds` the event length (for energy from power). `fromSeconds`: only events ending
 * after it count as forecast pairs (with an "as known at" replay, events already measured at
 * that instant are not forecasts).
 */
export function computeMetrics(
  x: number[],
  actual: (number | null)[],
  unit: string,
  stepSeconds: number,
  forecast?: (number | null)[] | null,
  fromSeconds?: number | null,
): Metrics {
  const kind = unitKind(unit);
  let sum = 0;
  let known = 0;
  for (const v of actual) {
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    sum += v;
    known++;
  }
  let total: number | null = null;
  let totalKind: Metrics['totalKind'] = 'mean';
  if (known > 0) {
    if (kind === 'power') {
      total = sum * powerToKw(unit) * (stepSeconds / 3600);
      totalKind = 'energy';
    } else if (kind === 'energy') {
      total = sum * energyToKwh(unit);
      totalKind = 'energy';
    } else total = sum / known;
  } else if (kind !== 'other') totalKind = 'energy';
  let absErr = 0;
  let absAct = 0;
  let apeSum = 0;
  let apeN = 0;
  let pairs = 0;
  if (forecast) {
    for (let i = 0; i < actual.length; i++) {
      const a = actual[i];
      const f = forecast[i];
      if (a === null || f === null || a === undefined || f === undefined) continue;
      if (fromSeconds !== null && fromSeconds !== undefined && x[i] + stepSeconds <= fromSeconds) continue;
      const e = Math.abs(a - f);
      absErr += e;
      absAct += Math.abs(a);
      if (a !== 0) {
        apeSum += e / Math.abs(a);
        apeN++;
      }
      pairs++;
    }
  }
  return {
    total,
    totalKind,
    count: actual.length,
    known,
    mae: pairs > 0 ? absErr / pairs : null,
    mape: apeN > 0 ? apeSum / apeN : null,
    wape: pairs > 0 && absAct > 0 ? absErr / absAct : null,
    pairs,
  };
}

/** CSV of aligned columns: a header, then one line per instant (ISO with offset via fmt). */
export function toCsv(x: number[], cols: { name: string; values: (number | null)[] }[], fmtTime: (s: number) => string): string {
  const esc = (s: string) => (/[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
  const lines = ['time,' + cols.map((c) => esc(c.name)).join(',')];
  for (let i = 0; i < x.length; i++) {
    let line = fmtTime(x[i]);
    for (const c of cols) {
      const v = c.values[i];
      line += ',' + (v === null || v === undefined ? '' : String(v));
    }
    lines.push(line);
  }
  return lines.join('\n') + '\n';
}

/** ISO 8601 with the offset of a timezone, e.g. 2026-11-22T00:15:00+08:00 (for exports). */
export function isoWithOffset(ms: number, parts: (ms: number) => { year: string; month: string; day: string; hour: string; minute: string; second: string; offset: string }): string {
  const p = parts(ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${p.offset}`;
}

/** Decimate nothing, but give the visible index range of a zoom window (for metrics of the view). */
export function visibleRange(x: number[], min: number, max: number): [number, number] {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x[m] < min) lo = m + 1;
    else hi = m;
  }
  const a = lo;
  lo = a;
  hi = x.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x[m] <= max) lo = m + 1;
    else hi = m;
  }
  return [a, lo];
}

/** A new [min, max] after zooming by factor around a centre fraction, clamped to [lo, hi]. */
export function zoomWindow(min: number, max: number, factor: number, centre: number, lo: number, hi: number): [number, number] {
  const span = max - min;
  let ns = span * factor;
  const full = hi - lo;
  if (ns >= full) return [lo, hi];
  ns = Math.max(ns, Math.min(full, 60));
  const c = min + span * centre;
  let a = c - ns * centre;
  let b = a + ns;
  if (a < lo) {
    a = lo;
    b = lo + ns;
  }
  if (b > hi) {
    b = hi;
    a = hi - ns;
  }
  return [a, b];
}

/** Shift [min, max] by a fraction of its span, clamped to [lo, hi]. */
export function panWindow(min: number, max: number, fraction: number, lo: number, hi: number): [number, number] {
  const span = max - min;
  let a = min + span * fraction;
  if (a < lo) a = lo;
  if (a + span > hi) a = hi - span;
  return [a, a + span];
}

// ---------------------------------------------------------------- energy by kind (portfolio)

export interface DayEnergyLike {
  date: string;
  energy_kwh: Record<string, number | null>;
  generate_kwh?: number | null;
  consume_kwh?: number | null;
}

export interface KindEnergy {
  kind: string;
  consumed: number | null;
  produced: number | null;
  net: number | null;
  days: number;
}

export const POWER_KINDS = ['net_load', 'load', 'pv', 'wind', 'ev', 'ess'];

/**
 * Per kind over the days: energy consumed (sum of positive day values), produced (sum of the
 * magnitudes of negative ones) and net; null where no day had data for that kind.
 */
export function energyByKind(days: DayEnergyLike[]): KindEnergy[] {
  const kinds = new Set<string>(POWER_KINDS);
  for (const d of days) for (const k of Object.keys(d.energy_kwh || {})) kinds.add(k);
  const out: KindEnergy[] = [];
  for (const kind of kinds) {
    let consumed = 0;
    let produced = 0;
    let n = 0;
    for (const d of days) {
      const v = d.energy_kwh ? d.energy_kwh[kind] : null;
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      n++;
      if (v >= 0) consumed += v;
      else produced += -v;
    }
    out.push(n === 0 ? { kind, consumed: null, produced: null, net: null, days: 0 } : { kind, consumed, produced, net: consumed - produced, days: n });
  }
  const order = (k: string) => {
    const i = POWER_KINDS.indexOf(k);
    return i < 0 ? 99 : i;
  };
  return out.sort((a, b) => order(a.kind) - order(b.kind) || a.kind.localeCompare(b.kind));
}

/** Sum of a nullable field over days (null when no day has it). */
export function sumField(days: DayEnergyLike[], field: 'generate_kwh' | 'consume_kwh'): number | null {
  let s = 0;
  let n = 0;
  for (const d of days) {
    const v = d[field];
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    s += v;
    n++;
  }
  return n ? s : null;
}

// ---------------------------------------------------------------- schedules (portfolio)

/** Shift every ISO instant in a schedule request (start, availability, targets) by ms. */
export function shiftRequestTimes<T>(req: T, ms: number): T {
  const walk = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = walk(x, k);
      return o;
    }
    if (typeof v === 'string' && ['start', 'end', 'datetime', 'window_start', 'window_end'].includes(key) && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
      const t = Date.parse(v);
      if (Number.isFinite(t)) return new Date(t + ms).toISOString().replace('.000Z', 'Z');
    }
    return v;
  };
  return walk(req, '') as T;
}

/** The next whole step (ms) at or after t. */
export function ceilTo(t: number, stepMs: number): number {
  return Math.ceil(t / stepMs) * stepMs;
}

/** Device power columns of a done schedule on one time axis (seconds). */
export function scheduleColumns(startIso: string, resolution: string, devices: { power_kw: (number | null)[] }[]): { x: number[]; ys: (number | null)[][] } {
  const n = Math.max(0, ...devices.map((d) => d.power_kw.length));
  const t0 = Date.parse(startIso) / 1000;
  const step = parseIsoDuration(resolution) / 1000;
  const x = Array.from({ length: n }, (_, i) => t0 + i * step);
  return { x, ys: devices.map((d) => Array.from({ length: n }, (_, i) => d.power_kw[i] ?? null)) };
}

/** Null every value whose event has not ended by nowSeconds (what is realised so far). */
export function maskAfter(x: number[], values: (number | null)[], stepSeconds: number, nowSeconds: number): (number | null)[] {
  return values.map((v, i) => (x[i] + stepSeconds <= nowSeconds ? v : null));
}
