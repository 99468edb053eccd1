// A secret shown once (a generated password, a new API token) with a copy button.
import { useMemo, useState } from 'preact/hooks';
import { t } from '../../i18n';
import { fieldId } from '../../components/Form';

export function CopyOnce({ label, value, note }: { label: string; value: string; note: string }) {
  const [copied, setCopied] = useState<'ok' | 'failed' | null>(null);
  const id = useMemo(() => fieldId('secret'), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('ok');
    } catch {
      // no clipboard permission (plain http): select the text so Ctrl+C works
      const el = document.getElementById(id) as HTMLInputElement | null;
      el?.select();
      setCopied('failed');
    }
  };
  return (
    <div class="secret-once">
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} class="secret" style={{ flex: '1 1 16rem', fontFamily: 'monospace' }} readOnly value={value} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} data-secret="true" />
        <button type="button" class="small" onClick={copy}>
          {t('account.copy')}
        </button>
        <span role="status" class="muted">
          {copied === 'ok' ? t('account.copied') : copied === 'failed' ? t('account.copyFailed') : ''}
        </span>
      </div>
      <small class="hint">{note}</small>
    </div>
  );
}
