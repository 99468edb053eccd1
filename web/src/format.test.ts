import { describe, expect, it } from 'vitest';
import {
  formatCountdown,
  formatDuration,
  formatInstant,
  formatKW,
  formatKWh,
  formatMoney,
  formatNumber,
  formatPrice,
  fromLocalInput,
  localDate,
  normaliseOffset,
  parseIsoDuration,
  toLocalInput,
  formatIsoDuration,
} from './format';

describe('numbers with units', () => {
  it('formats with grouping and fixed decimals', () => {
    expect(formatNumber(1234.5, 2)).toBe('1,234.50');
    expect(formatNumber(-0.001, 2)).toBe('0.00');
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(NaN)).toBe('–');
  });
  it('adds units', () => {
    expect(formatKW(12.345)).toBe('12.3 kW');
    expect(formatKWh(96.15, 3)).toBe('96.150 kWh');
    expect(formatPrice(4.31, 'TWD')).toBe('4.31 TWD/kWh');
    expect(formatMoney(-807.88, 'TWD')).toBe('-807.88 TWD');
    expect(formatMoney(1000, 'TWD', 0)).toBe('1,000 TWD');
    expect(formatKW(undefined)).toBe('–');
  });
});

describe('instants in a timezone with offset', () => {
  it('shows Taipei time with +08:00', () => {
    expect(formatInstant('2026-11-25T06:00:00Z', 'Asia/Taipei')).toBe('2026-11-25 14:00 +08:00');
    expect(formatInstant('2026-11-30T22:40:00Z', 'Asia/Taipei')).toBe('2026-12-01 06:40 +08:00');
  });
  it('handles UTC, negative and half-hour offsets and DST', () => {
    expect(formatInstant('2026-01-01T00:00:00Z', 'UTC')).toBe('2026-01-01 00:00 +00:00');
    expect(formatInstant('2026-01-01T00:00:00Z', 'Asia/Kolkata')).toBe('2026-01-01 05:30 +05:30');
    expect(formatInstant('2026-07-01T12:00:00Z', 'Europe/Amsterdam')).toBe('2026-07-01 14:00 +02:00');
    expect(formatInstant('2026-01-01T12:00:00Z', 'Europe/Amsterdam')).toBe('2026-01-01 13:00 +01:00');
    expect(formatInstant('2026-01-01T12:00:00Z', 'America/New_York')).toBe('2026-01-01 07:00 -05:00');
  });
  it('seconds, no offset, empty', () => {
    expect(formatInstant('2026-11-25T06:00:05Z', 'Asia/Taipei', { seconds: true })).toBe('2026-11-25 14:00:05 +08:00');
    expect(formatInstant('2026-11-25T06:00:05Z', 'Asia/Taipei', { offset: false })).toBe('2026-11-25 14:00');
    expect(formatInstant(null, 'UTC')).toBe('–');
  });
  it('local date', () => {
    expect(localDate('2026-11-30T16:00:00Z', 'Asia/Taipei')).toBe('2026-12-01');
    expect(localDate('2026-11-30T15:59:59Z', 'Asia/Taipei')).toBe('2026-11-30');
  });
  it('normalises offsets', () => {
    expect(normaliseOffset('GMT+08:00')).toBe('+08:00');
    expect(normaliseOffset('GMT-3')).toBe('-03:00');
    expect(normaliseOffset('GMT')).toBe('+00:00');
  });
  it('round-trips datetime-local inputs', () => {
    expect(toLocalInput('2026-11-30T23:00:00Z', 'Asia/Taipei')).toBe('2026-12-01T07:00');
    expect(fromLocalInput('2026-12-01T07:00', 'Asia/Taipei')).toBe('2026-11-30T23:00:00Z');
    expect(fromLocalInput('2026-07-01T14:00', 'Europe/Amsterdam')).toBe('2026-07-01T12:00:00Z');
    expect(fromLocalInput('2026-01-01T13:00', 'Europe/Amsterdam')).toBe('2026-01-01T12:00:00Z');
  });
});

describe('durations and countdowns', () => {
  it('parses ISO 8601 durations', () => {
    expect(parseIsoDuration('PT20M')).toBe(20 * 60000);
    expect(parseIsoDuration('PT1H')).toBe(3600000);
    expect(parseIsoDuration('P1DT2H')).toBe(26 * 3600000);
    expect(parseIsoDuration('PT15M')).toBe(900000);
    expect(parseIsoDuration('PT0.5S')).toBe(500);
    expect(parseIsoDuration('nonsense')).toBeNaN();
    expect(parseIsoDuration('P')).toBeNaN();
  });
  it('formats countdowns', () => {
    expect(formatCountdown(65_000)).toBe('01:05');
    expect(formatCountdown(3_725_000)).toBe('1:02:05');
    expect(formatCountdown(2 * 86400000 + 3 * 3600000)).toBe('2d 03:00:00');
    expect(formatCountdown(-5)).toBe('00:00');
  });
  it('formats durations', () => {
    expect(formatDuration(20 * 60000)).toBe('20 min');
    expect(formatDuration(3900000)).toBe('1 h 5 min');
    expect(formatDuration(45000)).toBe('45 s');
    expect(formatDuration(0)).toBe('0 s');
    expect(formatIsoDuration('PT1H')).toBe('1 h');
  });
});
