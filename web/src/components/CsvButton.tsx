import { useState } from 'preact/hooks';
import { downloadCsv } from '../api';
import { t } from '../i18n';
import { ErrorBox } from './ErrorBox';

/** "Download CSV" for an API list route that documents ?format=csv; errors shown below it. */
export function CsvButton({ path, filename, formatParam = true }: { path: string; filename: string; formatParam?: boolean }) {
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button
        type="button"
        class="small secondary"
        disabled={busy}
        onClick={() => {
          setErr(null);
          setBusy(true);
          downloadCsv(path, filename, { formatParam })
            .catch(setErr)
            .finally(() => setBusy(false));
        }}
      >
        {t('common.downloadCsv')}
      </button>
      <ErrorBox error={err} />
    </>
  );
}
