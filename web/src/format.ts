// Pure formatting helpers: numbers with units, instants in an IANA timezone with its offset,
// ISO 8601 durations and countdowns. No DOM, unit-tested in format.test.ts.

let numberLocale = 'en';
/** The i18n module sets this when the language changes. */
export function setNumberLocale(locale: string): void {
  numberLocale = locale;
}

const nfCache = new Map<string, Intl.NumberFormat>();
function nf(min: number, max: number): Intl.NumberFormat {
  const key = numberLocale + '|' + min + '|' + max;
  let f = nfCache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(numberLocale, { minimumFractionDigits: min, maximumFractionDigits: max });
    nfCache.set(key, f);
  }
  return f;
}

const DASH = '–';

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A number with grouping and a fixed number of decimals; '–' for null/undefined/NaN. */
export function formatNumber(v: number | null | undefined, digits = 2, minDigits = digits): string {
  if (!isNum(v)) return DASH;
  const r = nf(minDigits, digits).format(v);
  return r === '-0' || /^-0[.,]?0*$/.test(r) ? r.slice(1) : r;
}

/** Power in kW (1 decimal by default). */
export function formatKW(v: number | null | undefined, digits = 1): string {
  return isNum(v) ? formatNumber(v, digits) + ' kW' : DASH;
}

/** Energy in kWh (1 decimal by default, up to 3 for the market's volume tick). */
export function formatKWh(v: number | null | undefined, digits = 1): string {
  return isNum(v) ? formatNumber(v, digits) + ' kWh' : DASH;
}

/** A price per kWh in the market's currency, e.g. "4.31 TWD/kWh". */
export function formatPrice(v: number | null | undefined, currency = 'TWD', digits = 2): string {
  return isNum(v) ? formatNumber(v, digits) + ' ' + currency + '/kWh' : DASH;
}

/** An amount of money, e.g. "1,234.56 TWD" (digits = the market's minor_unit_digits). */
export function formatMoney(v: number | null | undefined, currency = 'TWD', digits = 2): string {
  return isNum(v) ? formatNumber(v, digits) + ' ' + currency : DASH;
}

/** A ratio 0..1 as a percentage. */
export function formatPercent(v: number | null | undefined, digits = 1): string {
  return isNum(v) ? formatNumber(v * 100, digits) + ' %' : DASH;
}

// ---------------------------------------------------------------- instants and timezones

interface DtParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
  offset: string; // "+08:00"
}

const dtfCache = new Map<string, Intl.DateTimeFormat>();
function dtf(tz: string): Intl.DateTimeFormat {
  let f = dtfCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    dtfCache.set(tz, f);
  }
  return f;
}

/** "GMT+08:00" / "GMT-03:30" / "GMT" → "+08:00" / "-03:30" / "+00:00". */
export function normaliseOffset(name: string): string {
  const m = /([+-−])(\d{1,2})(?::?(\d{2}))?/.exec(name);
  if (!m) return '+00:00';
  const sign = m[1] === '+' ? '+' : '-';
  return sign + m[2].padStart(2, '0') + ':' + (m[3] || '00');
}

function toDate(v: string | number | Date): Date {
  return v instanceof Date ? v : new Date(v);
}

/** The calendar parts of an instant in an IANA timezone. */
export function zonedParts(v: string | number | Date, tz: string): DtParts {
  const d = toDate(v);
  const p: Record<string, string> = {};
  for (const part of dtf(tz).formatToParts(d)) p[part.type] = part.value;
  return {
    year: p.year,
    month: p.month,
    day: p.day,
    hour: p.hour === '24' ? '00' : p.hour,
    minute: p.minute,
    second: p.second,
    offset: normaliseOffset(p.timeZoneName || ''),
  };
}

/** "2026-11-25 14:00 +08:00": an instant in a timezone, with the offset. */
export function formatInstant(v: string | number | Date | null | undefined, tz: string, opts: { seconds?: boolean; offset?: boolean } = {}): string {
  if (v === null || v === undefined || v === '') return DASH;
  const d = toDate(v);
  if (isNaN(d.getTime())) return String(v);
  const p = zonedParts(d, tz);
  let s = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  if (opts.seconds) s += ':' + p.second;
  if (opts.offset !== false) s += ' ' + p.offset;
  return s;
}

/** "14:00": the time of day in a timezone (no date, no offset) — for chart axes and compact lists. */
export function formatTime(v: string | number | Date, tz: string): string {
  const p = zonedParts(v, tz);
  return `${p.hour}:${p.minute}`;
}

/** "2026-11-25": the local date of an instant in a timezone. */
export function localDate(v: string | number | Date, tz: string): string {
  const p = zonedParts(v, tz);
  return `${p.year}-${p.month}-${p.day}`;
}

/** The offset of a timezone at an instant, "+08:00". */
export function tzOffset(v: string | number | Date, tz: string): string {
  return zonedParts(v, tz).offset;
}

/** Offset in minutes east of UTC ("+08:00" → 480). */
export function offsetMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) return 0;
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -v : v;
}

/** A value for <input type="datetime-local"> ("2026-11-25T14:00") showing an instant in a timezone. */
export function toLocalInput(v: string | number | Date, tz: string): string {
  const p = zonedParts(v, tz);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/**
 * The UTC instant (ISO, "Z") of a wall-clock time "YYYY-MM-DDTHH:MM" in a timezone. Around a DST
 * change the earlier of two candidates is taken.
 */
export function fromLocalInput(local: string, tz: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!m) throw new Error('bad local time: ' + local);
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
  // guess with the offset at asUtc, then correct once with the offset at the guess
  let t = asUtc - offsetMinutes(tzOffset(asUtc, tz)) * 60000;
  t = asUtc - offsetMinutes(tzOffset(t, tz)) * 60000;
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------- durations

/** Milliseconds of an ISO 8601 duration ("PT20M", "PT1H", "P1DT2H", "PT0.5S"); NaN if unparsable. Months/years are not supported. */
export function parseIsoDuration(s: string): number {
  const m = /^(-)?P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s || '');
  if (!m || s === 'P' || s.endsWith('T')) return NaN;
  const [, neg, w, d, h, mi, se] = m;
  const ms = ((+(w || 0) * 7 + +(d || 0)) * 86400 + +(h || 0) * 3600 + +(mi || 0) * 60 + +(se || 0)) * 1000;
  return neg ? -ms : ms;
}

/** A countdown "1:05:09", "05:09", or "2d 03:00:00"; negative → "00:00". */
export function formatCountdown(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '00:00';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  if (d > 0) return `${d}d ${String(h).padStart(2, '0')}:${mm}:${ss}`;
  if (h > 0) return `${h}:${mm}:${ss}`;
  return `${mm}:${ss}`;
}

/** A duration in words-free units: "1 h 5 min", "20 min", "45 s", "2 d 3 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return DASH;
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(d + ' d');
  if (h) parts.push(h + ' h');
  if (m && !d) parts.push(m + ' min');
  if (s && !d && !h) parts.push(s + ' s');
  if (!parts.length) parts.push('0 s');
  return (neg ? '-' : '') + parts.join(' ');
}

/** Format an ISO duration for display: "PT20M" → "20 min". */
export function formatIsoDuration(s: string): string {
  const ms = parseIsoDuration(s);
  return Number.isNaN(ms) ? s : formatDuration(ms);
}
