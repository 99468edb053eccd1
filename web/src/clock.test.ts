import { describe, expect, it } from 'vitest';
import { addSample, estimateSpeed, marketNowAt, type ClockSample } from './clock';

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
  it('is not skewed by one jump of the clock', () => {
    const s = [
      { market: 0, wall: 0 },
      { market: 60_000, wall: 1000 },
      { market: 120_000 + 3_600_000, wall: 2000 }, // an operator advanced it by an hour
      { market: 180_000 + 3_600_000, wall: 3000 },
    ];
    expect(estimateSpeed(s)).toBe(60);
    expect(marketNowAt(s, 3500)).toBe(180_000 + 3_600_000 + 30_000);
  });
  it('keeps its speed across a jump', () => {
    const s: ClockSample[] = [];
    addSample(s, { market: 0, wall: 0 });
    addSample(s, { market: 60_000, wall: 1000 });
    addSample(s, { market: 120_000 + 3_600_000, wall: 2000 });
    expect(estimateSpeed(s)).toBe(60);
    expect(marketNowAt(s, 2500)).toBe(150_000 + 3_600_000);
  });
  it('sees a frozen clock', () => {
    expect(estimateSpeed([{ market: 5000, wall: 0 }, { market: 5000, wall: 2000 }])).toBe(0);
    expect(marketNowAt([{ market: 5000, wall: 0 }, { market: 5000, wall: 2000 }], 9000)).toBe(5000);
  });
  it('snaps near-real-time to 1', () => {
    expect(estimateSpeed([{ market: 0, wall: 0 }, { market: 10_100, wall: 10_000 }])).toBe(1);
  });
});
