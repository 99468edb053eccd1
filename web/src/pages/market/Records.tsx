// Cleared slots (with the depth chart of the selected one), price/volume history, the caller's
// results, trades and settlement statements. Each list pages on the server and downloads as CSV.
import { useState } from 'preact/hooks';
import { useAccountNames } from '../../accounts';
import { marketNow } from '../../clock';
import { api, ApiError, qs, type Page } from '../../api';
import { CsvButton } from '../../components/CsvButton';
import { StateBadge } from '../../components/StateBadge';
import { ErrorBox } from '../../components/ErrorBox';
import { Table } from '../../components/Table';
import { formatInstant, formatKWh, formatMoney, formatPercent, formatPrice } from '../../format';
import { useAsync, usePaged } from '../../hooks';
import { t } from '../../i18n';
import { tickDigits } from '../../markets';
import type { BidResult, Clearing, ClearingSummary, Market, Settlement, Trade } from '../../types';
import { DepthChart, HistoryChart } from './MarketCharts';

function stateBadge(state: string) {
  return <StateBadge state={state} />;
}

/** The depth chart of one slot: GET /markets/{id}/clearings/{slot} (aggregated curves). */
export function SlotDepth({ market, slot, version }: { market: Market; slot: string; version: number }) {
  const c = useAsync(() => api<Clearing>('GET', `/api/v1/markets/${market.id}/clearings/${encodeURIComponent(slot)}`), [market.id, slot, version]);
  return (
    <div>
      <h3>{t('market.depthOf', { slot: formatInstant(slot, market.timezone) })}</h3>
      {c.error instanceof ApiError && c.error.status === 404 ? <p class="muted">{c.error.message}</p> : <ErrorBox error={c.error} onRetry={c.reload} />}
      {c.data && (
        <>
          <dl class="kpis">
            <div>
              <dt>{t('market.state')}</dt>
              <dd>{stateBadge(c.data.state)}</dd>
            </div>
            <div>
              <dt>{t('market.clearingPrice')}</dt>
              <dd>{formatPrice(c.data.price, market.currency)}</dd>
            </div>
            <div>
              <dt>{t('market.clearedVolume')}</dt>
              <dd>{formatKWh(c.data.volume_kwh, tickDigits(market.volume_tick_kwh))}</dd>
            </div>
            <div>
              <dt>{t('market.bids')}</dt>
              <dd>{c.data.bids}</dd>
            </div>
          </dl>
          {c.data.demand.length + c.data.supply.length > 0 ? (
            <DepthChart market={market} demand={c.data.demand} supply={c.data.supply} price={c.data.price} volume={c.data.volume_kwh} slot={slot} />
          ) : (
            <p class="muted">{t('market.noClearing')}</p>
          )}
        </>
      )}
    </div>
  );
}

export function Clearings({ market, version, selected, onSelect }: { market: Market; version: number; selected: string | null; onSelect: (slot: string) => void }) {
  const list = usePaged((page, per) => api<Page<ClearingSummary>>('GET', `/api/v1/markets/${market.id}/clearings` + qs({ page, per_page: per })), [market.id, version], 10);
  const latest = list.data?.items[0]?.slot_start;
  const slot = selected || latest || null;
  const digits = tickDigits(market.volume_tick_kwh);
  return (
    <section class="card" aria-labelledby="h-clearings">
      <div class="row">
        <h2 id="h-clearings">{t('market.clearings')}</h2>
        <span class="spacer" />
        <CsvButton path={`/api/v1/markets/${market.id}/clearings?per_page=500`} filename={`clearings-market-${market.id}.csv`} />
      </div>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <div class="grid two">
        <div>
          <Table
            rows={list.data?.items || []}
          loading={!list.data && !list.error}
            rowKey={(r) => r.slot_start}
            server={list.server}
            empty={t('dashboard.noCleared')}
            rowClass={(r) => (r.slot_start === slot ? 'selected' : undefined)}
            columns={[
              { key: 'slot', label: t('market.slot'), sortValue: (r) => r.slot_start, render: (r) => formatInstant(r.slot_start, market.timezone) },
              { key: 'state', label: t('market.state'), render: (r) => stateBadge(r.state) },
              { key: 'price', label: t('market.clearingPrice'), numeric: true, render: (r) => formatPrice(r.price, market.currency) },
              { key: 'volume_kwh', label: t('market.clearedVolume'), numeric: true, render: (r) => formatKWh(r.volume_kwh, digits) },
              {
                key: 'depth',
                label: t('market.depth'),
                sortable: false,
                render: (r) => (
                  <button type="button" class="small secondary" aria-pressed={r.slot_start === slot ? 'true' : 'false'} onClick={() => onSelect(r.slot_start)}>
                    {t('market.showDepth')}
                  </button>
                ),
              },
            ]}
          />
        </div>
        <div>{slot && <SlotDepth market={market} slot={slot} version={version} />}</div>
      </div>
    </section>
  );
}

export function History({ market, version }: { market: Market; version: number }) {
  const h = useAsync(() => api<Page<ClearingSummary>>('GET', `/api/v1/markets/${market.id}/clearings` + qs({ per_page: 168 })), [market.id, version]);
  return (
    <section class="card" aria-labelledby="h-history">
      <h2 id="h-history">{t('market.history')}</h2>
      <ErrorBox error={h.error} onRetry={h.reload} />
      {h.data && h.data.items.length > 0 && <HistoryChart market={market} rows={h.data.items} />}
      {h.data && h.data.items.length === 0 && <p class="muted">{t('dashboard.noCleared')}</p>}
    </section>
  );
}

export function Results({ market, version }: { market: Market; version: number }) {
  const r = usePaged((page, per) => api<Page<BidResult>>('GET', `/api/v1/markets/${market.id}/results` + qs({ page, per_page: per })), [market.id, version], 10);
  const digits = tickDigits(market.volume_tick_kwh);
  return (
    <section class="card" aria-labelledby="h-results">
      <div class="row">
        <h2 id="h-results">{t('market.results')}</h2>
        <span class="spacer" />
        <CsvButton path={`/api/v1/markets/${market.id}/results?per_page=500`} filename={`results-market-${market.id}.csv`} />
      </div>
      <ErrorBox error={r.error} onRetry={r.reload} />
      <Table
        rows={r.data?.items || []}
          loading={!r.data && !r.error}
        rowKey={(b) => b.id}
        server={r.server}
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'slot', label: t('market.slot'), sortValue: (b) => b.slot_start, render: (b) => formatInstant(b.slot_start, market.timezone) },
          { key: 'side', label: t('market.side'), render: (b) => <span class={'badge ' + b.side}>{b.side === 'buy' ? t('market.buy') : t('market.sell')}</span> },
          { key: 'volume_kwh', label: t('market.volume'), numeric: true, render: (b) => formatKWh(b.volume_kwh, digits) },
          { key: 'price', label: t('market.price', { unit: market.price_unit }), numeric: true, render: (b) => formatPrice(b.price, market.currency) },
          { key: 'status', label: t('market.result'), render: (b) => stateBadge(String(b.status)) },
          { key: 'filled_kwh', label: t('market.filled'), numeric: true, render: (b) => formatKWh(b.filled_kwh, digits) },
          { key: 'clearing_price', label: t('market.clearingPrice'), numeric: true, render: (b) => formatPrice(b.clearing_price, market.currency) },
          { key: 'achievement', label: t('market.achievement'), numeric: true, render: (b) => formatPercent(b.achievement) },
          { key: 'settlement_amount', label: t('market.amount'), numeric: true, render: (b) => formatMoney(b.settlement_amount, b.currency || market.currency, market.minor_unit_digits) },
        ]}
      />
    </section>
  );
}

export function Trades({ market, version, showAccounts }: { market: Market; version: number; showAccounts: boolean }) {
  const r = usePaged((page, per) => api<Page<Trade>>('GET', '/api/v1/trades' + qs({ market_id: market.id, page, per_page: per })), [market.id, version], 10);
  const digits = tickDigits(market.volume_tick_kwh);
  // operators and admins see who traded with whom
  const who = useAccountNames(showAccounts);
  const counterparty = (tr: Trade): string => {
    if (showAccounts) return `${t('market.buyer')}: ${who(tr.buyer_account_id)} · ${t('market.seller')}: ${who(tr.seller_account_id)}`;
    const other = tr.side === 'buy' ? tr.seller_account_id : tr.buyer_account_id;
    return other !== undefined && other !== null ? who(other) : t('market.counterpartyHidden');
  };
  return (
    <section class="card" aria-labelledby="h-trades">
      <div class="row">
        <h2 id="h-trades">{showAccounts ? t('market.allTrades') : t('market.trades')}</h2>
        <span class="spacer" />
        <CsvButton path={`/api/v1/trades?market_id=${market.id}&per_page=500`} filename={`trades-market-${market.id}.csv`} />
      </div>
      <ErrorBox error={r.error} onRetry={r.reload} />
      <Table
        rows={r.data?.items || []}
          loading={!r.data && !r.error}
        rowKey={(x) => x.id + (x.side || '')}
        server={r.server}
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'slot', label: t('market.slot'), sortValue: (x) => x.slot_start, render: (x) => formatInstant(x.slot_start, market.timezone) },
          { key: 'side', label: t('market.side'), render: (x) => (x.side ? <span class={'badge ' + x.side}>{x.side === 'buy' ? t('market.buy') : t('market.sell')}</span> : '–') },
          { key: 'volume_kwh', label: t('market.volume'), numeric: true, render: (x) => formatKWh(x.volume_kwh, digits) },
          { key: 'price', label: t('market.price', { unit: market.price_unit }), numeric: true, render: (x) => formatPrice(x.price, market.currency) },
          { key: 'amount', label: t('market.amount'), numeric: true, render: (x) => formatMoney(x.amount, x.currency || market.currency, market.minor_unit_digits) },
          { key: 'cp', label: t('market.counterparty'), sortable: false, render: counterparty },
        ]}
      />
    </section>
  );
}

export function Settlements({ market, version, showAccounts }: { market: Market; version: number; showAccounts: boolean }) {
  const who = useAccountNames(showAccounts);
  const [all, setAll] = useState(false);
  const [days, setDays] = useState(2);
  // the API requires start and end: the last `days` days of market time, up to a day ahead
  const range = () => {
    const end = new Date(marketNow() + 86400000);
    const start = new Date(end.getTime() - (days + 1) * 86400000);
    return { start: start.toISOString(), end: end.toISOString() };
  };
  const r = usePaged(
    (page, per) =>
      api<Page<Settlement>>('GET', '/api/v1/settlements' + qs({ ...range(), market_id: market.id, versions: all ? 'all' : 'current', page, per_page: per })),
    [market.id, version, all, days],
    20,
  );
  const cur = market.currency;
  const dg = market.minor_unit_digits;
  return (
    <section class="card" aria-labelledby="h-settlements">
      <div class="row">
        <h2 id="h-settlements">{t('market.settlements')}</h2>
        <span class="spacer" />
        <label class="row">
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.currentTarget as HTMLInputElement).checked)} /> {t('market.allVersions')}
        </label>
        <CsvButton path={'/api/v1/settlements' + qs({ ...range(), market_id: market.id, versions: all ? 'all' : 'current', per_page: 500 })} filename="settlements.csv" />
        <label class="row">
          {t('market.window')}{' '}
          <select value={String(days)} onChange={(e) => setDays(Number((e.currentTarget as HTMLSelectElement).value))}>
            {[1, 2, 7, 30].map((n) => (
              <option key={n} value={String(n)}>
                {t('market.days', { n })}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={r.error} onRetry={r.reload} />
      <Table
        rows={r.data?.items || []}
          loading={!r.data && !r.error}
        rowKey={(s) => `${s.slot_start}-${s.account_id}-${s.version}`}
        server={r.server}
        columns={[
          { key: 'slot', label: t('market.slot'), sortValue: (s) => s.slot_start, render: (s) => formatInstant(s.slot_start, market.timezone) },
          ...(showAccounts ? [{ key: 'account', label: t('market.account'), sortValue: (s: Settlement) => who(s.account_id), render: (s: Settlement) => who(s.account_id) }] : []),
          {
            key: 'version',
            label: t('market.version'),
            numeric: true,
            render: (s) => (
              <span>
                {s.version}
                {s.version > 1 && <span class="badge"> {t('market.correction')}</span>}
                {!s.current && <span class="muted"> ✕</span>}
              </span>
            ),
          },
          { key: 'contracted_kwh', label: t('market.traded'), numeric: true, render: (s) => formatKWh(s.contracted_kwh, 3) },
          { key: 'metered_kwh', label: t('market.metered'), numeric: true, render: (s) => formatKWh(s.metered_kwh, 3) },
          { key: 'imbalance_kwh', label: t('market.imbalance'), numeric: true, render: (s) => formatKWh(s.imbalance_kwh, 3) },
          { key: 'imbalance_price', label: t('market.imbalancePrice', { unit: market.price_unit }), numeric: true, render: (s) => formatPrice(s.imbalance_price, cur) },
          { key: 'trade_amount', label: t('market.amount'), numeric: true, render: (s) => formatMoney(s.trade_amount, s.currency || cur, dg) },
          { key: 'imbalance_amount', label: t('market.imbalanceAmount'), numeric: true, render: (s) => formatMoney(s.imbalance_amount, s.currency || cur, dg) },
          { key: 'total', label: t('market.total'), numeric: true, render: (s) => formatMoney(s.total, s.currency || cur, dg) },
        ]}
      />
    </section>
  );
}
