// t(key, params): the one way to get a user-visible string. Catalogues: en.ts and zh-TW.ts.
import en from './en';
import zhTW from './zh-TW';
import { setNumberLocale } from '../format';

export type Lang = 'en' | 'zh-TW';
export type Key = keyof typeof en;
export const LANGS: Lang[] = ['en', 'zh-TW'];
export const LANG_NAMES: Record<Lang, string> = { en: 'English', 'zh-TW': '繁體中文' };

const catalogues: Record<Lang, Record<Key, string>> = { en, 'zh-TW': zhTW };
const STORAGE_KEY = 'fm_lang';

/** zh, zh-TW, zh-Hant(-*) → zh-TW; anything else → en. The first language that decides wins. */
export function pickLanguage(langs: readonly string[]): Lang {
  for (const raw of langs) {
    const l = raw.toLowerCase();
    if (l === 'zh' || l.startsWith('zh-tw') || l.startsWith('zh-hant') || l === 'zh-hk' || l === 'zh-mo') return 'zh-TW';
    if (l.startsWith('zh-')) continue; // zh-CN / zh-Hans: no Simplified catalogue, keep looking
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'en' || stored === 'zh-TW') return stored;
  } catch {
    /* no storage */
  }
  if (typeof navigator !== 'undefined') return pickLanguage(navigator.languages || [navigator.language]);
  return 'en';
}

let current: Lang = typeof window !== 'undefined' ? initialLang() : 'en';
const listeners = new Set<(l: Lang) => void>();

function apply(l: Lang): void {
  setNumberLocale(l === 'zh-TW' ? 'zh-TW' : 'en');
  if (typeof document !== 'undefined') document.documentElement.lang = l;
}
apply(current);

export function getLang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* no storage */
  }
  apply(l);
  listeners.forEach((fn) => fn(l));
}

export function onLangChange(fn: (l: Lang) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Interpolate {name} placeholders. */
export function interpolate(s: string, params?: Record<string, string | number>): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

export function t(key: Key, params?: Record<string, string | number>, lang: Lang = current): string {
  const s = catalogues[lang][key] ?? catalogues.en[key] ?? key;
  return interpolate(s, params);
}

/** For keys built at run time (e.g. 'state.' + value): falls back to the raw value. */
export function tDyn(key: string, fallback: string, params?: Record<string, string | number>): string {
  const cat = catalogues[current] as Record<string, string>;
  return key in cat ? interpolate(cat[key], params) : fallback;
}

export const _catalogues = catalogues;
