// Form helpers: labelled fields with an error slot, and pure validators run before sending.
import type { ComponentChildren, JSX } from 'preact';
import { t } from '../i18n';

export type Errors = Record<string, string | undefined>;

export function hasErrors(e: Errors): boolean {
  return Object.values(e).some(Boolean);
}

/** Validators return an error message or undefined. */
export const validate = {
  required(v: string): string | undefined {
    return v.trim() === '' ? t('common.required') : undefined;
  },
  email(v: string): string | undefined {
    if (v.trim() === '') return t('common.required');
    return /^[^\s@]+@[^\s@]+$/.test(v.trim()) ? undefined : t('common.invalidEmail');
  },
  /** A number, optionally > 0, within [min, max], a multiple of step. */
  number(v: string, o: { positive?: boolean; min?: number; max?: number; step?: number } = {}): string | undefined {
    if (v.trim() === '') return t('common.required');
    const n = Number(v);
    if (!Number.isFinite(n)) return t('common.mustBeNumber');
    if (o.positive && !(n > 0)) return t('common.mustBePositive');
    if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max))
      return t('common.mustBeBetween', { min: o.min ?? '−∞', max: o.max ?? '∞' });
    if (o.step && !isMultiple(n, o.step)) return t('common.mustBeMultiple', { step: o.step });
    return undefined;
  },
};

/** Whether n is a multiple of step, within floating-point noise. */
export function isMultiple(n: number, step: number): boolean {
  if (!(step > 0)) return true;
  const q = n / step;
  return Math.abs(q - Math.round(q)) < 1e-6;
}

let idSeq = 0;
export function fieldId(name: string): string {
  idSeq += 1;
  return `f-${name}-${idSeq}`;
}

interface FieldProps {
  label: string;
  error?: string;
  hint?: string;
  id: string;
  children: ComponentChildren;
}

/** A <label> + control + error line; the control must carry the same id. */
export function Field({ label, error, hint, id, children }: FieldProps) {
  return (
    <div class={'field' + (error ? ' invalid' : '')}>
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <small class="hint" id={id + '-hint'}>
          {hint}
        </small>
      )}
      {error && (
        <small class="field-error" id={id + '-err'} role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "value" | "label"> & {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  value: string;
  onValue: (v: string) => void;
};

export function TextField({ id, label, error, hint, value, onValue, ...rest }: InputProps) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      <input
        id={id}
        value={value}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={error ? id + '-err' : hint ? id + '-hint' : undefined}
        onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
        {...rest}
      />
    </Field>
  );
}

type SelectProps = {
  id: string;
  label: string;
  error?: string;
  value: string;
  onValue: (v: string) => void;
  options: { value: string; label: string }[];
  name?: string;
  disabled?: boolean;
};

export function SelectField({ id, label, error, value, onValue, options, name, disabled }: SelectProps) {
  return (
    <Field id={id} label={label} error={error}>
      <select id={id} name={name} value={value} disabled={disabled} onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Field>
  );
}
