// The depth chart of one cleared slot and the price/volume history, both uPlot via <Chart>.
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import { depthData, historyData } from '../../charts';
import { Chart, getUPlot, type ChartOptions } from '../../components/Chart';
import { formatInstant, formatKWh, formatNumber, formatPrice, zonedParts } from '../../format';
import { t } from '../../i18n';
import type { ClearingSummary, CurvePoint, Market } from '../../types';

const BUY = '#1f5fbf';
const SELL = '#c0392b';
const POINT = '#f0a500';

/** uPlot's stepped path builder (vertical first); the Chart has loaded uPlot before any series is drawn. */
function steppedPaths(): uPlot.Series.PathBuilder {
  let b: uPlot.Series.PathBuilder | null = null;
  return (u, sidx, i0, i1) => {
    if (!b) b = getUPlot().paths.stepped!({ align: -1 });
    return b(u, sidx, i0, i1);
  };
}

function barPaths(): uPlot.Series.PathBuilder {
  let b: uPlot.Series.PathBuilder | null = null;
  return (u, sidx, i0, i1) => {
    if (!b) b = getUPlot().paths.bars!({ size: [0.6, 40] });
    return b(u, sidx, i0, i1);
  };
}

export function DepthChart({ market, demand, supply, price, volume, slot }: { market: Market; demand: CurvePoint[]; supply: CurvePoint[]; price: number | null; volume: number; slot: string }) {
  const d = useMemo(() => depthData(demand, supply, { price, volume_kwh: volume }), [demand, supply, price, volume]);
  const options = useMemo<ChartOptions>(
    () => ({
      scales: { x: { time: false } },
      axes: [
        { label: t('market.cumulativeVolume'), values: (_u, vals) => vals.map((v) => formatNumber(v, 0)) },
        { label: market.price_unit || market.currency + '/kWh', values: (_u, vals) => vals.map((v) => formatNumber(v, 2)) },
      ],
      series: [
        { label: 'kWh', value: (_u, v) => (v === null || v === undefined ? '–' : formatKWh(v, 3)) },
        { label: t('market.demand'), stroke: BUY, width: 2, paths: steppedPaths(), points: { show: false }, value: (_u, v) => formatPrice(v, market.currency) },
        { label: t('market.supply'), stroke: SELL, width: 2, paths: steppedPaths(), points: { show: false }, value: (_u, v) => formatPrice(v, market.currency) },
        {
          label: t('market.clearingPoint'),
          stroke: POINT,
          fill: POINT,
          width: 0,
          paths: () => null,
          points: { show: true, size: 12, stroke: '#000', fill: POINT, width: 2 },
          value: (_u, v) => formatPrice(v, market.currency),
        },
      ],
      cursor: { drag: { x: true, y: false } },
    }),
    [market],
  );
  const data = useMemo(() => [d.x, d.demand, d.supply, d.point] as uPlot.AlignedData, [d]);
  const label = t('market.depthOf', { slot: formatInstant(slot, market.timezone) });
  return (
    <div class="depth-chart" data-slot={slot}>
      <Chart options={options} data={data} height={280} label={label} />
      <p class="legend-note">
        {t('market.clearingPoint')}: {formatPrice(price, market.currency)} · {formatKWh(volume, 3)}
      </p>
    </div>
  );
}

export function HistoryChart({ market, rows }: { market: Market; rows: ClearingSummary[] }) {
  const h = useMemo(() => historyData(rows), [rows]);
  const options = useMemo<ChartOptions>(() => {
    const tz = market.timezone;
    return {
      tzDate: (ts: number) => {
        // uPlot draws in "local" time: shift so local wall time = market wall time
        const p = zonedParts(ts * 1000, tz);
        return new Date(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
      },
      scales: { x: { time: true }, kwh: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        {
          values: (_u, vals) =>
            vals.map((v, i) => {
              const p = zonedParts(v * 1000, tz);
              return i === 0 || (p.hour === '00' && p.minute === '00') ? `${p.month}-${p.day}\n${p.hour}:${p.minute}` : `${p.hour}:${p.minute}`;
            }),
        },
        { label: market.price_unit || market.currency + '/kWh', values: (_u, vals) => vals.map((v) => formatNumber(v, 2)) },
        { scale: 'kwh', side: 1, label: 'kWh', grid: { show: false }, values: (_u, vals) => vals.map((v) => formatNumber(v, 0)) },
      ],
      series: [
        { label: t('market.slot'), value: (_u, v) => (v ? formatInstant(v * 1000, tz) : '–') },
        { label: t('market.clearingPrice'), stroke: BUY, width: 2, value: (_u, v) => formatPrice(v, market.currency), spanGaps: false },
        {
          label: t('market.clearedVolume'),
          scale: 'kwh',
          stroke: '#6a8f3a',
          fill: 'rgba(106,143,58,0.25)',
          width: 1,
          paths: barPaths(),
          points: { show: false },
          value: (_u, v) => formatKWh(v, 3),
        },
      ],
    };
  }, [market]);
  const data = useMemo(() => [h.t, h.price, h.volume] as uPlot.AlignedData, [h]);
  return <Chart options={options} data={data} height={260} label={t('market.history')} />;
}
