// "Forecast": request a forecast for one sensor (POST /sensors/{id}/forecasts: model, duration),
// follow the job (GET /forecasts/{id} every second until it ends), show the model used, each
// horizon bucket's choice and reason, notes and the failure reason; then the page reloads the chart.
import { useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Notice } from '../../components/ErrorBox';
import { fieldId, SelectField, TextField } from '../../components/Form';
import { StateBadge } from '../../components/StateBadge';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatIsoDuration, formatNumber, parseIsoDuration } from '../../format';
import { useInterval } from '../../hooks';
import { t, tDyn } from '../../i18n';
import { FORECAST_MODELS, groupNotes, TERMINAL_STATES, type ForecastBucket, type ForecastJob } from '../../lib2/forecasts';

interface Props {
  sensorId: number;
  tz: string;
  /** The job ended done: reload what shows the forecast. */
  onDone: (job: ForecastJob) => void;
}

export function ForecastPanel({ sensorId, tz, onDone }: Props) {
  const [open, setOpen] = useState(false);
  const [model, setModel] = useState('auto');
  const [duration, setDuration] = useState('PT48H');
  const [durErr, setDurErr] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [job, setJob] = useState<ForecastJob | null>(null);
  const ids = useMemo(() => ({ model: fieldId('fc_model'), dur: fieldId('fc_duration') }), []);

  const reported = useRef<number | null>(null);
  const polling = !!job && !TERMINAL_STATES.includes(job.state);
  useInterval(
    () => {
      if (!job) return;
      api<ForecastJob>('GET', `/api/v1/forecasts/${job.id}`).then(
        (j) => {
          setJob(j);
          if (j.state === 'done' && reported.current !== j.id) {
            reported.current = j.id;
            onDone(j);
          }
        },
        (e) => {
          setApiErr(e);
          setJob((cur) => (cur ? { ...cur, state: 'failed', error: (e as Error).message } : cur));
        },
      );
    },
    polling ? 1000 : null,
  );

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const d = duration.trim();
    const ms = parseIsoDuration(d);
    if (!d || !Number.isFinite(ms) || ms <= 0) {
      setDurErr(t('common.mustBeDuration'));
      return;
    }
    setDurErr(undefined);
    setApiErr(null);
    setBusy(true);
    try {
      const q = await api<{ id: number; state: string }>('POST', `/api/v1/sensors/${sensorId}/forecasts`, { model, duration: d });
      setJob({ id: q.id, state: q.state, sensor_id: sensorId });
    } catch (e) {
      setApiErr(e);
    } finally {
      setBusy(false);
    }
  };

  const cancel = () => {
    if (!job) return;
    api('DELETE', `/api/v1/forecasts/${job.id}`).then(
      () => api<ForecastJob>('GET', `/api/v1/forecasts/${job.id}`).then(setJob),
      (e) => setApiErr(e),
    );
  };

  const bucketCols: Column<ForecastBucket>[] = [
    { key: 'horizon', label: t('analytics.fcHorizon'), render: (b) => formatIsoDuration(b.horizon), sortValue: (b) => parseIsoDuration(b.horizon) },
    { key: 'events', label: t('analytics.fcEvents'), numeric: true },
    { key: 'model', label: t('analytics.fcModel'), render: (b) => b.model + (b.variant ? ' (' + b.variant + ')' : ''), wrap: true },
    { key: 'selection_wape', label: t('analytics.fcSelectionWape'), numeric: true, render: (b) => (b.selection_wape === null || b.selection_wape === undefined ? '–' : formatNumber(b.selection_wape * 100, 1) + ' %') },
    { key: 'reason', label: t('analytics.fcReason'), wrap: true, sortable: false, render: (b) => b.reason || '–' },
  ];
  const notes = groupNotes(job?.notes);

  return (
    <section class="card forecast" aria-labelledby="h-forecast">
      <div class="row">
        <h2 id="h-forecast">{t('analytics.fcTitle')}</h2>
        <span class="spacer" />
        {!open && (
          <button type="button" onClick={() => setOpen(true)} data-action="forecast">
            {t('analytics.fcRequest')}
          </button>
        )}
      </div>
      {open && (
        <form onSubmit={submit} noValidate class="forecast-form">
          <p class="muted">{t('analytics.fcHint')}</p>
          <div class="grid three">
            <SelectField id={ids.model} name="fc_model" label={t('analytics.fcModel')} value={model} onValue={setModel} options={FORECAST_MODELS.map((m) => ({ value: m, label: tDyn('analytics.model.' + m, m) }))} />
            <TextField id={ids.dur} name="fc_duration" label={t('analytics.fcDuration')} hint={t('analytics.fcDurationHint')} value={duration} onValue={setDuration} error={durErr} />
          </div>
          <div class="row">
            <button type="submit" disabled={busy || polling}>
              {t('analytics.fcSubmit')}
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
            {t('analytics.fcJob', { id: job.id })}: <StateBadge state={job.state} />
            {polling && <span class="muted"> {t('analytics.fcWorking')}</span>}
          </p>
          {polling && (
            <button type="button" class="small danger" onClick={cancel}>
              {t('common.cancel')}
            </button>
          )}
          {job.state === 'failed' && <ErrorBox error={new Error(job.error || t('analytics.fcFailedNoReason'))} />}
          {job.state === 'done' && (
            <>
              <Notice
                text={t('analytics.fcDone', {
                  model: job.model || '–',
                  start: job.start ? formatInstant(job.start, tz) : '–',
                  end: job.end ? formatInstant(job.end, tz) : '–',
                })}
              />
              <dl class="kpis">
                <div>
                  <dt>{t('analytics.fcModelUsed')}</dt>
                  <dd data-kpi="model">{job.model || '–'}</dd>
                </div>
                <div>
                  <dt>{t('analytics.fcModelRequested')}</dt>
                  <dd>{job.model_requested || '–'}</dd>
                </div>
                <div>
                  <dt>{t('analytics.fcAsOf')}</dt>
                  <dd>{job.as_of ? formatInstant(job.as_of, tz) : '–'}</dd>
                </div>
                <div>
                  <dt>{t('analytics.fcStored')}</dt>
                  <dd>{job.stored_beliefs === undefined ? '–' : formatNumber(job.stored_beliefs, 0)}</dd>
                </div>
              </dl>
              {job.fallback_reason && <p class="fallback">{t('analytics.fcFallback', { reason: job.fallback_reason })}</p>}
              {job.buckets && job.buckets.length > 0 && <Table columns={bucketCols} rows={job.buckets} rowKey={(b) => b.horizon} caption={t('analytics.fcBuckets')} />}
            </>
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
