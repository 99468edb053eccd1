// Markets are few and rarely change: one cached GET /api/v1/markets per tab (reloadMarkets() after edits).
import { api } from './api';
import { noteMarketNow } from './clock';
import { onUserChange } from './session';
import type { Market, MarketList } from './types';

let cache: Promise<Market[]> | null = null;
onUserChange(() => (cache = null));

export function loadMarkets(force = false): Promise<Market[]> {
  if (!cache || force) {
    cache = api<MarketList>('GET', '/api/v1/markets?per_page=500').then(
      (r) => {
        if (r.now) noteMarketNow(r.now);
        return r.items;
      },
      (e) => {
        cache = null;
        throw e;
      },
    );
  }
  return cache;
}

export function reloadMarkets(): Promise<Market[]> {
  return loadMarkets(true);
}

/** Digits a volume needs for the market's tick (0.001 → 3). */
export function tickDigits(tick: number): number {
  if (!(tick > 0)) return 2;
  const s = String(tick);
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}
