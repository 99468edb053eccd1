// Pure helpers for forecasts on the analytics page: a sensor's sources (GET /sensors/{id}/sources)
// paired as median + p10 + p90, the band columns, backtest accuracy formatting, job notes.
// No DOM; unit-tested in forecasts.test.ts.

/** One data source of a sensor (GET /api/v1/sensors/{id}/sources). */
export interface SourceInfo {
  id: number;
  name: string;
  type: string;
  kind: string; // measurement | forecast | schedule
  beliefs: number;
  first_event: string | null;
  last_event: string | null;
}

export interface SourcesResponse {
  sensor_id: number;
  items: SourceInfo[];
}

export interface ForecastBucket {
  horizon: string;
  events: number;
  model: string;
  variant: string | null;
  reason: string | null;
  selection_wape: number | null;
}

/** GET /api/v1/forecasts/{id} (the events are left out where not needed). */
export interface ForecastJob {
  id: number;
  state: string;
  sensor_id: number;
  trigger?: string;
  model_requested?: string | null;
  as_of?: string | null;
  start?: string | null;
  end?: string | null;
  error?: string | null;
  created_at?: string;
  finished_at?: string | null;
  model?: string | null;
  unit?: string;
  resolution?: string;
  buckets?: ForecastBucket[];
  fallback_reason?: string | null;
  notes?: string[];
  sources?: { id: number; name: string }[];
  stored_beliefs?: number;
  cancel_requested?: boolean;
}

export interface AccuracyRow {
  horizon: string | null;
  events: number;
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  wape: number | null;
  skill: number | null;
  seasonal_naive_wape: number | null;
}

/** GET /api/v1/sensors/{id}/forecast-accuracy. */
export interface Accuracy {
  sensor_id: number;
  unit: string;
  model: string;
  start: string;
  end: string;
  origin: string;
  window: string;
  timezone: string;
  origins: number;
  horizons: AccuracyRow[];
  overall: AccuracyRow;
  models_chosen: Record<string, number>;
  notes: string[];
}

export const FORECAST_MODELS = ['auto', 'ols', 'gbt', 'seasonal_naive', 'naive'];
export const FORECAST_ROLES = ['admin', 'operator', 'aggregator', 'participant'];
export const TERMINAL_STATES = ['done', 'failed', 'cancelled'];

/** A forecast as the chart shows it: the median source and its quantile sources, if stored. */
export interface ForecastGroup {
  median: SourceInfo;
  p10: SourceInfo | null;
  p90: SourceInfo | null;
  /** The model in "flexmarket forecaster (<model>)", else the source's name. */
  model: string;
}

const QUANTILE_SUFFIX = / p(10|90)$/;

export function isQuantileSource(s: SourceInfo): boolean {
  return s.type === 'forecaster_quantile' || (s.kind === 'forecast' && QUANTILE_SUFFIX.test(s.name));
}

/** The model name of a forecaster source ("flexmarket forecaster (gbt)" → "gbt"). */
export function modelOfSource(name: string): string {
  const m = /^flexmarket forecaster \((.+)\)$/.exec(name);
  return m ? m[1] : name;
}

/**
 * Forecast sources paired by name: each median ("<name>", kind forecast, not a quantile) with
 * "<name> p10" and "<name> p90" when they exist. Quantiles without a median are left out.
 * Ordered by name (stable colours from one load to the next).
 */
export function pairForecastSources(sources: SourceInfo[]): ForecastGroup[] {
  const byName = new Map(sources.map((s) => [s.name, s]));
  const out: ForecastGroup[] = [];
  for (const s of sources) {
    if (s.kind !== 'forecast' || isQuantileSource(s)) continue;
    const p10 = byName.get(s.name + ' p10');
    const p90 = byName.get(s.name + ' p90');
    out.push({ median: s, p10: p10 && isQuantileSource(p10) ? p10 : null, p90: p90 && isQuantileSource(p90) ? p90 : null, model: modelOfSource(s.name) });
  }
  return out.sort((a, b) => a.median.name.localeCompare(b.median.name));
}

/**
 * Whether a source has events in the window [startIso, endIso): its first event starts before
 * the window ends and its last event (starting at last_event, lasting stepMs) ends after it starts.
 */
export function overlapsWindow(s: SourceInfo, startIso: string, endIso: string, stepMs = 0): boolean {
  if (!s.first_event || !s.last_event || s.beliefs === 0) return false;
  const first = Date.parse(s.first_event);
  const last = Date.parse(s.last_event);
  const start = Date.parse(startIso);
  return first < Date.parse(endIso) && (stepMs > 0 ? last + stepMs > start : last >= start);
}

export type SourceFilter = 'measurements' | 'all';

/** The sources a list shows: measurements only, or all (measurements first, then by name). */
export function filterSources(sources: SourceInfo[], filter: SourceFilter): SourceInfo[] {
  const order = (k: string) => (k === 'measurement' ? 0 : k === 'forecast' ? 1 : 2);
  const list = filter === 'measurements' ? sources.filter((s) => s.kind === 'measurement') : sources.slice();
  return list.sort((a, b) => order(a.kind) - order(b.kind) || a.name.localeCompare(b.name));
}

/**
 * The band of an interval: lower and upper columns where both quantiles are known (swapped
 * where they cross), null elsewhere so the band has gaps where the forecast has.
 */
export function bandColumns(p10: (number | null)[], p90: (number | null)[]): { lo: (number | null)[]; hi: (number | null)[] } {
  const n = Math.max(p10.length, p90.length);
  const lo = new Array<number | null>(n);
  const hi = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    const a = p10[i];
    const b = p90[i];
    if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
      lo[i] = null;
      hi[i] = null;
    } else if (a <= b) {
      lo[i] = a;
      hi[i] = b;
    } else {
      lo[i] = b;
      hi[i] = a;
    }
  }
  return { lo, hi };
}

/** Whether a column has any value. */
export function hasValues(col: (number | null)[] | null | undefined): boolean {
  if (!col) return false;
  for (const v of col) if (v !== null && v !== undefined) return true;
  return false;
}

/** '#rrggbb' with an alpha → 'rgba(r,g,b,a)' (band fills). */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})`;
}

// ---------------------------------------------------------------- accuracy

/** A number rounded to what it says: 3 significant digits, at most 3 decimals, no exponent. */
export function roundSensible(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Decimals roundSensible keeps for v (to format it with a fixed number of decimals). */
export function sensibleDigits(v: number): number {
  const a = Math.abs(v);
  return a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
}

export interface FormatNumber {
  (v: number, digits: number): string;
}

/**
 * A cell of the accuracy table. `kind`: 'unit' (MAE, RMSE: sensible rounding and the unit),
 * 'pct' (MAPE, WAPE: a fraction shown as % with 1 decimal), 'skill' (a signed %), 'count'.
 */
export function formatAccuracyCell(v: number | null | undefined, kind: 'unit' | 'pct' | 'skill' | 'count', unit: string, fmt: FormatNumber): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  switch (kind) {
    case 'count':
      return fmt(v, 0);
    case 'pct':
      return fmt(Math.round(v * 1000) / 10, 1) + ' %';
    case 'skill': {
      const p = Math.round(v * 1000) / 10;
      return (p > 0 ? '+' : p < 0 ? '−' : '') + fmt(Math.abs(p), 1) + ' %';
    }
    default:
      return fmt(roundSensible(v), sensibleDigits(v)) + (unit ? ' ' + unit : '');
  }
}

/** The table's rows: each horizon, then the overall row (horizon null). */
export function accuracyRows(a: Accuracy): AccuracyRow[] {
  const rows = (a.horizons || []).slice();
  if (a.overall && a.overall.events > 0) rows.push({ ...a.overall, horizon: null });
  return rows;
}

/** Repeated notes once each, with how often they came (in first-seen order). */
export function groupNotes(notes: string[] | null | undefined): { text: string; count: number }[] {
  const out: { text: string; count: number }[] = [];
  const at = new Map<string, number>();
  for (const n of notes || []) {
    const i = at.get(n);
    if (i === undefined) {
      at.set(n, out.length);
      out.push({ text: n, count: 1 });
    } else out[i].count++;
  }
  return out;
}

/** The default backtest period: the 28 days before `endIso` (at most 31 allowed by the server). */
export function defaultAccuracyPeriod(endMs: number, days = 28): { start: number; end: number } {
  return { start: endMs - days * 86400_000, end: endMs };
}

/** Why a backtest period is refused before asking the server, or null. */
export function accuracyPeriodProblem(startMs: number, endMs: number): 'order' | 'tooLong' | null {
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs <= startMs) return 'order';
  if (endMs - startMs > 31 * 86400_000) return 'tooLong';
  return null;
}

/** Whether the caller may request forecasts for a sensor (the API decides; this hides the button). */
export function mayForecast(me: { roles: string[]; account: { id: number } } | null, sensorAccountId: number): boolean {
  if (!me) return false;
  if (me.roles.includes('admin')) return true;
  return me.roles.some((r) => FORECAST_ROLES.includes(r)) && me.account.id === sensorAccountId;
}
