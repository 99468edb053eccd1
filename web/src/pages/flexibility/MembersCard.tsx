// A portfolio's members with their consent state: owners accept, refuse or leave; the
// aggregator invites assets (with their terms as JSON) and lets members go. Also the members'
// setpoints for the coming day.
import { useMemo, useState } from 'preact/hooks';
import { api, qs } from '../../api';
import { marketNow } from '../../clock';
import { ErrorBox, Notice } from '../../components/ErrorBox';
import { Field, fieldId, TextField, validate } from '../../components/Form';
import { StateBadge } from '../../components/StateBadge';
import { Table, type Column } from '../../components/Table';
import { formatInstant, formatKWh } from '../../format';
import { useAsync } from '../../hooks';
import { t, tDyn } from '../../i18n';
import { alignSetpoints, memberActions, parseSettings, type Portfolio, type PortfolioMember, type Setpoints } from '../../lib2/portfolios';
import type { Market } from '../../types';
import { COLORS, SeriesChart, type SeriesSpec } from '../analytics/SeriesChart';

export interface Viewer {
  account_id: number;
  /** the caller's account runs this portfolio */
  aggregator: boolean;
  admin: boolean;
  /** sees every account (operator, admin) */
  operator: boolean;
}

export function MembersCard({ portfolio, market, viewer, onChanged, accountName }: { portfolio: Portfolio; market: Market; viewer: Viewer; onChanged: (p: Portfolio) => void; accountName: (id: number) => string }) {
  const tz = market.timezone;
  const [busy, setBusy] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);

  const act = async (m: PortfolioMember, action: 'accept' | 'refuse' | 'leave') => {
    if (action === 'leave' && m.state === 'active' && !confirm(t('flex.confirmLeave', { name: m.name, notice: portfolio.notice }))) return;
    setBusy(m.asset_id + action);
    setErr(null);
    setNote(null);
    try {
      const p = await api<Portfolio>('POST', `/api/v1/portfolios/${portfolio.id}/members/${m.asset_id}/${action}`, {});
      setNote(t(('flex.done.' + action) as 'flex.done.accept', { name: m.name }));
      onChanged(p);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(null);
    }
  };

  const cols: Column<PortfolioMember>[] = [
    { key: 'name', label: t('flex.member'), render: (m) => <span data-asset={m.asset_id}>{m.name}</span> },
    { key: 'type', label: t('portfolio.type'), render: (m) => tDyn('assets.type.' + m.type, m.type) },
    { key: 'owner_account_id', label: t('flex.owner'), render: (m) => m.owner_account_name || accountName(m.owner_account_id) },
    { key: 'state', label: t('market.state'), render: (m) => <StateBadge state={m.state} /> },
    {
      key: 'actions',
      label: t('market.actions'),
      sortable: false,
      render: (m) => (
        <span class="actions">
          {memberActions(m, { account_id: viewer.account_id, aggregator: viewer.aggregator, admin: viewer.admin }).map((a) => (
            <button
              key={a}
              type="button"
              class={'small' + (a === 'accept' ? '' : ' secondary')}
              data-action={a}
              disabled={busy !== null}
              onClick={() => act(m, a)}
              aria-label={t(('flex.actionLabel.' + a) as 'flex.actionLabel.accept', { name: m.name })}
            >
              {a === 'leave' && m.state === 'invited' ? t('flex.withdraw') : t(('flex.action.' + a) as 'flex.action.accept')}
            </button>
          ))}
        </span>
      ),
    },
    { key: 'invited_at', label: t('flex.invitedAt'), render: (m) => formatInstant(m.invited_at, tz) },
    { key: 'accepted_at', label: t('flex.acceptedAt'), render: (m) => formatInstant(m.accepted_at, tz) },
    { key: 'leaves_at', label: t('flex.leavesAt'), render: (m) => formatInstant(m.leaves_at, tz) },
    {
      key: 'soc_kwh',
      label: t('flex.socKwh'),
      numeric: true,
      render: (m) => (m.soc_kwh === null ? '–' : <span title={m.soc_at ? formatInstant(m.soc_at, tz) : undefined}>{formatKWh(m.soc_kwh, 1)}</span>),
    },
    {
      key: 'settings',
      label: t('flex.settings'),
      sortable: false,
      wrap: true,
      render: (m) => (
        <details>
          <summary>{t('flex.terms', { n: Object.keys(m.settings || {}).length })}</summary>
          <code class="settings-json">{JSON.stringify(m.settings, null, 1)}</code>
        </details>
      ),
    },
  ];
  return (
    <section class="card members" aria-labelledby="h-members">
      <h2 id="h-members">{t('flex.members')}</h2>
      {!viewer.aggregator && !viewer.operator && <p class="legend-note">{t('flex.ownMembersOnly')}</p>}
      <ErrorBox error={err} />
      <Notice text={note} />
      <Table columns={cols} rows={portfolio.members} rowKey={(m) => m.asset_id} empty={t('flex.noMembers')} />
      {(viewer.aggregator || viewer.admin) && <InviteForm portfolio={portfolio} onDone={onChanged} />}
    </section>
  );
}

const SETTINGS_HINT = '{"soc_at_start_kwh": 40}';

function InviteForm({ portfolio, onDone }: { portfolio: Portfolio; onDone: (p: Portfolio) => void }) {
  const ids = useMemo(() => ({ asset: fieldId('asset_id'), settings: fieldId('settings') }), []);
  const [asset, setAsset] = useState('');
  const [settings, setSettings] = useState('');
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseSettings(settings);
    const er = {
      asset: validate.number(asset, { positive: true, step: 1 }),
      settings: parsed.ok ? undefined : t(('flex.settings.' + parsed.error) as 'flex.settings.notJson'),
    };
    setErrs(er);
    setNote(null);
    if (er.asset || er.settings || !parsed.ok) return;
    setApiErr(null);
    setBusy(true);
    try {
      const p = await api<Portfolio>('POST', `/api/v1/portfolios/${portfolio.id}/members`, { asset_id: Number(asset), settings: parsed.value });
      setNote(t('flex.invited', { id: asset }));
      setAsset('');
      setSettings('');
      onDone(p);
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="invite">
      <summary>{t('flex.invite')}</summary>
      <form class="invite-form" onSubmit={submit} noValidate>
        <p class="muted">{t('flex.inviteHint')}</p>
        <TextField id={ids.asset} name="asset_id" type="number" min="1" step="1" label={t('flex.assetId')} value={asset} onValue={setAsset} error={errs.asset} />
        <Field id={ids.settings} label={t('flex.settingsJson')} hint={t('flex.settingsHint', { example: SETTINGS_HINT })} error={errs.settings}>
          <textarea
            id={ids.settings}
            name="settings"
            rows={4}
            spellcheck={false}
            placeholder={SETTINGS_HINT}
            value={settings}
            aria-invalid={errs.settings ? 'true' : undefined}
            aria-describedby={errs.settings ? ids.settings + '-err' : ids.settings + '-hint'}
            onInput={(e) => setSettings((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </Field>
        <div class="row">
          <button type="submit" disabled={busy}>
            {t('flex.sendInvite')}
          </button>
        </div>
        <ErrorBox error={apiErr} />
        <Notice text={note} />
      </form>
    </details>
  );
}

/** The members' setpoints for the coming 24 hours of market time (those the caller may read). */
export function SetpointsCard({ portfolio, market, viewer, version }: { portfolio: Portfolio; market: Market; viewer: Viewer; version: number }) {
  const tz = market.timezone;
  const readable = portfolio.members.filter((m) => (m.state === 'active' || m.state === 'leaving') && (viewer.aggregator || viewer.operator || m.owner_account_id === viewer.account_id));
  const key = readable.map((m) => m.asset_id).join(',');
  const res = useAsync(() => {
    const start = Math.floor(marketNow() / 900_000) * 900_000;
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return Promise.all(readable.map((m) => api<Setpoints>('GET', `/api/v1/assets/${m.asset_id}/setpoints` + qs({ start: iso(start), end: iso(start + 86400_000) }))));
  }, [key, version]);
  const cols = useMemo(() => alignSetpoints(res.data || []), [res.data]);
  const palette = [COLORS.schedule, COLORS.measured, ...COLORS.extra];
  const series: SeriesSpec[] = useMemo(() => readable.map((m, i) => ({ label: m.name + ' (kW)', values: cols.ys[i] || [], color: palette[i % palette.length], stepped: true })), [cols]);
  if (readable.length === 0) return null;
  return (
    <section class="card setpoints" aria-labelledby="h-setpoints">
      <h2 id="h-setpoints">{t('flex.setpoints')}</h2>
      <ErrorBox error={res.error} onRetry={res.reload} />
      {res.loading && !res.data && <p class="muted">{t('common.loading')}</p>}
      {res.data && cols.x.length === 0 && <p class="muted">{t('flex.noSetpoints')}</p>}
      {cols.x.length > 0 && <SeriesChart x={cols.x} series={series} unit="kW" tz={tz} label={t('flex.setpoints')} height={240} />}
      <p class="legend-note">{t('flex.setpointsNote')}</p>
    </section>
  );
}
