// The market clock. On a simulated clock market time runs faster than wall time (the demo: 60x),
// so countdowns to gate closure must use market time. GET /api/v1/markets gives "now"; the speed
// is estimated from successive samples (see estimateSpeed, unit-tested).
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface ClockSample {
  market: number; // market time, ms since epoch
  wall: number; // performance.now()-like wall time, ms
}

/** Speed = Δmarket / Δwall over the two samples furthest apart; snapped to 1 when close to real time. */
export function estimateSpeed(samples: ClockSample[]): number {
  if (samples.length < 2) return 1;
  const a = samples[0];
  const b = samples[samples.length - 1];
  const dw = b.wall - a.wall;
  if (dw < 500) return 1;
  const s = (b.market - a.market) / dw;
  if (!Number.isFinite(s)) return 1;
  if (Math.abs(b.market - a.market) < 1) return 0; // a frozen simulated clock
  if (s < 0) return 1;
  if (Math.abs(s - 1) < 0.2) return 1;
  // snap to a whole number when near one (60x is printed as such by the demo)
  const r = Math.round(s);
  return Math.abs(s - r) / s < 0.1 ? r : s;
}

/** Market time at wall time `wall`, extrapolated from the last sample. */
export function marketNowAt(samples: ClockSample[], wall: number): number {
  if (!samples.length) return Date.now();
  const last = samples[samples.length - 1];
  return last.market + (wall - last.wall) * estimateSpeed(samples);
}

const samples: ClockSample[] = [];
let polling = false;
const subscribers = new Set<() => void>();

async function sample(): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await api<{ now?: string }>('GET', '/api/v1/markets?per_page=1');
    const t1 = performance.now();
    if (r && r.now) {
      samples.push({ market: Date.parse(r.now), wall: (t0 + t1) / 2 });
      while (samples.length > 6) samples.shift();
      subscribers.forEach((fn) => fn());
    }
  } catch {
    /* keep the last estimate */
  }
}

function startPolling(): void {
  if (polling) return;
  polling = true;
  void sample();
  setTimeout(() => void sample(), 1000);
  setTimeout(() => void sample(), 4000);
  setInterval(() => void sample(), 20000);
}

/** Record a market "now" seen in some other response (e.g. GET /markets on a page). */
export function noteMarketNow(iso: string, wall = performance.now()): void {
  const m = Date.parse(iso);
  if (!Number.isFinite(m)) return;
  samples.push({ market: m, wall });
  while (samples.length > 6) samples.shift();
}

export function marketNow(): number {
  return marketNowAt(samples, performance.now());
}

export function clockSpeed(): number {
  return estimateSpeed(samples);
}

/**
 * Re-renders every `intervalMs` of wall time and returns market "now" (ms). Starts the clock
 * polling on first use.
 */
export function useMarketNow(intervalMs = 1000): number {
  startPolling();
  const [now, setNow] = useState(marketNow);
  useEffect(() => {
    const id = setInterval(() => setNow(marketNow()), intervalMs);
    const fn = () => setNow(marketNow());
    subscribers.add(fn);
    return () => {
      clearInterval(id);
      subscribers.delete(fn);
    };
  }, [intervalMs]);
  return now;
}
