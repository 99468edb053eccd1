// The sensors of one asset: create, edit, delete; per sensor a chart of the last days and a CSV
// upload whose refused lines are listed with their numbers (ErrorBox shows error.lines).
import { useMemo, useState } from 'preact/hooks';
import { api, qs } from '../../api';
import { marketNow } from '../../clock';
import { ErrorBox, Notice } from '../../components/ErrorBox';
import { fieldId, SelectField, TextField, validate } from '../../components/Form';
import { Table } from '../../components/Table';
import { parseIsoDuration } from '../../format';
import { useAsync } from '../../hooks';
import { t } from '../../i18n';
import type { AssetFull, SensorFull } from '../../lib2/apiTypes';
import { alignSeries, type SeriesData } from '../../lib2/series';
import { COLORS, SeriesChart } from '../analytics/SeriesChart';

const UNITS = ['kW', 'W', 'MW', 'kWh', 'MWh', 'TWD/kWh', 'TWD/MWh', '°C', 'W/m²', 'm/s', '%'];
const CSV_FORMATS = ['generic', 'abri_bems', 'carlab_bems', 'ncku_bems'];

/** asset null: the sensors that belong to no asset (prices, weather). */
export function SensorPanel({ asset, sensors, canPublish, onChanged }: { asset: AssetFull | null; sensors: SensorFull[]; canPublish: boolean; onChanged: () => void }) {
  const [editing, setEditing] = useState<SensorFull | 'new' | null>(null);
  const [selected, setSelected] = useState<number | null>(sensors[0]?.id ?? null);
  const [delErr, setDelErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const sel = sensors.find((s) => s.id === selected) || null;

  const del = async (s: SensorFull) => {
    if (!confirm(t('assets.confirmDeleteSensor', { name: s.name }))) return;
    setDelErr(null);
    try {
      await api('DELETE', `/api/v1/sensors/${s.id}`);
      setNote(t('assets.sensorDeleted', { name: s.name }));
      if (selected === s.id) setSelected(null);
      onChanged();
    } catch (e) {
      setDelErr(e);
    }
  };

  return (
    <div class="card sensors">
      <div class="row">
        <h2>{asset ? t('assets.sensorsOf', { name: asset.name }) : t('assets.unattached')}</h2>
        <span class="spacer" />
        <button type="button" class="small" onClick={() => setEditing('new')}>
          {t('assets.newSensor')}
        </button>
      </div>
      <Notice text={note} />
      <ErrorBox error={delErr} />
      {editing && (
        <SensorForm
          asset={asset}
          sensor={editing === 'new' ? null : editing}
          canPublish={canPublish}
          onCancel={() => setEditing(null)}
          onSaved={(s) => {
            setEditing(null);
            setSelected(s.id);
            setNote(t('common.saved'));
            onChanged();
          }}
        />
      )}
      <Table
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'name', label: t('assets.name') },
          { key: 'unit', label: t('assets.unit') },
          { key: 'event_resolution', label: t('assets.resolution') },
          { key: 'timezone', label: t('assets.timezone') },
          { key: 'public', label: t('assets.public'), render: (s) => (s.public ? t('common.yes') : t('common.no')) },
          {
            key: 'actions',
            label: '',
            sortable: false,
            render: (s) => (
              <span class="actions">
                <button type="button" class="small secondary" aria-pressed={selected === s.id} onClick={() => setSelected(s.id)}>
                  {t('assets.chartUpload')}
                </button>
                <button type="button" class="small secondary" onClick={() => setEditing(s)}>
                  {t('common.edit')}
                </button>
                <button type="button" class="small danger" onClick={() => del(s)}>
                  {t('common.delete')}
                </button>
              </span>
            ),
          },
        ]}
        rows={sensors}
        rowKey={(s) => s.id}
        rowClass={(s) => (s.id === selected ? 'selected' : undefined)}
        empty={t('assets.noSensors')}
      />
      {sel && <SensorDetail key={sel.id} sensor={sel} />}
    </div>
  );
}

function SensorForm({ asset, sensor, canPublish, onSaved, onCancel }: { asset: AssetFull | null; sensor: SensorFull | null; canPublish: boolean; onSaved: (s: SensorFull) => void; onCancel: () => void }) {
  const [name, setName] = useState(sensor?.name || '');
  const [unit, setUnit] = useState(sensor?.unit || 'kW');
  const [res, setRes] = useState(sensor?.event_resolution || 'PT15M');
  const [tz, setTz] = useState(sensor?.timezone || asset?.timezone || 'UTC');
  const [pub, setPub] = useState(!!sensor?.public);
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const base = useMemo(() => fieldId('sensor'), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const ms = parseIsoDuration(res);
    const er = {
      name: validate.required(name),
      unit: validate.required(unit),
      res: !Number.isFinite(ms) || ms < 1000 || ms > 86400_000 ? t('assets.resolutionRange') : undefined,
      tz: validate.required(tz),
    };
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setApiErr(null);
    try {
      const body: Record<string, unknown> = sensor ? { name: name.trim(), timezone: tz.trim() } : { name: name.trim(), unit: unit.trim(), event_resolution: res.trim(), timezone: tz.trim(), ...(asset ? { asset_id: asset.id } : {}) };
      if (!sensor && asset && canPublish) body.account_id = asset.account_id;
      if (canPublish) body.public = pub;
      const s = sensor ? await api<SensorFull>('PATCH', `/api/v1/sensors/${sensor.id}`, body) : await api<SensorFull>('POST', '/api/v1/sensors', body);
      onSaved(s);
    } catch (x) {
      setApiErr(x);
    }
  };
  return (
    <form class="sensor-form" onSubmit={submit} noValidate>
      <h3>{sensor ? t('assets.editSensor', { name: sensor.name }) : t('assets.newSensor')}</h3>
      <div class="grid three">
        <TextField id={base + '-name'} name="name" label={t('assets.name')} value={name} onValue={setName} error={errs.name} />
        <TextField id={base + '-unit'} name="unit" label={t('assets.unit')} list={base + '-units'} value={unit} onValue={setUnit} error={errs.unit} disabled={!!sensor} hint={sensor ? t('assets.fixed') : undefined} />
        <datalist id={base + '-units'}>
          {UNITS.map((u) => (
            <option key={u} value={u} />
          ))}
        </datalist>
        <TextField id={base + '-res'} name="event_resolution" label={t('assets.resolution')} value={res} onValue={setRes} error={errs.res} disabled={!!sensor} hint={sensor ? t('assets.fixed') : t('assets.resolutionHint')} />
        <TextField id={base + '-tz'} name="timezone" label={t('assets.timezone')} value={tz} onValue={setTz} error={errs.tz} />
      </div>
      {canPublish && (
        <label class="check">
          <input type="checkbox" checked={pub} onChange={(e) => setPub((e.currentTarget as HTMLInputElement).checked)} /> {t('assets.public')}
        </label>
      )}
      <ErrorBox error={apiErr} />
      <div class="row">
        <button type="submit">{sensor ? t('common.save') : t('common.create')}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

function SensorDetail({ sensor }: { sensor: SensorFull }) {
  const [days, setDays] = useState(7);
  const [version, setVersion] = useState(0);
  const series = useAsync(() => {
    const end = Math.ceil((marketNow() + 86400_000) / 3600_000) * 3600_000;
    const start = end - days * 86400_000;
    return api<SeriesData>('GET', `/api/v1/sensors/${sensor.id}/data` + qs({ start: new Date(start).toISOString(), end: new Date(end).toISOString() }));
  }, [sensor.id, days, version]);
  const aligned = useMemo(() => (series.data ? alignSeries([series.data]) : null), [series.data]);
  const tz = sensor.timezone || 'UTC';
  const known = aligned ? aligned.ys[0].filter((v) => v !== null).length : 0;
  return (
    <div class="sensor-detail" data-sensor={sensor.id}>
      <div class="row">
        <h3>
          {sensor.name} ({sensor.unit}, {sensor.event_resolution})
        </h3>
        <span class="spacer" />
        {[1, 7, 30].map((d) => (
          <button key={d} type="button" class="small secondary" aria-pressed={days === d} onClick={() => setDays(d)}>
            {t('assets.lastDays', { n: d })}
          </button>
        ))}
      </div>
      <ErrorBox error={series.error} onRetry={series.reload} />
      {aligned && (
        <>
          <p class="muted">{t('assets.pointsKnown', { known, n: aligned.x.length })}</p>
          <SeriesChart x={aligned.x} series={[{ label: sensor.name, values: aligned.ys[0], color: COLORS.measured, stepped: sensor.unit.includes('/') }]} unit={sensor.unit} tz={tz} label={t('assets.chartOf', { name: sensor.name })} height={220} />
        </>
      )}
      <CsvUpload sensor={sensor} onStored={() => setVersion((v) => v + 1)} />
    </div>
  );
}

function CsvUpload({ sensor, onStored }: { sensor: SensorFull; onStored: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState('generic');
  const [tz, setTz] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [fileErr, setFileErr] = useState<string | undefined>();
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const base = useMemo(() => fieldId('csv'), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    setErr(null);
    if (!file) {
      setFileErr(t('assets.chooseFile'));
      return;
    }
    setFileErr(undefined);
    setBusy(true);
    try {
      const text = await file.text();
      const r = await api<{ received?: number; stored?: number }>('POST', `/api/v1/sensors/${sensor.id}/data` + qs({ format, timezone: tz.trim() || undefined }), undefined, {
        raw: text,
        headers: { 'Content-Type': 'text/csv' },
      });
      setResult(t('assets.uploaded', { received: r?.received ?? 0, stored: r?.stored ?? 0 }));
      onStored();
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="csv-upload" onSubmit={submit} noValidate>
      <h4>{t('assets.upload')}</h4>
      <div class="grid three">
        <div class={'field' + (fileErr ? ' invalid' : '')}>
          <label for={base + '-file'}>{t('assets.csvFile')}</label>
          <input id={base + '-file'} name="file" type="file" accept=".csv,text/csv,text/plain" onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] || null)} />
          {fileErr && (
            <small class="field-error" role="alert">
              {fileErr}
            </small>
          )}
        </div>
        <SelectField id={base + '-fmt'} name="format" label={t('assets.csvFormat')} value={format} onValue={setFormat} options={CSV_FORMATS.map((f) => ({ value: f, label: f }))} />
        <TextField id={base + '-tz'} name="timezone" label={t('assets.csvTimezone')} hint={t('assets.csvTimezoneHint', { tz: sensor.timezone })} value={tz} onValue={setTz} />
      </div>
      <p class="hint">{t('assets.csvHint')}</p>
      <div class="row">
        <button type="submit" disabled={busy}>
          {busy ? t('common.loading') : t('assets.uploadButton')}
        </button>
      </div>
      <Notice text={result} />
      <ErrorBox error={err} />
    </form>
  );
}
