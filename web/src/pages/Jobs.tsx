// /jobs (operator, admin): queued, running, done, failed and cancelled jobs with their errors.
import { useState } from 'preact/hooks';
import { api, qs, type Page } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { fieldId, SelectField } from '../components/Form';
import { Table } from '../components/Table';
import { formatInstant, tzOffset } from '../format';
import { useAsync, useInterval, usePaged } from '../hooks';
import { t, tDyn } from '../i18n';
import { loadMarkets } from '../markets';
import type { PageProps } from '../routes';
import type { Job } from '../types';
import { useAccountNames } from '../accounts';

const STATES = ['', 'queued', 'running', 'done', 'failed', 'cancelled'];
const filterId = fieldId('jobstate');

export default function Jobs(_props: PageProps) {
  const [state, setState] = useState('');
  const jobs = usePaged((page, per) => api<Page<Job>>('GET', '/api/v1/jobs' + qs({ state: state || undefined, page, per_page: per })), [state], 25);
  const tz = useAsync(() => loadMarkets().then((m) => m[0]?.timezone || 'UTC', () => 'UTC'), []);
  const who = useAccountNames();
  const zone = tz.data || 'UTC';
  // while something is queued or running, follow it
  const active = (jobs.data?.items || []).some((j) => j.state === 'queued' || j.state === 'running');
  useInterval(jobs.reload, active ? 2000 : 15000);
  const when = (v: string | null) => (v ? formatInstant(v, zone, { seconds: true }) : '–');

  return (
    <section>
      <h1>{t('jobs.title')}</h1>
      <p class="muted">{t('common.timezone', { tz: zone, offset: tzOffset(Date.now(), zone) })}</p>
      <div class="row">
        <SelectField
          id={filterId}
          name="state"
          label={t('jobs.filter')}
          value={state}
          onValue={setState}
          options={STATES.map((s) => ({ value: s, label: s ? tDyn('state.' + s, s) : t('jobs.all') }))}
        />
      </div>
      <ErrorBox error={jobs.error} onRetry={jobs.reload} />
      <div class="card">
        <Table
          rows={jobs.data?.items || []}
          loading={!jobs.data && !jobs.error}
          rowKey={(j) => j.id}
          server={jobs.server}
          empty={t('jobs.none')}
          columns={[
            { key: 'id', label: t('jobs.id'), numeric: true },
            { key: 'type', label: t('jobs.type') },
            { key: 'state', label: t('jobs.state'), render: (j) => <span class={'badge ' + j.state}>{tDyn('state.' + j.state, j.state)}</span> },
            { key: 'account', label: t('jobs.account'), sortValue: (j) => who(j.account_id), render: (j) => who(j.account_id) },
            { key: 'asset_id', label: t('jobs.asset'), numeric: true, render: (j) => (j.asset_id === null ? '–' : '#' + j.asset_id) },
            { key: 'created_at', label: t('jobs.created'), render: (j) => when(j.created_at) },
            { key: 'started_at', label: t('jobs.started'), render: (j) => when(j.started_at) },
            { key: 'finished_at', label: t('jobs.finished'), render: (j) => when(j.finished_at) },
            { key: 'error', label: t('jobs.error'), wrap: true, render: (j) => (j.error ? <span class="field-error">{j.error}</span> : '–') },
          ]}
        />
      </div>
    </section>
  );
}
