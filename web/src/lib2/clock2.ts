import { loadMarkets } from '../markets';

/** Take one market-clock sample now (GET /markets gives "now"); errors leave the estimate as is. */
export async function syncMarketClock(): Promise<void> {
  try {
    await loadMarkets(); // notes the market clock's "now"
  } catch {
    /* the wall clock stands in */
  }
}
