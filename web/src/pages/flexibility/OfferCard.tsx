// The offer curve of a slot (default: the next open one) as a step chart with the expected
// price marked, and why it has that shape: the price basis, each member's state of charge and
// the limits that bind at each price step.
import { useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { api, qs } from '../../api';
import { nextSlots } from '../../charts';
import { Chart, getUPlot, type ChartOptions } from '../../components/Chart';
import { Countdown } from '../../components/Countdown';
import { ErrorBox } from '../../components/ErrorBox';
import { fieldId, SelectField } from '../../components/Form';
import { StateBadge } from '../../components/StateBadge';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatKW, formatKWh, formatNumber, formatPrice, parseIsoDuration } from '../../format';
import { useAsync } from '../../hooks';
import { t } from '../../i18n';
import { bidTotals, bindingTotals, netAt, offerChartData, type Offer, type OfferStep, type PlacedBid, type Portfolio } from '../../lib2/portfolios';
import type { Market } from '../../types';

const CURVE = '#0b6e4f';
const STEP = '#12343b';
const EXPECTED = '#f0a500';

/** uPlot's stepped path (the value at x[i] holds until x[i+1]); uPlot is loaded before it is drawn. */
function steppedPaths(): uPlot.Series.PathBuilder {
  let b: uPlot.Series.PathBuilder | null = null;
  return (u, sidx, i0, i1) => (b ||= getUPlot().paths.stepped!({ align: 1 }))(u, sidx, i0, i1);
}

export function OfferChart({ offer, market }: { offer: Offer; market: Market }) {
  const cur = offer.currency || market.currency;
  const expected = offer.expected_price ?? null;
  const d = useMemo(() => offerChartData(offer.steps, expected), [offer]);
  const options = useMemo<ChartOptions>(
    () => ({
      scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min) - 1, Math.max(0, max) + 1] } },
      axes: [
        { label: t('flex.chartPrice', { unit: market.price_unit || cur + '/kWh' }), values: (_u, vals) => vals.map((v) => formatNumber(v, 2)) },
        { label: t('flex.chartNet'), values: (_u, vals) => vals.map((v) => formatNumber(v, 0)), size: 60 },
      ],
      series: [
        { label: t('flex.price'), value: (_u, v) => formatPrice(v, cur) },
        { label: t('flex.curve'), stroke: CURVE, width: 2, paths: steppedPaths(), points: { show: false }, value: (_u, v) => formatKW(v, 3) },
        { label: t('flex.steps'), stroke: STEP, width: 0, paths: () => null, points: { show: true, size: 7, stroke: STEP, fill: '#fff', width: 2 }, value: (_u, v) => formatKW(v, 3) },
        {
          label: t('flex.expectedPrice'),
          stroke: EXPECTED,
          width: 0,
          paths: () => null,
          points: { show: true, size: 12, stroke: '#000', fill: EXPECTED, width: 2 },
          value: (_u, v) => formatKW(v, 3),
        },
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        // the expected price as a dashed vertical line, and the zero line (buy above, sell below)
        draw: [
          (u: uPlot) => {
            const ctx = u.ctx;
            const { left, top, width, height } = u.bbox;
            ctx.save();
            ctx.lineWidth = 1 * devicePixelRatio;
            const y0 = u.valToPos(0, 'y', true);
            if (y0 >= top && y0 <= top + height) {
              ctx.strokeStyle = '#9aa9b0';
              ctx.beginPath();
              ctx.moveTo(left, y0);
              ctx.lineTo(left + width, y0);
              ctx.stroke();
            }
            if (expected !== null) {
              const x = u.valToPos(expected, 'x', true);
              if (x >= left && x <= left + width) {
                ctx.strokeStyle = EXPECTED;
                ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
                ctx.lineWidth = 2 * devicePixelRatio;
                ctx.beginPath();
                ctx.moveTo(x, top);
                ctx.lineTo(x, top + height);
                ctx.stroke();
              }
            }
            ctx.restore();
          },
        ],
      },
    }),
    [market, cur, expected],
  );
  const data = useMemo(() => [d.x, d.curve, d.steps, d.expected] as uPlot.AlignedData, [d]);
  const label = t('flex.offerOf', { slot: formatInstant(offer.slot_start, market.timezone) });
  return (
    <div class="offer-chart" data-slot={offer.slot_start}>
      <Chart options={options} data={data} height={280} label={label} />
      <p class="legend-note">{t('flex.chartNote')}</p>
    </div>
  );
}

export function OfferCard({ portfolio, market, version }: { portfolio: Portfolio; market: Market; version: number }) {
  const tz = market.timezone;
  const [slot, setSlot] = useState<string>('');
  const [first, setFirst] = useState<string | null>(null);
  const selId = useMemo(() => fieldId('offer_slot'), []);
  const res = useAsync(async () => {
    const o = await api<Offer>('GET', `/api/v1/portfolios/${portfolio.id}/offers` + qs({ slot_start: slot || undefined }));
    if (!slot) setFirst(o.slot_start);
    return o;
  }, [portfolio.id, slot, version]);
  const o = res.data;
  const slotMs = parseIsoDuration(market.slot_length);
  const horizonSlots = Math.max(1, Math.min(12, Math.floor(parseIsoDuration(portfolio.horizon) / slotMs) || 1));
  const options = first ? nextSlots(first, slotMs, horizonSlots) : [];
  const cur = o?.currency || portfolio.currency;

  return (
    <section class="card offer" aria-labelledby="h-offer">
      <div class="row">
        <h2 id="h-offer">{t('flex.offer')}</h2>
        <span class="spacer" />
        {options.length > 1 && (
          <SelectField
            id={selId}
            name="offer_slot"
            label={t('flex.slot')}
            value={slot}
            onValue={setSlot}
            options={options.map((s, i) => ({ value: i === 0 ? '' : s, label: formatInstant(s, tz) + (i === 0 ? ' · ' + t('flex.nextOpen') : '') }))}
          />
        )}
      </div>
      <ErrorBox error={res.error} onRetry={res.reload} />
      {res.loading && !o && <p class="muted">{t('common.loading')}</p>}
      {o && (
        <>
          <dl class="kpis">
            <div>
              <dt>{t('flex.slot')}</dt>
              <dd data-kpi="slot">{formatInstant(o.slot_start, tz)}</dd>
            </div>
            {o.gate_closure && (
              <div>
                <dt>{t('market.countdown')}</dt>
                <dd>
                  <Countdown to={o.gate_closure} />
                </dd>
              </div>
            )}
            <div>
              <dt>{t('flex.expectedPrice')}</dt>
              <dd data-kpi="expected">{formatPrice(o.expected_price, cur)}</dd>
            </div>
            {typeof o.expected_price === 'number' && o.steps.length > 0 && (
              <div>
                <dt>{t('flex.atExpected')}</dt>
                <dd data-kpi="at-expected">{formatKW(netAt(o.steps, o.expected_price), 3)}</dd>
              </div>
            )}
            <div>
              <dt>{t('flex.offerState')}</dt>
              <dd>{o.preview ? <span class="badge">{t('flex.preview')}</span> : <StateBadge state={o.state || 'offered'} />}</dd>
            </div>
          </dl>
          {o.note && <p class="muted">{o.note}</p>}
          {o.steps.length > 0 && <OfferChart offer={o} market={market} />}
          <Why offer={o} market={market} />
          {o.bids && <Bids bids={o.bids} currency={cur} />}
        </>
      )}
    </section>
  );
}

function Why({ offer, market }: { offer: Offer; market: Market }) {
  const cur = offer.currency || market.currency;
  const b = bindingTotals(offer.steps);
  const cols: Column<OfferStep>[] = [
    { key: 'price', label: t('flex.priceUnit', { unit: cur + '/kWh' }), numeric: true, render: (s) => formatNumber(s.price, 2) },
    { key: 'net_kw', label: t('flex.netKw'), numeric: true, render: (s) => formatNumber(s.net_kw, 3) },
    { key: 'volume_kwh', label: t('flex.volumeKwh'), numeric: true, render: (s) => formatNumber(s.volume_kwh, 3) },
    { key: 'side', label: t('market.side'), render: (s) => <SideBadge side={s.side} /> },
    { key: 'at_max_charge', label: t('flex.atMaxCharge'), numeric: true, sortValue: (s) => s.binding?.at_max_charge, render: (s) => String(s.binding?.at_max_charge ?? 0) },
    { key: 'at_max_discharge', label: t('flex.atMaxDischarge'), numeric: true, sortValue: (s) => s.binding?.at_max_discharge, render: (s) => String(s.binding?.at_max_discharge ?? 0) },
    { key: 'soc_at_max', label: t('flex.socAtMax'), numeric: true, sortValue: (s) => s.binding?.soc_at_max, render: (s) => String(s.binding?.soc_at_max ?? 0) },
    { key: 'soc_at_min', label: t('flex.socAtMin'), numeric: true, sortValue: (s) => s.binding?.soc_at_min, render: (s) => String(s.binding?.soc_at_min ?? 0) },
    { key: 'curtailed', label: t('flex.curtailed'), numeric: true, sortValue: (s) => s.binding?.curtailed, render: (s) => String(s.binding?.curtailed ?? 0) },
  ];
  return (
    <div class="why">
      <h3>{t('flex.why')}</h3>
      <ul class="notes why-list">
        {offer.price_basis && <li data-why="basis">{t('flex.priceBasis', { basis: offer.price_basis })}</li>}
        {(offer.state_of_charge || []).length > 0 && (
          <li data-why="soc">
            {t('flex.socAtStart')}{' '}
            {offer.state_of_charge!.map((s, i) => (
              <span key={s.asset_id}>
                {i > 0 ? ' · ' : ''}
                {s.name}: {formatKWh(s.soc_kwh, 1)}
              </span>
            ))}
          </li>
        )}
        {offer.steps.length > 0 && (
          <li data-why="binding">
            {t('flex.bindingSummary', { steps: offer.steps.length, limited: b.limited, charge: b.at_max_charge, discharge: b.at_max_discharge, full: b.soc_at_max, empty: b.soc_at_min, curtailed: b.curtailed })}
          </li>
        )}
      </ul>
      {(offer.warnings || []).length > 0 && (
        <ul class="warnings">
          {offer.warnings!.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
      {offer.steps.length > 0 && (
        <details>
          <summary>{t('flex.stepsTable', { n: offer.steps.length })}</summary>
          <Table columns={cols} rows={offer.steps} rowKey={(s) => s.price} pageSize={25} />
        </details>
      )}
    </div>
  );
}

function Bids({ bids, currency }: { bids: PlacedBid[]; currency: string }) {
  const tot = bidTotals(bids);
  return (
    <div class="placed-bids">
      <h3>{t('flex.bidsPlaced', { n: tot.count })}</h3>
      <Table<PlacedBid>
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'side', label: t('market.side'), render: (b) => <SideBadge side={b.side} /> },
          { key: 'price', label: t('flex.priceUnit', { unit: currency + '/kWh' }), numeric: true, render: (b) => formatNumber(b.price, 2) },
          { key: 'volume_kwh', label: t('flex.volumeKwh'), numeric: true, render: (b) => formatNumber(b.volume_kwh, 3) },
        ]}
        rows={bids}
        rowKey={(b) => b.id}
        empty={t('flex.noBids')}
      />
    </div>
  );
}

/** buy / sell (market.* strings) as the market page's coloured badges. */
export function SideBadge({ side }: { side: string }) {
  return <span class={'badge ' + side}>{side === 'buy' ? t('market.buy') : side === 'sell' ? t('market.sell') : t('flex.sideNone')}</span>;
}
