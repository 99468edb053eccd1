// Accounts (admin): the paged list and create.
import { useMemo, useState } from 'preact/hooks';
import { api, qs, type Page } from '../api';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, TextField, validate } from '../components/Form';
import { Link } from '../components/Link';
import { Table } from '../components/Table';
import { formatInstant } from '../format';
import { usePaged } from '../hooks';
import { t } from '../i18n';
import type { PageProps } from '../routes';
import type { AccountRow } from '../lib2/apiTypes';
import { useMarketTz } from '../lib2/marketTz';

export default function Accounts(_props: PageProps) {
  const tz = useMarketTz();
  const list = usePaged((page, per) => api<Page<AccountRow>>('GET', '/api/v1/accounts' + qs({ page, per_page: per })), [], 20);
  const [name, setName] = useState('');
  const [err, setErr] = useState<string | undefined>();
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useMemo(() => fieldId('acct'), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = validate.required(name) || (name.trim().length > 100 ? t('accounts.tooLong') : undefined);
    setErr(v);
    if (v) return;
    setBusy(true);
    setApiErr(null);
    setNote(null);
    try {
      const a = await api<AccountRow>('POST', '/api/v1/accounts', { name: name.trim() });
      setNote(t('accounts.created', { name: a?.name || name.trim() }));
      setName('');
      list.reload();
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="accounts">
      <h1>{t('accounts.title')}</h1>
      <form class="card" onSubmit={submit} noValidate>
        <h2>{t('accounts.new')}</h2>
        <div class="row">
          <TextField id={id} name="name" label={t('accounts.name')} value={name} onValue={setName} error={err} maxLength={100} />
          <button type="submit" disabled={busy}>
            {t('common.create')}
          </button>
        </div>
        <ErrorBox error={apiErr} />
        <Notice text={note} />
      </form>
      <div class="card">
        <ErrorBox error={list.error} onRetry={list.reload} />
        <Table
          columns={[
            { key: 'id', label: '#', numeric: true },
            { key: 'name', label: t('accounts.name') },
            { key: 'created_at', label: t('accounts.createdAt'), render: (a) => formatInstant(a.created_at, tz) },
            { key: 'users', label: '', sortable: false, render: (a) => <Link href={'/users?account_id=' + a.id}>{t('accounts.users')}</Link> },
          ]}
          rows={list.data?.items || []}
          rowKey={(a) => a.id}
          server={list.server}
          loading={list.loading && !list.data}
        />
      </div>
    </section>
  );
}
