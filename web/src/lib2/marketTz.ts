import { useEffect, useState } from 'preact/hooks';
import { loadMarkets } from '../markets';

/** The timezone to show account-wide instants in: the first market's (the platform's), else UTC. */
export function useMarketTz(): string {
  const [tz, setTz] = useState('UTC');
  useEffect(() => {
    loadMarkets().then(
      (m) => m[0]?.timezone && setTz(m[0].timezone),
      () => undefined,
    );
  }, []);
  return tz;
}
