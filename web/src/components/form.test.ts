import { describe, expect, it } from 'vitest';
import { hasErrors, isMultiple, validate } from './Form';

describe('form validation', () => {
  it('checks multiples with float noise', () => {
    expect(isMultiple(1.23, 0.01)).toBe(true);
    expect(isMultiple(0.3, 0.1)).toBe(true);
    expect(isMultiple(1.234, 0.01)).toBe(false);
    expect(isMultiple(1.2345, 0.001)).toBe(false);
    expect(isMultiple(5, 0)).toBe(true);
  });
  it('validates numbers', () => {
    expect(validate.number('')).toBeTruthy();
    expect(validate.number('abc')).toBeTruthy();
    expect(validate.number('0', { positive: true })).toBeTruthy();
    expect(validate.number('25', { min: 0, max: 20 })).toBeTruthy();
    expect(validate.number('4.315', { step: 0.01 })).toBeTruthy();
    expect(validate.number('4.31', { min: 0, max: 20, step: 0.01 })).toBeUndefined();
  });
  it('validates e-mail and required', () => {
    expect(validate.email('a@b')).toBeUndefined();
    expect(validate.email('nope')).toBeTruthy();
    expect(validate.required('  ')).toBeTruthy();
    expect(hasErrors({ a: undefined, b: 'x' })).toBe(true);
    expect(hasErrors({ a: undefined })).toBe(false);
  });
});
