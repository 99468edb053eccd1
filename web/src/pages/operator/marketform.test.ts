import { describe, expect, it } from 'vitest';
import { defaults, marketBody, validateMarket } from './MarketForm';

describe('market form', () => {
  it('sends numbers as numbers and only changes on edit', () => {
    const v = { ...defaults(), name: 'Tainan' };
    const body = marketBody(v);
    expect(body.price_max).toBe(20);
    expect(body.name).toBe('Tainan');
    expect(marketBody({ ...v, price_max: '15' }, v)).toEqual({ price_max: 15 });
  });
  it('validates before sending', () => {
    const e = validateMarket({ ...defaults(), name: '', slot_length: 'one hour', price_min: '5', price_max: '1' });
    expect(e.name).toBeTruthy();
    expect(e.slot_length).toBeTruthy();
    expect(e.price_max).toBeTruthy();
    expect(Object.values(validateMarket({ ...defaults(), name: 'x' })).filter(Boolean)).toEqual([]);
  });
});
