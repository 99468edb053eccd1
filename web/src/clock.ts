// The market clock. On a simulated clock market time runs faster than wall time (the demo: 60x),
// so countdowns to gate closure must use market time. GET /api/v1/markets gives "now"; the speed
// is estimated from successive samples (see estimateSpeed, unit-tested).
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface ClockSample {
  market: number; // market time, ms since epoch
  wall: number; // performance.now()-like wall time, ms
}

/**
 * Speed = Δmarket / Δwall: the median over consecutive samples (so one jump of the clock, e.g. an
 * operator advancing it, does not skew it); snapped to 1 near real time, 0 for a frozen clock.
 */
export function estimateSpeed(samples: ClockSample[]): number {
  const rates: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dw = samples[i].wall - samples[i - 1].wall;
    if (dw < 500) continue;
    rates.push((samples[i].market - samples[i - 1].market) / dw);
  }
  if (!rates.length) return 1;
  rates.sort((x, y) => x - y);
  const s = rates.length % 2 ? rates[(rates.length - 1) / 2] : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
  if (!Number.isFinite(s)) return 1;
  if (Math.abs(s) < 1e-3) return 0; // a frozen simulated clock
  if (s < 0) return 1;
  if (Math.abs(s - 1) < 0.2) return 1;
  // snap to a whole number when near one (60x is printed as such by the demo)
  const r = Math.round(s);
  return Math.abs(s - r) / s < 0.1 ? r : s;
}

/** Market time at wall time `wall`, extrapolated from the last sample at `speed` (default: estimated). */
export function marketNowAt(samples: ClockSample[], wall: number, speed?: number): number {
  if (!samples.length) return Date.now();
  const last = samples[samples.length - 1];
  return last.market + (wall - last.wall) * (speed ?? estimateSpeed(samples));
}

// The speed the server states (GET /api/v1/markets: clock.speed); estimated when it does not.
let serverSpeed: number | undefined;

const samples: ClockSample[] = [];

/**
 * Add a sample. When it is far from where the clock should be (an operator moved it), earlier
 * samples are shifted by the jump so that the speed estimate keeps its history.
 */
export function addSample(list: ClockSample[], next: ClockSample, max = 6): void {
  if (list.length >= 2) {
    const predicted = marketNowAt(list, next.wall);
    const jump = next.market - predicted;
    const dw = next.wall - list[list.length - 1].wall;
    if (Math.abs(jump) > Math.max(5000, 0.2 * Math.abs(predicted - list[list.length - 1].market)) && dw < 60000) {
      for (const smp of list) smp.market += jump;
    }
  }
  list.push(next);
  while (list.length > max) list.shift();
}
let polling = false;
const subscribers = new Set<() => void>();

async function sample(): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await api<{ now?: string; clock?: { speed?: number } }>('GET', '/api/v1/markets?per_page=1');
    const t1 = performance.now();
    if (r && typeof r.clock?.speed === 'number' && Number.isFinite(r.clock.speed)) serverSpeed = r.clock.speed;
    if (r && r.now) {
      addSample(samples, { market: Date.parse(r.now), wall: (t0 + t1) / 2 });
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
  addSample(samples, { market: m, wall });
}

let lastResample = 0;
/** Take a fresh sample soon (after events that may follow a jump of the clock); throttled. */
export function resampleClock(): void {
  const now = performance.now();
  if (now - lastResample < 2000) return;
  lastResample = now;
  void sample();
}

export function marketNow(): number {
  return marketNowAt(samples, performance.now(), serverSpeed);
}

export function clockSpeed(): number {
  return serverSpeed ?? estimateSpeed(samples);
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
