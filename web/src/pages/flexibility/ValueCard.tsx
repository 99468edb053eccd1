// The value of a portfolio over a window of market time: per member what it delivered,
// curtailed and shifted, the energy traded on its behalf, its share of the statements and its
// cost against the baseline; totals; the portfolio's statements (aggregator and operators).
import { useMemo, useState } from 'preact/hooks';
import { api, qs } from '../../api';
import { marketNow } from '../../clock';
import { ErrorBox } from '../../components/ErrorBox';
import { fieldId, SelectField } from '../../components/Form';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatKWh, formatMoney, formatNumber } from '../../format';
import { useAsync } from '../../hooks';
import { t, tDyn } from '../../i18n';
import { valueTotals, type Portfolio, type ValueMember, type ValueReport } from '../../lib2/portfolios';
import type { Market } from '../../types';

const WINDOWS: Record<string, number> = { P1D: 1, P7D: 7, P30D: 30 };

export function ValueCard({ portfolio, market, version, accountName }: { portfolio: Portfolio; market: Market; version: number; accountName: (id: number) => string }) {
  const tz = market.timezone;
  const digits = market.minor_unit_digits;
  const [span, setSpan] = useState('P1D');
  const selId = useMemo(() => fieldId('value_window'), []);
  const res = useAsync(() => {
    const end = marketNow();
    const start = end - WINDOWS[span] * 86400_000;
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return api<ValueReport>('GET', `/api/v1/portfolios/${portfolio.id}/value` + qs({ start: iso(start), end: iso(end) }));
  }, [portfolio.id, span, version]);
  const v = res.data;
  const cur = v?.currency || portfolio.currency;
  const rows = v?.members || [];
  const totals = useMemo(() => ({ ...valueTotals(rows, digits), asset_id: -1, name: t('market.total'), type: '', owner_account_id: -1 }) as ValueMember, [rows, digits]);
  const isTotal = (r: ValueMember) => r.asset_id === -1;
  const kwh = (k: keyof ValueMember) => (r: ValueMember) => formatNumber(r[k] as number, 3);
  const money = (k: keyof ValueMember) => (r: ValueMember) => formatNumber(r[k] as number, digits);
  const cols: Column<ValueMember>[] = [
    { key: 'name', label: t('flex.member') },
    { key: 'type', label: t('portfolio.type'), render: (r) => (isTotal(r) ? '' : tDyn('assets.type.' + r.type, r.type)) },
    { key: 'owner_account_id', label: t('flex.owner'), render: (r) => (isTotal(r) ? '' : r.owner_account_name || accountName(r.owner_account_id)) },
    { key: 'slots', label: t('flex.slots'), numeric: true },
    { key: 'delivered_kwh', label: t('flex.deliveredKwh'), numeric: true, render: kwh('delivered_kwh') },
    { key: 'curtailment_kwh', label: t('flex.curtailmentKwh'), numeric: true, render: kwh('curtailment_kwh') },
    { key: 'shifting_kwh_h', label: t('flex.shiftingKwhH'), numeric: true, render: kwh('shifting_kwh_h') },
    { key: 'energy_traded_kwh', label: t('flex.tradedKwh'), numeric: true, render: kwh('energy_traded_kwh') },
    { key: 'share', label: t('flex.shareCur', { cur }), numeric: true, render: money('share') },
    { key: 'baseline_cost', label: t('flex.baselineCostCur', { cur }), numeric: true, render: money('baseline_cost') },
    { key: 'actual_cost', label: t('flex.actualCostCur', { cur }), numeric: true, render: money('actual_cost') },
    { key: 'benefit', label: t('flex.benefitCur', { cur }), numeric: true, render: money('benefit') },
  ];
  const m = v?.market;
  return (
    <section class="card value" aria-labelledby="h-value">
      <div class="row">
        <h2 id="h-value">{t('flex.value')}</h2>
        <span class="spacer" />
        <SelectField id={selId} name="value_window" label={t('market.window')} value={span} onValue={setSpan} options={Object.entries(WINDOWS).map(([k, n]) => ({ value: k, label: n === 1 ? t('flex.last24h') : t('market.days', { n }) }))} />
      </div>
      <ErrorBox error={res.error} onRetry={res.reload} />
      {v && (
        <p class="muted">
          {formatInstant(v.start, tz)} – {formatInstant(v.end, tz)}
        </p>
      )}
      <Table columns={cols} rows={rows} rowKey={(r) => r.asset_id} loading={res.loading && !v} footer={rows.length > 1 ? totals : undefined} empty={t('flex.noMembers')} />
      <p class="legend-note">{t('flex.valueNote')}</p>
      {m && (
        <>
          <h3>{t('flex.statements')}</h3>
          <dl class="kpis market-value">
            <div>
              <dt>{t('flex.statementsCount')}</dt>
              <dd data-kpi="statements">{m.statements}</dd>
            </div>
            <div>
              <dt>{t('flex.sold')}</dt>
              <dd>{formatKWh(m.sold_kwh, 3)}</dd>
            </div>
            <div>
              <dt>{t('flex.bought')}</dt>
              <dd>{formatKWh(m.bought_kwh, 3)}</dd>
            </div>
            <div>
              <dt>{t('market.imbalance')}</dt>
              <dd>{formatKWh(m.imbalance_kwh, 3)}</dd>
            </div>
            <div>
              <dt>{t('flex.tradeAmount')}</dt>
              <dd>{formatMoney(m.trade_amount, cur, digits)}</dd>
            </div>
            <div>
              <dt>{t('market.imbalanceAmount')}</dt>
              <dd>{formatMoney(m.imbalance_amount, cur, digits)}</dd>
            </div>
            <div>
              <dt>{t('market.total')}</dt>
              <dd data-kpi="total">{formatMoney(m.total, cur, digits)}</dd>
            </div>
            <div>
              <dt>{t('flex.fee')}</dt>
              <dd>{formatMoney(m.fee, cur, digits)}</dd>
            </div>
            <div>
              <dt>{t('flex.shared')}</dt>
              <dd>{formatMoney(m.shared, cur, digits)}</dd>
            </div>
          </dl>
        </>
      )}
    </section>
  );
}
