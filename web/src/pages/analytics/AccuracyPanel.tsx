// "Accuracy": a rolling-origin backtest of a sensor's forecasts (GET /sensors/{id}/forecast-accuracy)
// over a period (default the 28 days before the chart's window end) with a model: per horizon
// MAE, RMSE (in the unit), MAPE, WAPE (%) and the skill against the seasonal naive; CSV download.
import { useMemo, useState } from 'preact/hooks';
import { api, qs } from '../../api';
import { CsvButton } from '../../components/CsvButton';
import { ErrorBox } from '../../components/ErrorBox';
import { fieldId, SelectField, TextField } from '../../components/Form';
import { Table, type Column } from '../../components/Table';
import { formatIsoDuration, formatNumber, fromLocalInput, toLocalInput } from '../../format';
import { t, tDyn } from '../../i18n';
import { accuracyPeriodProblem, accuracyRows, defaultAccuracyPeriod, FORECAST_MODELS, formatAccuracyCell, groupNotes, type Accuracy, type AccuracyRow } from '../../lib2/forecasts';

interface Props {
  sensorId: number;
  tz: string;
  /** The chart window's end (ISO): the period ends there by default. */
  windowEnd: string;
  fileBase: string;
}

export function AccuracyPanel({ sensorId, tz, windowEnd, fileBase }: Props) {
  const initial = useMemo(() => defaultAccuracyPeriod(Date.parse(windowEnd)), [windowEnd]);
  const [model, setModel] = useState('auto');
  const [start, setStart] = useState(toLocalInput(initial.start, tz));
  const [end, setEnd] = useState(toLocalInput(initial.end, tz));
  const [errs, setErrs] = useState<{ start?: string; end?: string }>({});
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [result, setResult] = useState<{ a: Accuracy; path: string } | null>(null);
  const ids = useMemo(() => ({ model: fieldId('acc_model'), start: fieldId('acc_start'), end: fieldId('acc_end') }), []);

  const run = async (ev: Event) => {
    ev.preventDefault();
    let s = '';
    let e = '';
    const fe: { start?: string; end?: string } = {};
    try {
      s = fromLocalInput(start, tz);
    } catch {
      fe.start = t('analytics.badInstant');
    }
    try {
      e = fromLocalInput(end, tz);
    } catch {
      fe.end = t('analytics.badInstant');
    }
    if (s && e) {
      const p = accuracyPeriodProblem(Date.parse(s), Date.parse(e));
      if (p === 'order') fe.end = t('analytics.endAfterStart');
      if (p === 'tooLong') fe.end = t('analytics.accTooLong');
    }
    setErrs(fe);
    if (fe.start || fe.end) return;
    const path = `/api/v1/sensors/${sensorId}/forecast-accuracy` + qs({ start: s, end: e, model });
    setErr(null);
    setBusy(true);
    try {
      const a = await api<Accuracy>('GET', path);
      setResult({ a, path });
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };

  const a = result?.a;
  const unit = a?.unit || '';
  const cell = (k: 'unit' | 'pct' | 'skill' | 'count') => (v: number | null | undefined) => formatAccuracyCell(v, k, unit, formatNumber);
  const columns: Column<AccuracyRow>[] = [
    { key: 'horizon', label: t('analytics.fcHorizon'), sortable: false, render: (r) => (r.horizon ? formatIsoDuration(r.horizon) : t('analytics.accOverall')) },
    { key: 'events', label: t('analytics.fcEvents'), numeric: true, sortable: false, render: (r) => cell('count')(r.events) },
    { key: 'mae', label: 'MAE', numeric: true, sortable: false, render: (r) => cell('unit')(r.mae) },
    { key: 'rmse', label: 'RMSE', numeric: true, sortable: false, render: (r) => cell('unit')(r.rmse) },
    { key: 'mape', label: 'MAPE', numeric: true, sortable: false, render: (r) => cell('pct')(r.mape) },
    { key: 'wape', label: 'WAPE', numeric: true, sortable: false, render: (r) => cell('pct')(r.wape) },
    { key: 'seasonal_naive_wape', label: t('analytics.accNaiveWape'), numeric: true, sortable: false, render: (r) => cell('pct')(r.seasonal_naive_wape) },
    { key: 'skill', label: t('analytics.accSkill'), numeric: true, sortable: false, render: (r) => cell('skill')(r.skill) },
  ];
  const rows = a ? accuracyRows(a) : [];
  const notes = groupNotes(a?.notes);
  const chosen = a ? Object.entries(a.models_chosen || {}).sort((x, y) => y[1] - x[1]) : [];

  return (
    <section class="card accuracy" aria-labelledby="h-accuracy">
      <h2 id="h-accuracy">{t('analytics.accTitle')}</h2>
      <form onSubmit={run} noValidate class="accuracy-form">
        <p class="muted">{t('analytics.accHint')}</p>
        <div class="grid three">
          <SelectField id={ids.model} name="acc_model" label={t('analytics.fcModel')} value={model} onValue={setModel} options={FORECAST_MODELS.map((m) => ({ value: m, label: tDyn('analytics.model.' + m, m) }))} />
          <TextField id={ids.start} name="acc_start" type="datetime-local" label={t('analytics.start')} value={start} onValue={setStart} error={errs.start} />
          <TextField id={ids.end} name="acc_end" type="datetime-local" label={t('analytics.end')} value={end} onValue={setEnd} error={errs.end} />
        </div>
        <div class="row">
          <button type="submit" disabled={busy} data-action="accuracy">
            {t('analytics.accRun')}
          </button>
          {busy && <span class="muted">{t('analytics.accRunning')}</span>}
          {result && <CsvButton path={result.path} filename={`${fileBase}-accuracy.csv`} />}
        </div>
      </form>
      <ErrorBox error={err} />
      {a && (
        <div class="accuracy-result" data-model={a.model}>
          <p class="muted">{t('analytics.accSummary', { model: tDyn('analytics.model.' + a.model, a.model), origins: a.origins, origin: a.origin, tz: a.timezone, unit: a.unit })}</p>
          {rows.length === 0 ? (
            <p class="muted">{t('analytics.accNoEvents')}</p>
          ) : (
            <Table columns={columns} rows={rows} rowKey={(r) => r.horizon || 'all'} rowClass={(r) => (r.horizon ? undefined : 'total')} pageSize={50} />
          )}
          <p class="legend-note">{t('analytics.accExplain')}</p>
          {chosen.length > 0 && (
            <p>
              {t('analytics.accChosen')}: {chosen.map(([m, n]) => `${m} × ${n}`).join(', ')}
            </p>
          )}
          {notes.length > 0 && (
            <div class="notes">
              <h3>{t('analytics.fcNotes')}</h3>
              <ul>
                {notes.map((n) => (
                  <li key={n.text}>
                    {n.text}
                    {n.count > 1 ? ' ' + t('analytics.times', { n: n.count }) : ''}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
