import { describe, expect, it } from 'vitest';
import en from './en';
import zhTW from './zh-TW';
import { interpolate, pickLanguage, t } from './index';

describe('catalogues', () => {
  it('have identical key sets', () => {
    expect(Object.keys(zhTW).sort()).toEqual(Object.keys(en).sort());
  });
  it('have no empty strings and keep placeholders', () => {
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[k].length, k).toBeGreaterThan(0);
      expect(zhTW[k].length, k).toBeGreaterThan(0);
      const ph = (s: string) => (s.match(/\{\w+\}/g) || []).sort();
      expect(ph(zhTW[k]), k).toEqual(ph(en[k]));
    }
  });
});

describe('language choice', () => {
  it('maps Chinese variants to zh-TW', () => {
    expect(pickLanguage(['zh'])).toBe('zh-TW');
    expect(pickLanguage(['zh-TW', 'en'])).toBe('zh-TW');
    expect(pickLanguage(['zh-Hant-TW'])).toBe('zh-TW');
    expect(pickLanguage(['zh-Hant'])).toBe('zh-TW');
  });
  it('falls back to English', () => {
    expect(pickLanguage(['en-US', 'zh-TW'])).toBe('en');
    expect(pickLanguage(['de-DE'])).toBe('en');
    expect(pickLanguage([])).toBe('en');
    expect(pickLanguage(['zh-CN', 'en'])).toBe('en');
  });
});

describe('t', () => {
  it('interpolates', () => {
    expect(interpolate('Page {page} of {pages}', { page: 1, pages: 3 })).toBe('Page 1 of 3');
    expect(t('table.page', { page: 2, pages: 5 }, 'en')).toBe('Page 2 of 5');
    expect(t('table.page', { page: 2, pages: 5 }, 'zh-TW')).toBe('第 2 頁，共 5 頁');
  });
});
