import { describe, expect, it } from 'vitest';
import { estimateSpeed, marketNowAt } from './clock';

describe('market clock', () => {
  it('is real time with one sample', () => {
    expect(estimateSpeed([{ market: 0, wall: 0 }])).toBe(1);
  });
  it('estimates a 60x simulated clock', () => {
    const s = [
      { market: 1_000_000, wall: 0 },
      { market: 1_000_000 + 3000 * 60 + 500, wall: 3000 },
    ];
    expect(estimateSpeed(s)).toBe(60);
    expect(marketNowAt(s, 4000)).toBe(1_000_000 + 3000 * 60 + 500 + 1000 * 60);
  });
  it('sees a frozen clock', () => {
    expect(estimateSpeed([{ market: 5000, wall: 0 }, { market: 5000, wall: 2000 }])).toBe(0);
    expect(marketNowAt([{ market: 5000, wall: 0 }, { market: 5000, wall: 2000 }], 9000)).toBe(5000);
  });
  it('snaps near-real-time to 1', () => {
    expect(estimateSpeed([{ market: 0, wall: 0 }, { market: 10_100, wall: 10_000 }])).toBe(1);
  });
});
