// Create (POST /api/v1/markets) or edit (PATCH /api/v1/markets/{id}) a market.
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { ErrorBox, Notice } from '../../components/ErrorBox';
import { hasErrors, SelectField, TextField, validate, type Errors } from '../../components/Form';
import { parseIsoDuration } from '../../format';
import { t, tDyn } from '../../i18n';
import type { Market } from '../../types';

type FormValues = Record<string, string>;

const NUMERIC = ['price_min', 'price_max', 'price_tick', 'volume_tick_kwh', 'imbalance_short_factor', 'imbalance_long_factor', 'minor_unit_digits'] as const;
const DURATIONS = ['slot_length', 'gate_closure_lead', 'settlement_deadline'] as const;

export function defaults(): FormValues {
  return {
    name: '',
    timezone: 'Asia/Taipei',
    currency: 'TWD',
    slot_length: 'PT1H',
    gate_closure_lead: 'PT20M',
    price_min: '0',
    price_max: '20',
    price_tick: '0.01',
    volume_tick_kwh: '0.001',
    price_rule: 'midpoint',
    settlement_deadline: 'PT24H',
    imbalance_short_factor: '1.2',
    imbalance_long_factor: '0.8',
    minor_unit_digits: '2',
  };
}

export function fromMarket(m: Market): FormValues {
  const v = defaults();
  for (const k of Object.keys(v)) {
    const x = (m as unknown as Record<string, unknown>)[k];
    if (x !== undefined && x !== null) v[k] = String(x);
  }
  return v;
}

/** Client-side checks before sending (pure; the server checks again). */
export function validateMarket(v: FormValues): Errors {
  const e: Errors = { name: validate.required(v.name), timezone: validate.required(v.timezone), currency: validate.required(v.currency) };
  for (const k of DURATIONS) if (Number.isNaN(parseIsoDuration(v[k]))) e[k] = t('common.mustBeDuration');
  for (const k of NUMERIC) e[k] = validate.number(v[k]);
  if (!e.price_min && !e.price_max && Number(v.price_min) >= Number(v.price_max)) e.price_max = t('common.mustBeBetween', { min: v.price_min, max: '∞' });
  if (!e.price_tick && !(Number(v.price_tick) > 0)) e.price_tick = t('common.mustBePositive');
  if (!e.volume_tick_kwh && !(Number(v.volume_tick_kwh) > 0)) e.volume_tick_kwh = t('common.mustBePositive');
  return e;
}

/** The JSON body: numbers as numbers; for an edit only the fields that changed. */
export function marketBody(v: FormValues, original?: FormValues): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, s] of Object.entries(v)) {
    if (original && original[k] === s) continue;
    out[k] = (NUMERIC as readonly string[]).includes(k) ? Number(s) : s.trim();
  }
  return out;
}

let zones: string[] | null = null;
function timeZones(): string[] {
  if (!zones) {
    try {
      zones = (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
    } catch {
      zones = ['UTC', 'Asia/Taipei'];
    }
  }
  return zones;
}

export function MarketForm({ market, onSaved, onClose }: { market?: Market; onSaved: (m: Market) => void; onClose?: () => void }) {
  const original = market ? fromMarket(market) : undefined;
  const [v, setV] = useState<FormValues>(original || defaults());
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const idp = market ? `m${market.id}-` : 'mnew-';
  const set = (k: string) => (x: string) => setV((o) => ({ ...o, [k]: x }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setNotice(null);
    const errs = validateMarket(v);
    setErrors(errs);
    if (hasErrors(errs)) return;
    setBusy(true);
    setError(null);
    try {
      const body = marketBody(v, original);
      const m = market ? await api<Market>('PATCH', `/api/v1/markets/${market.id}`, body) : await api<Market>('POST', '/api/v1/markets', body);
      setNotice(market ? t('operator.updated', { name: m.name }) : t('operator.created', { name: m.name }));
      if (!market) setV(defaults());
      onSaved(m);
    } catch (err) {
      if (market && err instanceof ApiError && (err.status === 404 || err.status === 405) && err.code !== 'not_found_market') {
        setError(new Error(t('operator.editUnavailable')));
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (k: string, label: string, extra: Record<string, string> = {}) => (
    <TextField id={idp + k} name={k} label={label} value={v[k]} onValue={set(k)} error={errors[k]} {...extra} />
  );

  return (
    <form class="inline market-form" onSubmit={submit} noValidate>
      {field('name', t('operator.name'))}
      {field('timezone', t('operator.timezone'), { list: 'fm-timezones' })}
      <datalist id="fm-timezones">
        {timeZones().map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
      {field('currency', t('operator.currency'))}
      {field('minor_unit_digits', t('operator.minorDigits'), { type: 'number', step: '1' })}
      {field('slot_length', t('operator.slotLength'))}
      {field('gate_closure_lead', t('operator.gateLead'))}
      {field('price_min', t('operator.priceMin'), { type: 'number', step: 'any' })}
      {field('price_max', t('operator.priceMax'), { type: 'number', step: 'any' })}
      {field('price_tick', t('operator.priceTick'), { type: 'number', step: 'any' })}
      {field('volume_tick_kwh', t('operator.volumeTick'), { type: 'number', step: 'any' })}
      <SelectField
        id={idp + 'price_rule'}
        name="price_rule"
        label={t('operator.priceRule')}
        value={v.price_rule}
        onValue={set('price_rule')}
        options={['midpoint', 'seller', 'buyer'].map((x) => ({ value: x, label: tDyn('operator.priceRule.' + x, x) }))}
      />
      {field('settlement_deadline', t('operator.settlementDeadline'))}
      {field('imbalance_short_factor', t('operator.imbalanceShort'), { type: 'number', step: 'any' })}
      {field('imbalance_long_factor', t('operator.imbalanceLong'), { type: 'number', step: 'any' })}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {market ? t('common.save') : t('common.create')}
        </button>
        {onClose && (
          <button type="button" class="secondary" onClick={onClose}>
            {t('common.close')}
          </button>
        )}
      </div>
      <div class="form-messages">
        <ErrorBox error={error} />
        <Notice text={notice} />
      </div>
    </form>
  );
}
