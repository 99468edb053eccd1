// What the automation did, slot by slot: each cycle's bids, what was cleared and planned for
// its slot (known from a later cycle), each share of a statement, and their warnings.
import { useMemo } from 'preact/hooks';
import { api, qs } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { StateBadge } from '../../components/StateBadge';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatKWh, formatMoney, formatNumber } from '../../format';
import { usePaged } from '../../hooks';
import { t, tDyn } from '../../i18n';
import { stepRows, type AutomationStep, type Portfolio, type StepRow } from '../../lib2/portfolios';
import type { Market } from '../../types';

export function StepsCard({ portfolio, market, version }: { portfolio: Portfolio; market: Market; version: number }) {
  const tz = market.timezone;
  const cur = portfolio.currency;
  const digits = market.minor_unit_digits;
  const list = usePaged(
    (page, per) => api<{ items: AutomationStep[]; page: number; per_page: number; total: number }>('GET', `/api/v1/portfolios/${portfolio.id}/steps` + qs({ page, per_page: per })),
    [portfolio.id, version],
    12,
  );
  const rows = useMemo(() => stepRows(list.data?.items || []), [list.data]);
  const kw = (v: number | null) => (v === null ? '–' : formatNumber(v, 3));
  const cols: Column<StepRow>[] = [
    { key: 'slot_start', label: t('flex.slot'), sortValue: (r) => Date.parse(r.slot_start), render: (r) => formatInstant(r.slot_start, tz) },
    { key: 'step', label: t('flex.step'), render: (r) => tDyn('flex.step.' + r.step, r.step) },
    { key: 'state', label: t('market.state'), render: (r) => <StateBadge state={r.state} /> },
    {
      key: 'offered',
      label: t('flex.offeredKwh'),
      sortable: false,
      render: (r) =>
        r.offered ? (
          <span data-offered>
            {t('flex.offeredBuySell', { buy: formatNumber(r.offered.buy_kwh, 3), sell: formatNumber(r.offered.sell_kwh, 3) })}
          </span>
        ) : (
          '–'
        ),
    },
    { key: 'cleared_kw', label: t('flex.clearedKw'), numeric: true, render: (r) => kw(r.cleared_kw) },
    { key: 'planned_kw', label: t('flex.plannedKw'), numeric: true, render: (r) => kw(r.planned_kw) },
    {
      key: 'total',
      label: t('flex.statement'),
      numeric: true,
      render: (r) =>
        r.total === null ? (
          '–'
        ) : (
          <span title={t('flex.statementTitle', { contracted: formatKWh(r.contracted_kwh, 3), metered: formatKWh(r.metered_kwh, 3) })}>
            {formatMoney(r.total, cur, digits)}
            {r.fee ? ' · ' + t('flex.feeKept', { fee: formatMoney(r.fee, cur, digits) }) : ''}
          </span>
        ),
    },
    {
      key: 'warnings',
      label: t('flex.warnings'),
      wrap: true,
      sortValue: (r) => r.warnings.length,
      render: (r) =>
        r.warnings.length ? (
          <ul class="warnings compact">
            {r.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        ) : (
          ''
        ),
    },
  ];
  return (
    <section class="card steps" aria-labelledby="h-steps">
      <h2 id="h-steps">{t('flex.automation')}</h2>
      <p class="legend-note">{t('flex.stepsNote')}</p>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <Table columns={cols} rows={rows} rowKey={(r) => r.key} server={list.server} loading={list.loading && !list.data} empty={t('flex.noSteps')} />
    </section>
  );
}
