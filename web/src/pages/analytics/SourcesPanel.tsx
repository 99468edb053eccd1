// A sensor's data sources (GET /sensors/{id}/sources): name, kind, type, beliefs, event range,
// filtered to measurements only or all.
import { useMemo, useState } from 'preact/hooks';
import { ErrorBox } from '../../components/ErrorBox';
import { fieldId, SelectField } from '../../components/Form';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatNumber } from '../../format';
import { t, tDyn } from '../../i18n';
import { filterSources, type SourceFilter, type SourceInfo } from '../../lib2/forecasts';

interface Props {
  sources: SourceInfo[] | null | undefined;
  error: unknown;
  loading: boolean;
  tz: string;
  onRetry: () => void;
}

export function SourcesPanel({ sources, error, loading, tz, onRetry }: Props) {
  const [filter, setFilter] = useState<SourceFilter>('all');
  const id = useMemo(() => fieldId('source_filter'), []);
  const rows = useMemo(() => filterSources(sources || [], filter), [sources, filter]);
  const columns: Column<SourceInfo>[] = [
    { key: 'name', label: t('analytics.srcName'), wrap: true },
    { key: 'kind', label: t('analytics.srcKind'), render: (s) => tDyn('analytics.kind.' + s.kind, s.kind) },
    { key: 'type', label: t('analytics.srcType') },
    { key: 'beliefs', label: t('analytics.srcBeliefs'), numeric: true, render: (s) => formatNumber(s.beliefs, 0) },
    { key: 'first_event', label: t('analytics.srcFirst'), render: (s) => (s.first_event ? formatInstant(s.first_event, tz) : '–') },
    { key: 'last_event', label: t('analytics.srcLast'), render: (s) => (s.last_event ? formatInstant(s.last_event, tz) : '–') },
  ];
  return (
    <section class="card sources" aria-labelledby="h-sources">
      <div class="row">
        <h2 id="h-sources">{t('analytics.sources')}</h2>
        <span class="spacer" />
        <SelectField
          id={id}
          name="source_filter"
          label={t('analytics.srcFilter')}
          value={filter}
          onValue={(v) => setFilter(v as SourceFilter)}
          options={[
            { value: 'all', label: t('analytics.srcAll') },
            { value: 'measurements', label: t('analytics.srcMeasurements') },
          ]}
        />
      </div>
      <ErrorBox error={error} onRetry={onRetry} />
      {!error && (
        <Table
          columns={columns}
          rows={rows}
          rowKey={(s) => s.id}
          rowClass={(s) => 'src-' + s.kind}
          loading={loading && !sources}
          empty={t('analytics.srcNone')}
          pageSize={20}
        />
      )}
    </section>
  );
}
