// A time-series chart (uPlot via components/Chart) in a site's timezone, with zoom and pan by
// drag, mouse wheel, buttons and keyboard (+ − ← → 0). Data shaping lives in lib2/series.ts.
import { useMemo, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import { Chart, getUPlot, type ChartOptions } from '../../components/Chart';
import { formatInstant, formatNumber, zonedParts } from '../../format';
import { t } from '../../i18n';
import { panWindow, zoomWindow } from '../../lib2/series';

export interface SeriesSpec {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
  /** Draw as steps (schedules, hourly prices). */
  stepped?: boolean;
  /** Right-hand axis with its own unit. */
  unit?: string;
  /** Line width (default 1.5). */
  width?: number;
  /** Legend marker fill (a band's colour on its edges). */
  marker?: string;
  /** Class (one token) of the series' legend row: tests and styles find forecasts and bands by it. */
  cls?: string;
}

/** A shaded band between two series (indices into `series`): a forecast's interval. */
export interface BandSpec {
  hi: number;
  lo: number;
  fill: string;
}

export const COLORS = {
  measured: '#1f5fbf',
  forecast: '#d2691e',
  schedule: '#2e8b57',
  extra: ['#8a3ffc', '#b8860b', '#c2185b', '#00838f', '#5d4037'],
};

interface Props {
  x: number[];
  series: SeriesSpec[];
  unit: string;
  tz: string;
  label: string;
  height?: number;
  bands?: BandSpec[];
}

export function SeriesChart({ x, series, unit, tz, label, height = 320, bands }: Props) {
  const plot = useRef<uPlot | null>(null);
  const key =
    series.map((s) => s.label + '|' + (s.unit || '') + '|' + s.color + '|' + (s.stepped ? 1 : 0) + '|' + (s.width ?? '') + '|' + (s.marker || '') + '|' + (s.cls || '') + '|' + (s.dash || []).join(',')).join(';') +
    '#' +
    (bands || []).map((b) => b.hi + ',' + b.lo + ',' + b.fill).join(';');
  const units = Array.from(new Set(series.map((s) => s.unit || unit)));
  const options = useMemo<ChartOptions>(() => {
    // uPlot is loaded by Chart before the options are used
    let sb: uPlot.Series.PathBuilder | null = null;
    const steppedPaths: uPlot.Series.PathBuilder = (u, sidx, i0, i1) => (sb ||= getUPlot().paths.stepped!({ align: 1 }))(u, sidx, i0, i1);
    const second = units.length > 1 ? units[1] : null;
    const axes: uPlot.Axis[] = [
      {
        values: (_u, vals) =>
          vals.map((v, i) => {
            const p = zonedParts(v * 1000, tz);
            return i === 0 || (p.hour === '00' && p.minute === '00') ? `${p.month}-${p.day}\n${p.hour}:${p.minute}` : `${p.hour}:${p.minute}`;
          }),
      },
      { scale: 'y', label: unit, values: (_u, vals) => vals.map((v) => formatNumber(v, 1)), size: 70 },
    ];
    if (second) axes.push({ scale: second, side: 1, label: second, grid: { show: false }, values: (_u, vals) => vals.map((v) => formatNumber(v, 2)), size: 60 });
    return {
      tzDate: (ts: number) => {
        const p = zonedParts(ts * 1000, tz);
        return new Date(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
      },
      scales: { x: { time: true }, ...(second ? { [second]: { auto: true } } : {}) },
      cursor: { drag: { x: true, y: false, setScale: true } },
      axes,
      ...(bands && bands.length ? { bands: bands.map((b) => ({ series: [b.hi + 1, b.lo + 1] as [number, number], fill: b.fill })) } : {}),
      legend: { markers: { fill: (_u: uPlot, i: number) => (i > 0 && series[i - 1]?.marker) || 'transparent' } },
      series: [
        { label: t('analytics.time'), value: (_u, v) => (v ? formatInstant(v * 1000, tz) : '–') },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          dash: s.dash,
          ...(s.cls ? { class: s.cls } : {}),
          ...(s.unit && s.unit !== unit ? { scale: s.unit } : {}),
          spanGaps: false,
          points: { show: false },
          paths: s.stepped ? steppedPaths : undefined,
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : formatNumber(v, 2) + ' ' + (s.unit || unit)),
        })),
      ],
      hooks: {
        ready: [
          (u: uPlot) => {
            plot.current = u;
            u.over.addEventListener(
              'wheel',
              (e: WheelEvent) => {
                if (!e.ctrlKey && !e.shiftKey) return; // plain wheel scrolls the page
                e.preventDefault();
                const rect = u.over.getBoundingClientRect();
                const frac = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
                apply(u, e.shiftKey && !e.ctrlKey ? 'pan' : 'zoom', e.shiftKey && !e.ctrlKey ? (e.deltaY > 0 ? 0.2 : -0.2) : e.deltaY < 0 ? 0.7 : 1 / 0.7, frac);
              },
              { passive: false },
            );
          },
        ],
        destroy: [
          () => {
            plot.current = null;
          },
        ],
      },
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, unit, tz]);
  const data = useMemo(() => [x, ...series.map((s) => s.values)] as uPlot.AlignedData, [x, series]);

  const act = (kind: 'zoom' | 'pan' | 'reset', amount = 0) => {
    const u = plot.current;
    if (!u) return;
    if (kind === 'reset') {
      if (x.length) u.setScale('x', { min: x[0], max: x[x.length - 1] });
      return;
    }
    apply(u, kind, amount, 0.5);
  };
  const onKey = (e: KeyboardEvent) => {
    const k = e.key;
    if (k === '+' || k === '=') act('zoom', 0.5);
    else if (k === '-') act('zoom', 2);
    else if (k === 'ArrowLeft') act('pan', -0.25);
    else if (k === 'ArrowRight') act('pan', 0.25);
    else if (k === '0') act('reset');
    else return;
    e.preventDefault();
  };

  return (
    <div class="series-chart" role="group" tabIndex={0} onKeyDown={onKey} aria-label={t('analytics.chartKeys')}>
      <div class="row chart-tools">
        <button type="button" class="small secondary" onClick={() => act('zoom', 0.5)} aria-label={t('analytics.zoomIn')}>
          +
        </button>
        <button type="button" class="small secondary" onClick={() => act('zoom', 2)} aria-label={t('analytics.zoomOut')}>
          −
        </button>
        <button type="button" class="small secondary" onClick={() => act('pan', -0.25)} aria-label={t('analytics.panLeft')}>
          ←
        </button>
        <button type="button" class="small secondary" onClick={() => act('pan', 0.25)} aria-label={t('analytics.panRight')}>
          →
        </button>
        <button type="button" class="small secondary" onClick={() => act('reset')}>
          {t('analytics.resetZoom')}
        </button>
        <small class="muted">{t('analytics.zoomHint')}</small>
      </div>
      <Chart options={options} data={data} height={height} label={label} />
    </div>
  );

  function apply(u: uPlot, kind: 'zoom' | 'pan', amount: number, frac: number) {
    const xs = u.data[0] as number[];
    if (!xs || xs.length < 2) return;
    const lo = xs[0];
    const hi = xs[xs.length - 1];
    const min = u.scales.x.min ?? lo;
    const max = u.scales.x.max ?? hi;
    const [a, b] = kind === 'zoom' ? zoomWindow(min, max, amount, frac, lo, hi) : panWindow(min, max, amount, lo, hi);
    u.setScale('x', { min: a, max: b });
  }
}
