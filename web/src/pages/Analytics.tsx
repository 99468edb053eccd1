// Analytics: any sensor (or a site's sum) over a window and resolution; the most recent beliefs,
// an "as known at" replay (prior) or a forecast source, and schedules, in one chart; metrics
// (realised total, MAE, MAPE, WAPE) with CSV and JSON download. For one sensor also: its sources,
// each forecast source in the window as a line with its p10–p90 band, a "Forecast" action and the
// backtest accuracy.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, qs, saveText, type Page } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { fieldId, TextField, SelectField } from '../components/Form';
import { marketNow, useMarketNow } from '../clock';
import { syncMarketClock } from '../lib2/clock2';
import { formatInstant, formatKWh, formatNumber, formatPercent, fromLocalInput, parseIsoDuration, toLocalInput, tzOffset, zonedParts } from '../format';
import { useAsync } from '../hooks';
import { t } from '../i18n';
import { setQuery } from '../router';
import type { PageProps } from '../routes';
import { allPages, type AssetFull, type SensorFull } from '../lib2/apiTypes';
import { alignSeries, computeMetrics, isoWithOffset, maskAfter, sumColumns, toCsv, unitKind, type SeriesData } from '../lib2/series';
import { bandColumns, hasValues, mayForecast, overlapsWindow, pairForecastSources, withAlpha, type ForecastGroup, type SourceInfo, type SourcesResponse } from '../lib2/forecasts';
import { COLORS, SeriesChart, type BandSpec, type SeriesSpec } from './analytics/SeriesChart';
import { SourcesPanel } from './analytics/SourcesPanel';
import { ForecastPanel } from './analytics/ForecastPanel';
import { AccuracyPanel } from './analytics/AccuracyPanel';
import type { Me } from '../session';

const SCHEDULER = 'flexmarket scheduler';
const RESOLUTIONS = ['', 'PT15M', 'PT30M', 'PT1H', 'PT3H', 'PT6H', 'P1D', 'P7D'];
const SPANS: [string, number][] = [
  ['analytics.span1d', 1],
  ['analytics.span7d', 7],
  ['analytics.span30d', 30],
  ['analytics.span365d', 365],
];

interface Loaded {
  unit: string;
  tz: string;
  resolution: string;
  x: number[];
  latest: (number | null)[];
  compare: (number | null)[] | null;
  schedule: (number | null)[] | null;
  /** Forecast sources with events in the window: median and (when stored) the p10–p90 band. */
  forecasts: LoadedForecast[];
  sensors: SensorFull[];
}

interface LoadedForecast {
  group: ForecastGroup;
  median: (number | null)[];
  band: { lo: (number | null)[]; hi: (number | null)[] } | null;
}

export default function Analytics({ query, me }: PageProps) {
  useMarketNow(60_000); // keeps the market clock sampled (the demo's runs 60x)
  const meta = useAsync(async () => {
    const [sensors, assets] = await Promise.all([
      allPages((p) => api<Page<SensorFull>>('GET', '/api/v1/sensors' + qs({ page: p, per_page: 500 }))),
      allPages((p) => api<Page<AssetFull>>('GET', '/api/v1/assets' + qs({ page: p, per_page: 500 }))),
    ]);
    await syncMarketClock();
    return { sensors, assets };
  }, []);

  if (meta.error) return <Shell><ErrorBox error={meta.error} onRetry={meta.reload} /></Shell>;
  if (!meta.data) return <Shell><p class="muted">{t('common.loading')}</p></Shell>;
  return <AnalyticsBody sensors={meta.data.sensors} assets={meta.data.assets} query={query} me={me} />;
}

function Shell({ children }: { children: preact.ComponentChildren }) {
  return (
    <section>
      <h1>{t('analytics.title')}</h1>
      {children}
    </section>
  );
}

function AnalyticsBody({ sensors, assets, query, me }: { sensors: SensorFull[]; assets: AssetFull[]; query: URLSearchParams; me: Me }) {
  const assetById = useMemo(() => new Map(assets.map((a) => [a.id, a])), [assets]);
  const sites = assets.filter((a) => a.type === 'site');
  const defaultSel = query.get('sel') || (sensors.find((s) => unitKind(s.unit) === 'power') ? 'sensor:' + sensors.find((s) => unitKind(s.unit) === 'power')!.id : sensors[0] ? 'sensor:' + sensors[0].id : '');
  const [sel, setSel] = useState(defaultSel);

  // the members of the selection and its timezone
  const members = useMemo(() => selectionSensors(sel, sensors, assets), [sel, sensors, assets]);
  const tz = members[0]?.timezone || (sel.startsWith('site:') ? assetById.get(Number(sel.slice(5)))?.timezone : undefined) || 'UTC';

  const initial = useMemo(() => defaultWindow(tz), [tz]);
  const [start, setStart] = useState(query.get('start') ? toLocalInput(query.get('start')!, tz) : initial.start);
  const [end, setEnd] = useState(query.get('end') ? toLocalInput(query.get('end')!, tz) : initial.end);
  const [res, setRes] = useState(query.get('res') || '');
  const [prior, setPrior] = useState(query.get('prior') ? toLocalInput(query.get('prior')!, tz) : '');
  const [source, setSource] = useState(query.get('source') || '');
  const [showSchedule, setShowSchedule] = useState(query.get('sched') !== '0');
  const [formErr, setFormErr] = useState<Record<string, string | undefined>>({});
  const [applied, setApplied] = useState<Req | null>(() => checkReq().req);

  // A sensor's sources, asked for once per sensor (forgotten after a new forecast) and shared by
  // the chart's forecast lines and the sources list; asked for as soon as a sensor is chosen in
  // the form, so showing it need not wait for them.
  const srcCache = useRef(new Map<number, Promise<SourceInfo[]>>());
  const getSources = (id: number): Promise<SourceInfo[]> => {
    let p = srcCache.current.get(id);
    if (!p) {
      const q = api<SourcesResponse>('GET', `/api/v1/sensors/${id}/sources`).then((r) => r.items || []);
      srcCache.current.set(id, q);
      q.catch(() => {
        if (srcCache.current.get(id) === q) srcCache.current.delete(id);
      });
      p = q;
    }
    return p;
  };
  const [srcVersion, setSrcVersion] = useState(0);
  const selSensorId = sel.startsWith('sensor:') ? Number(sel.slice(7)) : null;
  useEffect(() => {
    if (selSensorId !== null && sensors.some((s) => s.id === selSensorId)) getSources(selSensorId).catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selSensorId]);
  const appliedSensor = applied && applied.sel.startsWith('sensor:') ? sensors.find((x) => x.id === Number(applied.sel.slice(7))) : undefined;
  const srcList = useAsync(() => (appliedSensor ? getSources(appliedSensor.id) : Promise.resolve(null)), [appliedSensor?.id, srcVersion]);

  /** The request the form describes, or the errors that stop it (pure: no state is set). */
  function checkReq(): { req: Req | null; errs: Record<string, string | undefined> } {
    const errs: Record<string, string | undefined> = {};
    let s = '';
    let e = '';
    let p = '';
    try {
      s = fromLocalInput(start, tz);
    } catch {
      errs.start = t('common.required');
    }
    try {
      e = fromLocalInput(end, tz);
    } catch {
      errs.end = t('common.required');
    }
    if (prior.trim()) {
      try {
        p = fromLocalInput(prior, tz);
      } catch {
        errs.prior = t('analytics.badInstant');
      }
    }
    if (s && e && Date.parse(e) <= Date.parse(s)) errs.end = t('analytics.endAfterStart');
    if (!sel) errs.sel = t('common.required');
    if (Object.values(errs).some(Boolean)) return { req: null, errs };
    return { req: { sel, start: s, end: e, res, prior: p, source: source.trim(), schedule: showSchedule }, errs };
  }

  const apply = (ev?: Event) => {
    ev?.preventDefault();
    const { req: r, errs } = checkReq();
    setFormErr(errs);
    if (!r) return;
    setApplied(r);
    setQuery({ sel: r.sel, start: r.start, end: r.end, res: r.res || undefined, prior: r.prior || undefined, source: r.source || undefined, sched: r.schedule ? undefined : '0' });
  };

  const setSpan = (days: number) => {
    try {
      const e = Date.parse(fromLocalInput(end, tz));
      const s = toLocalInput(e - days * 86400_000, tz);
      setStart(s);
    } catch {
      /* end invalid: the form says so on apply */
    }
  };

  const shiftPrior = (hours: number) => {
    const base = prior.trim() ? Date.parse(fromLocalInput(prior, tz)) : marketNow();
    setPrior(toLocalInput(base + hours * 3600_000, tz));
  };

  const data = useAsync<Loaded | null>(async () => {
    if (!applied) return null;
    const list = selectionSensors(applied.sel, sensors, assets);
    if (list.length === 0) return null;
    const get = (s: SensorFull, extra: Record<string, string | undefined>) =>
      api<SeriesData>('GET', `/api/v1/sensors/${s.id}/data` + qs({ start: applied.start, end: applied.end, resolution: applied.res || undefined, unit: list.length > 1 ? 'kW' : undefined, ...extra }));
    const wantCompare = !!(applied.prior || applied.source);
    // one sensor: each forecast source with events in the window, as known at `prior` when given
    const single = list.length === 1 && applied.sel.startsWith('sensor:') ? list[0] : null;
    const stepMs = single ? parseIsoDuration(single.event_resolution) || 0 : 0;
    const one = (s: SensorFull, src: SourceInfo | null) => (src ? get(s, { prior: applied.prior || undefined, source: String(src.id) }) : Promise.resolve(null));
    const forecastReads = single
      ? getSources(single.id)
          .catch(() => [] as SourceInfo[]) // the sources list shows that error; the chart goes on without forecasts
          .then((srcs) =>
            Promise.all(
              pairForecastSources(srcs)
                .filter((g) => overlapsWindow(g.median, applied.start, applied.end, stepMs))
                .map((g) => Promise.all([one(single, g.median), one(single, g.p10), one(single, g.p90)]).then((cols) => ({ g, cols }))),
            ),
          )
      : Promise.resolve([]);
    // all requests at once
    const [latest, compare, schedule, fcs] = await Promise.all([
      Promise.all(list.map((s) => get(s, {}))),
      wantCompare ? Promise.all(list.map((s) => get(s, { prior: applied.prior || undefined, source: applied.source || undefined }))) : Promise.resolve(null),
      // a sensor without plans (or an unknown source) simply has no schedule line
      applied.schedule ? Promise.all(list.map((s) => get(s, { source: SCHEDULER }).catch(() => null))) : Promise.resolve(null),
      forecastReads,
    ]);
    const all = [...latest, ...(compare || []), ...(schedule || []), ...fcs.flatMap((f) => f.cols)];
    const aligned = alignSeries(all);
    const n = list.length;
    const col = (k: number) => (n === 1 ? aligned.ys[k] : sumColumns(aligned.ys.slice(k, k + n)));
    const scheduleCols = schedule ? aligned.ys.slice(n + (compare ? n : 0), n + (compare ? n : 0) + n) : null;
    const schedHas = scheduleCols && scheduleCols.some((c) => hasValues(c));
    const fcBase = n + (compare ? n : 0) + (schedule ? n : 0);
    const forecasts: LoadedForecast[] = [];
    fcs.forEach((f, k) => {
      const [median, p10, p90] = aligned.ys.slice(fcBase + 3 * k, fcBase + 3 * k + 3);
      if (!hasValues(median)) return; // e.g. not yet made at the "as known at" instant
      const band = f.cols[1] && f.cols[2] ? bandColumns(p10, p90) : null;
      forecasts.push({ group: f.g, median, band: band && hasValues(band.lo) ? band : null });
    });
    return {
      unit: latest[0].unit,
      tz: latest[0].timezone || tz,
      resolution: latest[0].resolution,
      x: aligned.x,
      latest: col(0),
      compare: compare ? col(n) : null,
      schedule: schedHas ? (n === 1 ? scheduleCols![0] : sumColumns(scheduleCols!)) : null,
      forecasts,
      sensors: list,
    };
  }, [applied]);

  const d = data.data;
  const nowSec = marketNow() / 1000;
  const stepSec = d ? parseIsoDuration(d.resolution) / 1000 || 900 : 900;
  const metrics = useMemo(() => {
    if (!d) return null;
    const realised = maskAfter(d.x, d.latest, stepSec, nowSec);
    const from = applied?.prior ? Date.parse(applied.prior) / 1000 : null;
    return computeMetrics(d.x, realised, d.unit, stepSec, d.compare, from);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [d]);

  const { series, bands } = useMemo((): { series: SeriesSpec[]; bands: BandSpec[] } => {
    if (!d) return { series: [], bands: [] };
    const prices = d.unit.includes('/'); // prices hold for their whole event: steps
    const out: SeriesSpec[] = [{ label: t('analytics.latest'), values: d.latest, color: COLORS.measured, stepped: prices }];
    if (d.compare)
      out.push({
        label: applied?.prior ? t('analytics.knownAt', { at: formatInstant(applied.prior, d.tz) }) + (applied.source ? ' · ' + applied.source : '') : t('analytics.sourceSeries', { source: applied?.source || '' }),
        values: d.compare,
        color: COLORS.forecast,
        dash: [6, 4],
        stepped: prices,
      });
    if (d.schedule) out.push({ label: t('analytics.schedule'), values: d.schedule, color: COLORS.schedule, stepped: true });
    // each forecast: its median, and its p10 and p90 as the edges of a shaded band
    const bands: BandSpec[] = [];
    d.forecasts.forEach((f, k) => {
      const color = forecastColor(k, !!d.compare);
      const model = f.group.model;
      out.push({ label: t('analytics.fcLine', { model }), values: f.median, color, width: 2, stepped: prices, cls: 'fc-line' });
      if (f.band) {
        const fill = withAlpha(color, 0.2);
        out.push({ label: t('analytics.fcP10', { model }), values: f.band.lo, color: withAlpha(color, 0.5), width: 1, stepped: prices, marker: fill, cls: 'fc-band' });
        out.push({ label: t('analytics.fcP90', { model }), values: f.band.hi, color: withAlpha(color, 0.5), width: 1, stepped: prices, marker: fill, cls: 'fc-band' });
        bands.push({ lo: out.length - 2, hi: out.length - 1, fill });
      }
    });
    return { series: out, bands };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [d]);

  const title = selectionTitle(sel, sensors, assetById);
  /** A forecast job ended: its sources are new, so ask for them again and redraw the chart. */
  const onForecastDone = () => {
    if (appliedSensor) srcCache.current.delete(appliedSensor.id);
    setSrcVersion((v) => v + 1);
    data.reload();
  };
  const ids = {
    sel: useMemo(() => fieldId('sel'), []),
    start: useMemo(() => fieldId('start'), []),
    end: useMemo(() => fieldId('end'), []),
    res: useMemo(() => fieldId('res'), []),
    prior: useMemo(() => fieldId('prior'), []),
    source: useMemo(() => fieldId('source'), []),
    sched: useMemo(() => fieldId('sched'), []),
  };

  const exportCols = () => {
    if (!d) return [];
    const cols = [{ name: t('analytics.latest') + ' (' + d.unit + ')', values: d.latest }];
    if (d.compare) cols.push({ name: (applied?.prior ? 'prior ' + applied.prior : 'source ' + applied?.source) + ' (' + d.unit + ')', values: d.compare });
    if (d.schedule) cols.push({ name: SCHEDULER + ' (' + d.unit + ')', values: d.schedule });
    for (const f of d.forecasts) {
      cols.push({ name: f.group.median.name + ' (' + d.unit + ')', values: f.median });
      if (f.band) {
        cols.push({ name: f.group.median.name + ' p10 (' + d.unit + ')', values: f.band.lo });
        cols.push({ name: f.group.median.name + ' p90 (' + d.unit + ')', values: f.band.hi });
      }
    }
    return cols;
  };
  const fileBase = () => 'analytics-' + sel.replace(':', '-') + '-' + (applied?.start || '').slice(0, 10);
  const isoTz = (s: number) => isoWithOffset(s * 1000, (ms) => zonedParts(ms, d!.tz));
  const downloadCsv = () => d && saveText(toCsv(d.x, exportCols(), isoTz), fileBase() + '.csv', 'text/csv');
  const downloadJson = () => {
    if (!d) return;
    const body = {
      selection: title,
      sensors: d.sensors.map((s) => ({ id: s.id, name: s.name })),
      unit: d.unit,
      timezone: d.tz,
      resolution: d.resolution,
      start: applied?.start,
      end: applied?.end,
      prior: applied?.prior || null,
      source: applied?.source || null,
      metrics,
      series: exportCols().map((c) => ({ name: c.name, values: c.values })),
      event_starts: d.x.map(isoTz),
    };
    saveText(JSON.stringify(body, null, 1), fileBase() + '.json', 'application/json');
  };

  return (
    <section class="analytics">
      <h1>{t('analytics.title')}</h1>
      <form class="card" onSubmit={apply} noValidate>
        <div class="grid three">
          <div class={'field' + (formErr.sel ? ' invalid' : '')}>
            <label for={ids.sel}>{t('analytics.series')}</label>
            <select id={ids.sel} name="sensor" value={sel} onChange={(e) => setSel((e.currentTarget as HTMLSelectElement).value)}>
              {sites.length > 0 && (
                <optgroup label={t('analytics.siteSums')}>
                  {sites.map((a) => (
                    <option key={'site' + a.id} value={'site:' + a.id}>
                      {t('analytics.siteSum', { site: a.name })}
                    </option>
                  ))}
                </optgroup>
              )}
              <optgroup label={t('analytics.sensors')}>
                {sensors.map((s) => (
                  <option key={s.id} value={'sensor:' + s.id}>
                    {sensorLabel(s, assetById)}
                  </option>
                ))}
              </optgroup>
            </select>
            {formErr.sel && <small class="field-error">{formErr.sel}</small>}
          </div>
          <TextField id={ids.start} name="start" type="datetime-local" label={t('analytics.start')} value={start} onValue={setStart} error={formErr.start} />
          <TextField id={ids.end} name="end" type="datetime-local" label={t('analytics.end')} value={end} onValue={setEnd} error={formErr.end} />
          <SelectField
            id={ids.res}
            name="resolution"
            label={t('analytics.resolution')}
            value={res}
            onValue={setRes}
            options={RESOLUTIONS.map((r) => ({ value: r, label: r ? resolutionLabel(r) : t('analytics.ownResolution') }))}
          />
        </div>
        <div class="row">
          <span class="muted">{t('analytics.span')}:</span>
          {SPANS.map(([k, days]) => (
            <button key={k} type="button" class="small secondary" onClick={() => setSpan(days)}>
              {t(k as 'analytics.span1d')}
            </button>
          ))}
          <span class="muted">{t('common.timezone', { tz, offset: tzOffset(Date.now(), tz) })}</span>
        </div>
        <fieldset>
          <legend>{t('analytics.compare')}</legend>
          <div class="grid three">
            <TextField id={ids.prior} name="prior" type="datetime-local" label={t('analytics.prior')} hint={t('analytics.priorHint')} value={prior} onValue={setPrior} error={formErr.prior} />
            <TextField id={ids.source} name="source" label={t('analytics.source')} hint={t('analytics.sourceHint')} value={source} onValue={setSource} />
          </div>
          <div class="row">
            <button type="button" class="small secondary" onClick={() => shiftPrior(-24)}>
              {t('analytics.priorMinusDay')}
            </button>
            <button type="button" class="small secondary" onClick={() => shiftPrior(-1)}>
              {t('analytics.priorMinusHour')}
            </button>
            <button type="button" class="small secondary" onClick={() => shiftPrior(1)}>
              {t('analytics.priorPlusHour')}
            </button>
            <button type="button" class="small secondary" onClick={() => setPrior('')}>
              {t('analytics.priorClear')}
            </button>
            <label class="check">
              <input id={ids.sched} type="checkbox" checked={showSchedule} onChange={(e) => setShowSchedule((e.currentTarget as HTMLInputElement).checked)} />{' '}
              {t('analytics.showSchedule')}
            </label>
          </div>
        </fieldset>
        <div class="row">
          <button type="submit">{t('analytics.show')}</button>
          {data.loading && applied && <span class="muted">{t('common.loading')}</span>}
        </div>
      </form>

      <ErrorBox error={data.error} onRetry={data.reload} />

      {d && (
        <>
          <div class="card">
            <div class="row">
              <h2>{title}</h2>
              <span class="spacer" />
              <button type="button" class="small secondary" onClick={downloadCsv}>
                {t('common.downloadCsv')}
              </button>
              <button type="button" class="small secondary" onClick={downloadJson}>
                {t('analytics.downloadJson')}
              </button>
            </div>
            <p class="muted">
              {t('analytics.points', { n: formatNumber(d.x.length, 0), resolution: resolutionLabel(d.resolution), unit: d.unit })}
              {d.sensors.length > 1 ? ' · ' + t('analytics.sumOf', { n: d.sensors.length, names: d.sensors.map((s) => sensorLabel(s, assetById)).join(', ') }) : ''}
            </p>
            {d.x.length === 0 ? <p class="muted">{t('analytics.noData')}</p> : <SeriesChart x={d.x} series={series} unit={d.unit} tz={d.tz} label={title} height={340} bands={bands} />}
            {d.forecasts.length > 0 && (
              <ul class="forecast-legend" aria-label={t('analytics.fcLegend')}>
                {d.forecasts.map((f, k) => {
                  const color = forecastColor(k, !!d.compare);
                  return (
                    <li key={f.group.median.id} data-source={f.group.median.id} data-model={f.group.model}>
                      <span class="swatch line" style={{ borderColor: color }} aria-hidden="true" />
                      {t('analytics.fcLine', { model: f.group.model })}
                      {f.band ? (
                        <span data-band={f.group.p10?.id + '-' + f.group.p90?.id}>
                          {' · '}
                          <span class="swatch band" style={{ background: withAlpha(color, 0.2), borderColor: withAlpha(color, 0.5) }} aria-hidden="true" />
                          {t('analytics.fcBand')}
                        </span>
                      ) : (
                        <span class="muted"> · {t('analytics.fcNoBand')}</span>
                      )}
                      {applied?.prior ? <span class="muted"> · {t('analytics.knownAt', { at: formatInstant(applied.prior, d.tz) })}</span> : null}
                    </li>
                  );
                })}
              </ul>
            )}
            <p class="legend-note">{t('analytics.legendNote')}</p>
          </div>
          {metrics && (
            <div class="card">
              <h2>{t('analytics.metrics')}</h2>
              <dl class="kpis">
                <div>
                  <dt>{metrics.totalKind === 'energy' ? t('analytics.realisedEnergy') : t('analytics.realisedMean')}</dt>
                  <dd data-metric="total">{metrics.totalKind === 'energy' ? formatKWh(metrics.total) : metrics.total === null ? '–' : formatNumber(metrics.total, 2) + ' ' + d.unit}</dd>
                </div>
                <div>
                  <dt>{t('analytics.coverage')}</dt>
                  <dd>
                    {formatNumber(metrics.known, 0)} / {formatNumber(metrics.count, 0)}
                  </dd>
                </div>
                <div>
                  <dt>MAE</dt>
                  <dd data-metric="mae">{metrics.mae === null ? '–' : formatNumber(metrics.mae, 2) + ' ' + d.unit}</dd>
                </div>
                <div>
                  <dt>MAPE</dt>
                  <dd data-metric="mape">{formatPercent(metrics.mape)}</dd>
                </div>
                <div>
                  <dt>WAPE</dt>
                  <dd data-metric="wape">{formatPercent(metrics.wape)}</dd>
                </div>
              </dl>
              <p class="muted">{d.compare ? t('analytics.metricsPairs', { n: metrics.pairs }) : t('analytics.metricsNoForecast')}</p>
            </div>
          )}
        </>
      )}
      {!d && !data.loading && !data.error && applied && <p class="muted">{t('analytics.noData')}</p>}
      {appliedSensor && applied && (
        <>
          {mayForecast(me, appliedSensor.account_id) && <ForecastPanel key={'fc' + appliedSensor.id} sensorId={appliedSensor.id} tz={d?.tz || appliedSensor.timezone || tz} onDone={onForecastDone} />}
          <SourcesPanel sources={srcList.data} error={srcList.error} loading={srcList.loading} tz={d?.tz || appliedSensor.timezone || tz} onRetry={srcList.reload} />
          <AccuracyPanel key={'acc' + appliedSensor.id + '|' + applied.end} sensorId={appliedSensor.id} tz={appliedSensor.timezone || tz} windowEnd={applied.end} fileBase={'sensor-' + appliedSensor.id} />
        </>
      )}
    </section>
  );
}

interface Req {
  sel: string;
  start: string;
  end: string;
  res: string;
  prior: string;
  source: string;
  schedule: boolean;
}

/** The k-th forecast's colour (the replay line, when shown, keeps the first forecast colour). */
function forecastColor(k: number, compareShown: boolean): string {
  const palette = compareShown ? COLORS.extra : [COLORS.forecast, ...COLORS.extra];
  return palette[k % palette.length];
}

/** The sensors of a selection: one sensor, or a site's device power sensors (else its own). */
function selectionSensors(sel: string, sensors: SensorFull[], assets: AssetFull[]): SensorFull[] {
  if (sel.startsWith('sensor:')) {
    const s = sensors.find((x) => x.id === Number(sel.slice(7)));
    return s ? [s] : [];
  }
  if (sel.startsWith('site:')) {
    const site = Number(sel.slice(5));
    const devices = new Set(assets.filter((a) => a.parent_id === site && a.type !== 'meter').map((a) => a.id));
    const own = new Set([site, ...assets.filter((a) => a.parent_id === site && a.type === 'meter').map((a) => a.id)]);
    const power = sensors.filter((s) => unitKind(s.unit) === 'power');
    const dev = power.filter((s) => s.asset_id !== null && devices.has(s.asset_id));
    return dev.length ? dev : power.filter((s) => s.asset_id !== null && own.has(s.asset_id));
  }
  return [];
}

function sensorLabel(s: SensorFull, assets: Map<number, AssetFull>): string {
  const a = s.asset_id !== null ? assets.get(s.asset_id) : undefined;
  return (a ? a.name + ' · ' : '') + s.name + ' (' + s.unit + ')';
}

function selectionTitle(sel: string, sensors: SensorFull[], assets: Map<number, AssetFull>): string {
  if (sel.startsWith('site:')) return t('analytics.siteSum', { site: assets.get(Number(sel.slice(5)))?.name || sel });
  const s = sensors.find((x) => x.id === Number(sel.slice(7)));
  return s ? sensorLabel(s, assets) : sel;
}

function resolutionLabel(r: string): string {
  const ms = parseIsoDuration(r);
  if (!Number.isFinite(ms)) return r;
  const min = ms / 60000;
  if (min < 60) return t('analytics.minutes', { n: min });
  if (min < 1440) return t('analytics.hours', { n: min / 60 });
  return t('analytics.days', { n: min / 1440 });
}

/** The 7 local days ending at the end of tomorrow (market clock), as datetime-local values. */
function defaultWindow(tz: string): { start: string; end: string } {
  const now = marketNow();
  const p = zonedParts(now + 2 * 86400_000, tz);
  const endLocal = `${p.year}-${p.month}-${p.day}T00:00`;
  const endMs = Date.parse(fromLocalInput(endLocal, tz));
  return { start: toLocalInput(endMs - 7 * 86400_000, tz), end: endLocal };
}
