// Portfolio: per site and device kind the energy consumed and produced over a window; the
// flexible assets with their latest schedules, planned cost against the baseline and the
// savings; (re)planning a site as a job whose progress and failure reason are shown.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, qs, type Page } from '../api';
import { marketNow, useMarketNow } from '../clock';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, SelectField, TextField, validate } from '../components/Form';
import { StateBadge } from '../components/StateBadge';
import { Table, type Column } from '../components/Table';
import { formatInstant, formatKWh, formatMoney, fromLocalInput, localDate, parseIsoDuration, toLocalInput, tzOffset } from '../format';
import { useAsync, useInterval, usePaged } from '../hooks';
import { t, tDyn } from '../i18n';
import type { PageProps } from '../routes';
import { allPages, FLEXIBLE_TYPES, type AssetFull, type Schedule, type ScheduleSummary, type SensorFull } from '../lib2/apiTypes';
import { syncMarketClock } from '../lib2/clock2';
import { ceilTo, energyByKind, scheduleColumns, sumField, type DayEnergyLike, type KindEnergy } from '../lib2/series';
import { COLORS, SeriesChart, type SeriesSpec } from './analytics/SeriesChart';

export default function Portfolio({ query }: PageProps) {
  useMarketNow(60_000); // keeps the market clock sampled (the demo's runs 60x)
  const meta = useAsync(async () => {
    const [assets, sensors] = await Promise.all([
      allPages((p) => api<Page<AssetFull>>('GET', '/api/v1/assets' + qs({ page: p, per_page: 500 }))),
      allPages((p) => api<Page<SensorFull>>('GET', '/api/v1/sensors' + qs({ page: p, per_page: 500 }))),
      syncMarketClock(),
    ]);
    return { assets, sensors };
  }, []);
  const sites = meta.data ? meta.data.assets.filter((a) => a.type === 'site') : [];
  const [siteId, setSiteId] = useState<number | null>(query.get('site') ? Number(query.get('site')) : null);
  const site = sites.find((s) => s.id === siteId) || sites[0];
  const siteSel = useMemo(() => fieldId('site'), []);

  return (
    <section class="portfolio">
      <h1>{t('portfolio.title')}</h1>
      <ErrorBox error={meta.error} onRetry={meta.reload} />
      {meta.loading && !meta.data && <p class="muted">{t('common.loading')}</p>}
      {meta.data && sites.length === 0 && <p class="muted">{t('portfolio.noSites')}</p>}
      {site && meta.data && (
        <>
          <div class="row">
            <SelectField id={siteSel} name="site" label={t('portfolio.site')} value={String(site.id)} onValue={(v) => setSiteId(Number(v))} options={sites.map((s) => ({ value: String(s.id), label: s.name }))} />
            <span class="muted">{t('common.timezone', { tz: site.timezone, offset: tzOffset(marketNow(), site.timezone) })}</span>
          </div>
          {sites.length > 1 && <SitesCard sites={sites} onPick={setSiteId} />}
          <EnergyCard key={'e' + site.id} site={site} />
          <FlexCard key={'f' + site.id} site={site} assets={meta.data.assets} sensors={meta.data.sensors} />
        </>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- energy by kind

function EnergyCard({ site }: { site: AssetFull }) {
  const tz = site.timezone;
  const [endDate, setEndDate] = useState(() => localDate(marketNow(), tz));
  const [days, setDays] = useState('7');
  const [err, setErr] = useState<string | undefined>();
  const [req, setReq] = useState({ end: endDate, days: 7 });
  const ids = useMemo(() => ({ end: fieldId('end'), days: fieldId('days') }), []);
  const res = useAsync(
    () => api<{ days: DayEnergyLike[] }>('GET', `/api/v1/assets/${site.id}/power/daily` + qs({ end_date: req.end, days: req.days })),
    [site.id, req.end, req.days],
  );
  const submit = (e: Event) => {
    e.preventDefault();
    const v = validate.number(days, { min: 1, max: 366, step: 1 }) || (/^\d{4}-\d{2}-\d{2}$/.test(endDate) ? undefined : t('common.required'));
    setErr(v);
    if (!v) setReq({ end: endDate, days: Number(days) });
  };
  const list = res.data?.days || [];
  const kinds = useMemo(() => energyByKind(list), [list]);
  const kindCols: Column<KindEnergy>[] = [
    { key: 'kind', label: t('portfolio.kind'), render: (r) => kindLabel(r.kind) },
    { key: 'consumed', label: t('portfolio.consumed'), numeric: true, render: (r) => formatKWh(r.consumed) },
    { key: 'produced', label: t('portfolio.produced'), numeric: true, render: (r) => formatKWh(r.produced) },
    { key: 'net', label: t('portfolio.net'), numeric: true, render: (r) => formatKWh(r.net) },
    { key: 'days', label: t('portfolio.daysWithData'), numeric: true },
  ];
  const dayKinds = kinds.filter((k) => k.days > 0).map((k) => k.kind);
  const dayCols: Column<DayEnergyLike>[] = [
    { key: 'date', label: t('portfolio.date') },
    ...dayKinds.map((k) => ({ key: k, label: kindLabel(k), numeric: true, sortValue: (r: DayEnergyLike) => r.energy_kwh[k], render: (r: DayEnergyLike) => formatKWh(r.energy_kwh[k]) })),
    { key: 'consume_kwh', label: t('portfolio.usedOnSite'), numeric: true, render: (r) => formatKWh(r.consume_kwh) },
    { key: 'generate_kwh', label: t('portfolio.generated'), numeric: true, render: (r) => formatKWh(r.generate_kwh) },
  ];
  return (
    <div class="card">
      <h2>{t('portfolio.energy')}</h2>
      <form class="row" onSubmit={submit} noValidate>
        <TextField id={ids.end} name="end_date" type="date" label={t('portfolio.endDate')} value={endDate} onValue={setEndDate} />
        <TextField id={ids.days} name="days" type="number" min="1" max="366" label={t('portfolio.days')} value={days} onValue={setDays} error={err} />
        <button type="submit">{t('portfolio.showEnergy')}</button>
      </form>
      <ErrorBox error={res.error} onRetry={res.reload} />
      <dl class="kpis">
        <div>
          <dt>{t('portfolio.usedOnSite')}</dt>
          <dd data-kpi="consume">{formatKWh(sumField(list, 'consume_kwh'))}</dd>
        </div>
        <div>
          <dt>{t('portfolio.generated')}</dt>
          <dd data-kpi="generate">{formatKWh(sumField(list, 'generate_kwh'))}</dd>
        </div>
        <div>
          <dt>{t('portfolio.window')}</dt>
          <dd>{list.length ? `${list[0].date} – ${list[list.length - 1].date}` : '–'}</dd>
        </div>
      </dl>
      <Table columns={kindCols} rows={kinds} rowKey={(r) => r.kind} caption={t('portfolio.byKind')} loading={res.loading && !res.data} />
      <p class="legend-note">{t('portfolio.signNote')}</p>
      <details>
        <summary>{t('portfolio.perDay')}</summary>
        <Table columns={dayCols} rows={list} rowKey={(r) => r.date} initialSort={{ key: 'date', dir: 'desc' }} pageSize={31} />
      </details>
    </div>
  );
}

/** Every site side by side: the last 7 local days (market clock) of each. */
function SitesCard({ sites, onPick }: { sites: AssetFull[]; onPick: (id: number) => void }) {
  const res = useAsync(
    () =>
      Promise.all(
        sites.map((s) =>
          api<{ days: DayEnergyLike[] }>('GET', `/api/v1/assets/${s.id}/power/daily` + qs({ end_date: localDate(marketNow(), s.timezone), days: 7 })).then(
            (r) => ({ site: s, days: r.days, error: null as unknown }),
            (e) => ({ site: s, days: [] as DayEnergyLike[], error: e }),
          ),
        ),
      ),
    [sites.map((s) => s.id).join(',')],
  );
  type Row = { site: AssetFull; days: DayEnergyLike[]; error: unknown };
  const net = (r: Row) => energyByKind(r.days).find((k) => k.kind === 'net_load')?.net ?? null;
  return (
    <div class="card">
      <h2>{t('portfolio.allSites')}</h2>
      <ErrorBox error={res.error} onRetry={res.reload} />
      <Table<Row>
        columns={[
          {
            key: 'site',
            label: t('portfolio.site'),
            sortValue: (r) => r.site.name,
            render: (r) => (
              <button type="button" class="link" onClick={() => onPick(r.site.id)}>
                {r.site.name}
              </button>
            ),
          },
          { key: 'consume', label: t('portfolio.usedOnSite'), numeric: true, sortValue: (r) => sumField(r.days, 'consume_kwh'), render: (r) => formatKWh(sumField(r.days, 'consume_kwh')) },
          { key: 'generate', label: t('portfolio.generated'), numeric: true, sortValue: (r) => sumField(r.days, 'generate_kwh'), render: (r) => formatKWh(sumField(r.days, 'generate_kwh')) },
          { key: 'net', label: t('portfolio.kind.net_load'), numeric: true, sortValue: net, render: (r) => formatKWh(net(r)) },
          { key: 'error', label: '', sortable: false, wrap: true, render: (r) => (r.error ? <ErrorBox error={r.error} /> : null) },
        ]}
        rows={res.data || []}
        rowKey={(r) => r.site.id}
        loading={res.loading && !res.data}
        caption={t('portfolio.last7')}
      />
    </div>
  );
}

function kindLabel(k: string): string {
  return tDyn('portfolio.kind.' + k, k);
}

// ---------------------------------------------------------------- flexible assets and schedules

function FlexCard({ site, assets, sensors }: { site: AssetFull; assets: AssetFull[]; sensors: SensorFull[] }) {
  const tz = site.timezone;
  const devices = assets.filter((a) => a.parent_id === site.id && FLEXIBLE_TYPES.includes(a.type));
  const names = new Map(assets.map((a) => [a.id, a.name]));
  const list = usePaged((page, per) => api<Page<ScheduleSummary>>('GET', `/api/v1/assets/${site.id}/schedules` + qs({ page, per_page: per })), [site.id], 10);
  const latestDone = useAsync(async () => {
    const r = await api<Page<ScheduleSummary>>('GET', `/api/v1/assets/${site.id}/schedules` + qs({ state: 'done', per_page: 1 }));
    return r.items[0] ? api<Schedule>('GET', `/api/v1/schedules/${r.items[0].id}`) : null;
  }, [site.id]);
  const [shown, setShown] = useState<number | null>(null);
  const detail = useAsync(() => (shown ? api<Schedule>('GET', `/api/v1/schedules/${shown}`) : Promise.resolve(null)), [shown]);
  const current = shown ? detail.data : latestDone.data;

  // latest schedule per device (a site's schedule covers all its devices)
  const latestFor = (assetId: number): ScheduleSummary | undefined => (list.data?.items || []).find((s) => s.asset_id === assetId || s.asset_id === site.id);

  const devCols: Column<AssetFull>[] = [
    { key: 'name', label: t('portfolio.asset') },
    { key: 'type', label: t('portfolio.type'), render: (a) => tDyn('assets.type.' + a.type, a.type) },
    { key: 'capacity_kw', label: t('portfolio.capacity'), numeric: true, render: (a) => (a.capacity_kw === null ? '–' : a.capacity_kw + ' kW') },
    { key: 'storage_capacity_kwh', label: t('portfolio.storage'), numeric: true, render: (a) => formatKWh(a.storage_capacity_kwh ?? null) },
    {
      key: 'latest',
      label: t('portfolio.latestSchedule'),
      sortable: false,
      render: (a) => {
        const s = latestFor(a.id);
        return s ? (
          <button type="button" class="link" onClick={() => setShown(s.id)}>
            #{s.id} <StateBadge state={s.state} /> {formatInstant(s.start, tz)}
          </button>
        ) : (
          '–'
        );
      },
    },
  ];
  const schedCols: Column<ScheduleSummary>[] = [
    { key: 'id', label: '#', numeric: true },
    { key: 'asset_id', label: t('portfolio.asset'), render: (s) => names.get(s.asset_id) || String(s.asset_id) },
    { key: 'state', label: t('portfolio.state'), render: (s) => <StateBadge state={s.state} /> },
    { key: 'start', label: t('portfolio.start'), render: (s) => formatInstant(s.start, tz) },
    { key: 'end', label: t('portfolio.end'), render: (s) => formatInstant(s.end, tz) },
    { key: 'past_window', label: t('portfolio.past'), render: (s) => (s.past_window ? t('common.yes') : t('common.no')) },
    { key: 'error', label: t('portfolio.error'), wrap: true, render: (s) => s.error || '' },
    {
      key: 'show',
      label: '',
      sortable: false,
      render: (s) => (
        <button type="button" class="small secondary" onClick={() => setShown(s.id)} aria-label={t('portfolio.showSchedule', { id: s.id })}>
          {t('portfolio.show')}
        </button>
      ),
    },
  ];

  const reloadAll = () => {
    list.reload();
    latestDone.reload();
  };

  return (
    <>
      <div class="card">
        <h2>{t('portfolio.flexible')}</h2>
        {devices.length === 0 ? <p class="muted">{t('portfolio.noFlexible')}</p> : <Table columns={devCols} rows={devices} rowKey={(a) => a.id} />}
      </div>
      <PlanCard
        site={site}
        devices={devices}
        sensors={sensors}
        last={latestDone.data || null}
        ready={latestDone.data !== undefined || !latestDone.loading}
        onDone={(id, ok) => {
          reloadAll();
          if (ok) setShown(id);
        }}
      />
      <div class="card" id="schedule-detail">
        <h2>{shown ? t('portfolio.scheduleN', { id: shown }) : t('portfolio.latestPlan')}</h2>
        <ErrorBox error={shown ? detail.error : latestDone.error} />
        {current ? <ScheduleView s={current} tz={tz} names={names} /> : !(shown ? detail.loading : latestDone.loading) && <p class="muted">{t('portfolio.noSchedule')}</p>}
      </div>
      <div class="card">
        <h2>{t('portfolio.schedules')}</h2>
        <ErrorBox error={list.error} onRetry={list.reload} />
        <Table columns={schedCols} rows={list.data?.items || []} rowKey={(s) => s.id} server={list.server} loading={list.loading && !list.data} />
      </div>
    </>
  );
}

function ScheduleView({ s, tz, names }: { s: Schedule; tz: string; names: Map<number, string> }) {
  const cur = s.currency || 'TWD';
  const devices = s.devices || [];
  const cols = useMemo(() => (s.resolution ? scheduleColumns(s.start, s.resolution, devices) : null), [s]);
  const series: SeriesSpec[] = useMemo(() => {
    if (!cols) return [];
    const palette = [COLORS.schedule, COLORS.measured, ...COLORS.extra];
    const name = (d: (typeof devices)[number]) => d.name || names.get(d.asset_id) || '#' + d.asset_id;
    const power = devices.map((d, i) => ({ label: name(d) + ' (kW)', values: cols.ys[i], color: palette[i % 7], stepped: true }));
    // state of charge at the end of each slot, on a kWh axis
    const soc = devices
      .map((d, i) => ({ d, i }))
      .filter(({ d }) => d.soc_kwh && d.soc_kwh.length)
      .map(({ d, i }) => ({ label: t('portfolio.socOf', { name: name(d) }), values: cols.x.map((_, k) => d.soc_kwh![k] ?? null), color: palette[i % 7], dash: [4, 4], unit: 'kWh' }));
    return [...power, ...soc];
  }, [cols]);
  if (s.state !== 'done') {
    return (
      <div>
        <p>
          <StateBadge state={s.state} /> {formatInstant(s.start, tz)} – {formatInstant(s.end, tz)}
        </p>
        {s.error && <ErrorBox error={new Error(s.error)} />}
      </div>
    );
  }
  return (
    <div>
      <dl class="kpis">
        <div>
          <dt>{t('portfolio.plannedCost')}</dt>
          <dd data-kpi="planned">{formatMoney(s.planned_cost, cur)}</dd>
        </div>
        <div>
          <dt>{t('portfolio.baselineCost')}</dt>
          <dd data-kpi="baseline">{formatMoney(s.baseline_cost, cur)}</dd>
        </div>
        <div>
          <dt>{t('portfolio.savings')}</dt>
          <dd data-kpi="savings" class="savings">
            {formatMoney(s.savings, cur)}
          </dd>
        </div>
        <div>
          <dt>{t('portfolio.window')}</dt>
          <dd>
            {formatInstant(s.start, tz)} – {formatInstant(s.end, tz)}
          </dd>
        </div>
      </dl>
      {s.past_window && <p class="muted">{t('portfolio.pastWindow')}</p>}
      {(s.warnings || []).length > 0 && (
        <ul class="warnings">
          {s.warnings!.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
      <Table
        columns={[
          { key: 'asset_id', label: t('portfolio.asset'), render: (d) => d.name || names.get(d.asset_id) || String(d.asset_id) },
          { key: 'planned_cost', label: t('portfolio.plannedCost'), numeric: true, render: (d) => formatMoney(d.planned_cost, cur) },
          { key: 'baseline_cost', label: t('portfolio.baselineCost'), numeric: true, render: (d) => formatMoney(d.baseline_cost, cur) },
          {
            key: 'savings',
            label: t('portfolio.savings'),
            numeric: true,
            sortValue: (d) => (d.baseline_cost ?? 0) - (d.planned_cost ?? 0),
            render: (d) => (d.baseline_cost === null || d.baseline_cost === undefined || d.planned_cost === null || d.planned_cost === undefined ? '–' : formatMoney(d.baseline_cost - d.planned_cost, cur)),
          },
        ]}
        rows={devices}
        rowKey={(d) => d.asset_id}
      />
      {cols && cols.x.length > 0 && <SeriesChart x={cols.x} series={series} unit="kW" tz={tz} label={t('portfolio.planChart')} height={260} />}
      <p class="legend-note">{t('portfolio.planNote', { solver: s.solver || '–' })}</p>
    </div>
  );
}

// ---------------------------------------------------------------- planning

interface DevForm {
  soc: string;
  target: string;
  energy: string;
}

function PlanCard({
  site,
  devices,
  sensors,
  last,
  ready,
  onDone,
}: {
  site: AssetFull;
  devices: AssetFull[];
  sensors: SensorFull[];
  last: Schedule | null;
  /** the last plan has loaded: the form starts from its states of charge, not from empty batteries */
  ready: boolean;
  onDone: (id: number, ok: boolean) => void;
}) {
  const tz = site.timezone;
  const prices = sensors.filter((s) => /\/(k|M)?Wh$/.test(s.unit));
  const lastReq = (last?.request || {}) as { duration?: string; flex_context?: Record<string, unknown>; flex_model?: Record<string, unknown>[] };
  const lastModel = (id: number) => (Array.isArray(lastReq.flex_model) ? lastReq.flex_model.find((m) => m.asset_id === id) : undefined);
  const [open, setOpen] = useState(false);
  const [start, setStart] = useState('');
  // Half a day: prices (day-ahead) are known that far on the demo at any hour.
  const [duration, setDuration] = useState(lastReq.duration || 'PT12H');
  const [price, setPrice] = useState(String(lastReq.flex_context?.consumption_price_sensor ?? prices[0]?.id ?? ''));
  const [cap, setCap] = useState(String(lastReq.flex_context?.site_power_capacity_kw ?? site.capacity_kw ?? ''));
  const [dev, setDev] = useState<Record<number, DevForm>>({});
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [job, setJob] = useState<Schedule | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = useMemo(() => ({ start: fieldId('pstart'), dur: fieldId('pdur'), price: fieldId('pprice'), cap: fieldId('pcap') }), []);

  const openForm = () => {
    // the next quarter-hour with a margin: on a simulated clock (60x) the job must start before the window does
    setStart(toLocalInput(ceilTo(marketNow() + 900_000, 900_000), tz));
    const d: Record<number, DevForm> = {};
    for (const a of devices) {
      const m = lastModel(a.id) as { soc_at_start?: number; soc_targets?: { min?: number; value?: number }[]; energy_kwh?: number } | undefined;
      const tgt = m?.soc_targets?.[0];
      d[a.id] = {
        soc: m?.soc_at_start !== undefined ? String(m.soc_at_start) : a.soc_min_kwh !== null && a.soc_min_kwh !== undefined ? String(a.soc_min_kwh) : '0',
        target: tgt ? String(tgt.min ?? tgt.value ?? '') : a.storage_capacity_kwh ? String(Math.round(a.storage_capacity_kwh * 0.75)) : '',
        energy: m?.energy_kwh !== undefined ? String(m.energy_kwh) : '',
      };
    }
    setDev(d);
    setOpen(true);
  };

  // poll the job until it ends
  const polling = !!job && (job.state === 'queued' || job.state === 'running');
  useInterval(
    () => {
      if (!job) return;
      api<Schedule>('GET', `/api/v1/schedules/${job.id}`).then(
        (s) => {
          setJob(s);
          if (s.state !== 'queued' && s.state !== 'running') onDone(s.id, s.state === 'done');
        },
        (e) => setApiErr(e),
      );
    },
    polling ? 1000 : null,
  );
  useEffect(() => setJob(null), [site.id]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const er: Record<string, string | undefined> = {};
    let startIso = '';
    try {
      startIso = fromLocalInput(start, tz);
    } catch {
      er.start = t('common.required');
    }
    const durMs = parseIsoDuration(duration);
    if (!Number.isFinite(durMs) || durMs <= 0) er.duration = t('common.mustBeDuration');
    else if (durMs > 7 * 86400_000) er.duration = t('portfolio.durationMax');
    if (!price) er.price = t('common.required');
    if (cap.trim()) er.cap = validate.number(cap, { positive: true });
    const model: Record<string, unknown>[] = [];
    for (const a of devices) {
      const f = dev[a.id] || { soc: '', target: '', energy: '' };
      if (a.type === 'shiftable_load') {
        er['e' + a.id] = validate.number(f.energy, { positive: true });
        model.push({ asset_id: a.id, energy_kwh: Number(f.energy) });
        continue;
      }
      er['s' + a.id] = validate.number(f.soc, { min: 0 });
      const m: Record<string, unknown> = { asset_id: a.id, soc_at_start: Number(f.soc) };
      if (a.type.startsWith('ev_charger')) {
        er['t' + a.id] = validate.number(f.target, { min: 0 });
        if (!er.start && !er.duration && !er['t' + a.id]) m.soc_targets = [{ datetime: new Date(Date.parse(startIso) + durMs).toISOString().replace('.000Z', 'Z'), min: Number(f.target) }];
      }
      model.push(m);
    }
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    const body = {
      start: startIso,
      duration,
      flex_model: model,
      flex_context: { consumption_price_sensor: Number(price), ...(cap.trim() ? { site_power_capacity_kw: Number(cap) } : {}) },
    };
    setApiErr(null);
    setBusy(true);
    try {
      const q = await api<{ id: number; state: string }>('POST', `/api/v1/assets/${site.id}/schedules`, body);
      setJob({ id: q.id, state: q.state } as Schedule);
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };

  const cancel = () => {
    if (!job) return;
    api('DELETE', `/api/v1/schedules/${job.id}`).then(
      () => api<Schedule>('GET', `/api/v1/schedules/${job.id}`).then(setJob),
      (e) => setApiErr(e),
    );
  };

  const setDevField = (id: number, k: keyof DevForm, v: string) => setDev((d) => ({ ...d, [id]: { ...(d[id] || { soc: '', target: '', energy: '' }), [k]: v } }));

  return (
    <div class="card plan">
      <div class="row">
        <h2>{t('portfolio.plan')}</h2>
        <span class="spacer" />
        {!open && (
          <button type="button" onClick={openForm} disabled={devices.length === 0 || !ready} data-action="plan">
            {last ? t('portfolio.replan') : t('portfolio.planSite')}
          </button>
        )}
      </div>
      {devices.length === 0 && <p class="muted">{t('portfolio.noFlexible')}</p>}
      {open && (
        <form onSubmit={submit} noValidate>
          <p class="muted">{t('portfolio.planHint')}</p>
          <div class="grid three">
            <TextField id={ids.start} name="start" type="datetime-local" label={t('portfolio.start')} value={start} onValue={setStart} error={errs.start} />
            <TextField id={ids.dur} name="duration" label={t('portfolio.duration')} hint={t('portfolio.durationHint')} value={duration} onValue={setDuration} error={errs.duration} />
            <SelectField id={ids.price} name="price" label={t('portfolio.priceSensor')} value={price} onValue={setPrice} error={errs.price} options={prices.map((p) => ({ value: String(p.id), label: `${p.name} (${p.unit})` }))} />
            <TextField id={ids.cap} name="capacity" type="number" label={t('portfolio.siteCapacity')} value={cap} onValue={setCap} error={errs.cap} />
          </div>
          {devices.map((a) => {
            const f = dev[a.id] || { soc: '', target: '', energy: '' };
            return (
              <fieldset key={a.id}>
                <legend>
                  {a.name} ({tDyn('assets.type.' + a.type, a.type)})
                </legend>
                <div class="grid three">
                  {a.type === 'shiftable_load' ? (
                    <TextField id={'pe' + a.id} type="number" label={t('portfolio.energyKwh')} value={f.energy} onValue={(v) => setDevField(a.id, 'energy', v)} error={errs['e' + a.id]} />
                  ) : (
                    <TextField id={'ps' + a.id} type="number" label={t('portfolio.socAtStart')} value={f.soc} onValue={(v) => setDevField(a.id, 'soc', v)} error={errs['s' + a.id]} />
                  )}
                  {a.type.startsWith('ev_charger') && (
                    <TextField id={'pt' + a.id} type="number" label={t('portfolio.targetAtEnd')} value={f.target} onValue={(v) => setDevField(a.id, 'target', v)} error={errs['t' + a.id]} />
                  )}
                </div>
              </fieldset>
            );
          })}
          <div class="row">
            <button type="submit" disabled={busy || polling}>
              {t('portfolio.submitPlan')}
            </button>
            <button type="button" class="secondary" onClick={() => setOpen(false)}>
              {t('common.close')}
            </button>
          </div>
        </form>
      )}
      <ErrorBox error={apiErr} />
      {job && (
        <div class="job-progress" role="status" data-job={job.id} data-state={job.state}>
          <p>
            {t('portfolio.job', { id: job.id })}: <StateBadge state={job.state} />
            {job.cancel_requested ? ' ' + t('portfolio.cancelRequested') : ''}
            {polling && <span class="muted"> {t('portfolio.working')}</span>}
          </p>
          {polling && (
            <button type="button" class="small danger" onClick={cancel}>
              {t('portfolio.cancelJob')}
            </button>
          )}
          {job.state === 'failed' && <ErrorBox error={new Error(job.error || t('portfolio.failedNoReason'))} />}
          {job.state === 'done' && <Notice text={t('portfolio.doneSavings', { savings: formatMoney(job.savings, job.currency || 'TWD') })} />}
        </div>
      )}
    </div>
  );
}
