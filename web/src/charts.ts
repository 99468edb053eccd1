// Pure chart data shaping (unit-tested in charts.test.ts); the Chart component draws it.
import type { ClearingSummary, CurvePoint } from './types';

export interface DepthData {
  /** x: cumulative volume (kWh), ascending, unique. */
  x: number[];
  /** price of the demand (buy) curve over (x[i-1], x[i]]; null past its end. */
  demand: (number | null)[];
  /** price of the supply (sell) curve over (x[i-1], x[i]]; null past its end. */
  supply: (number | null)[];
  /** the clearing point: the price at the cleared volume, null elsewhere. */
  point: (number | null)[];
}

/**
 * Stepped depth curves on one x axis. Each curve is a list of (price, cumulative volume) steps
 * in the order the market fills them (demand: price descending; supply: ascending); the step's
 * price holds from the previous cumulative volume up to its own. Drawn with stepped paths that
 * go vertical first (align -1), so the value at x[i] is the price of the step ending at x[i].
 */
export function depthData(demand: CurvePoint[], supply: CurvePoint[], clearing?: { price: number | null; volume_kwh: number }): DepthData {
  const d = [...demand].sort((a, b) => a.volume_kwh - b.volume_kwh);
  const s = [...supply].sort((a, b) => a.volume_kwh - b.volume_kwh);
  const xsSet = new Set<number>([0]);
  for (const p of d) xsSet.add(p.volume_kwh);
  for (const p of s) xsSet.add(p.volume_kwh);
  const hasPoint = clearing && clearing.price !== null && clearing.price !== undefined && clearing.volume_kwh > 0;
  if (hasPoint) xsSet.add(clearing!.volume_kwh);
  const x = [...xsSet].sort((a, b) => a - b);
  const at = (curve: CurvePoint[], v: number): number | null => {
    if (!curve.length) return null;
    if (v === 0) return curve[0].price;
    for (const p of curve) if (p.volume_kwh >= v - 1e-9) return p.price;
    return null;
  };
  return {
    x,
    demand: x.map((v) => at(d, v)),
    supply: x.map((v) => at(s, v)),
    point: x.map((v) => (hasPoint && Math.abs(v - clearing!.volume_kwh) < 1e-9 ? clearing!.price : null)),
  };
}

export interface HistoryData {
  /** slot starts, seconds since epoch, ascending */
  t: number[];
  price: (number | null)[];
  volume: (number | null)[];
}

/** Clearings (any order) → ascending time series of clearing price and cleared volume. */
export function historyData(rows: ClearingSummary[]): HistoryData {
  const sorted = [...rows].sort((a, b) => Date.parse(a.slot_start) - Date.parse(b.slot_start));
  const seen = new Set<number>();
  const out: HistoryData = { t: [], price: [], volume: [] };
  for (const r of sorted) {
    const ts = Date.parse(r.slot_start) / 1000;
    if (seen.has(ts)) continue;
    seen.add(ts);
    out.t.push(ts);
    out.price.push(r.price ?? null);
    out.volume.push(r.volume_kwh ?? null);
  }
  return out;
}

/** The next n slot starts from the first one (ISO), each slot_length apart. */
export function nextSlots(first: string, slotMs: number, n: number): string[] {
  const t0 = Date.parse(first);
  if (!Number.isFinite(t0) || !(slotMs > 0)) return [first];
  return Array.from({ length: n }, (_, i) => new Date(t0 + i * slotMs).toISOString().replace('.000Z', 'Z'));
}
