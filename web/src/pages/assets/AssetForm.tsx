// Create or edit an asset (POST / PATCH /api/v1/assets). Validates before sending; the API's
// error is shown below the form.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { fieldId, SelectField, TextField, validate } from '../../components/Form';
import { t, tDyn } from '../../i18n';
import { ASSET_TYPES, type AssetFull } from '../../lib2/apiTypes';
import { assetPayload, type AssetDraft } from '../../lib2/forms';

const NUMS: { k: keyof AssetDraft; label: 'assets.capacityKw' | 'assets.storageKwh' | 'assets.maxChargeKw' | 'assets.maxDischargeKw' | 'assets.chargeEff' | 'assets.dischargeEff' | 'assets.socMin' | 'assets.socMax' | 'assets.latitude' | 'assets.longitude'; storage?: boolean; eff?: boolean; geo?: [number, number] }[] = [
  { k: 'capacity_kw', label: 'assets.capacityKw' },
  { k: 'storage_capacity_kwh', label: 'assets.storageKwh', storage: true },
  { k: 'max_charge_kw', label: 'assets.maxChargeKw', storage: true },
  { k: 'max_discharge_kw', label: 'assets.maxDischargeKw', storage: true },
  { k: 'charge_efficiency', label: 'assets.chargeEff', storage: true, eff: true },
  { k: 'discharge_efficiency', label: 'assets.dischargeEff', storage: true, eff: true },
  { k: 'soc_min_kwh', label: 'assets.socMin', storage: true },
  { k: 'soc_max_kwh', label: 'assets.socMax', storage: true },
  { k: 'latitude', label: 'assets.latitude', geo: [-90, 90] },
  { k: 'longitude', label: 'assets.longitude', geo: [-180, 180] },
];

export function toDraft(a?: AssetFull | null, parent?: AssetFull | null, accountId?: number): AssetDraft {
  const s = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  return {
    name: a?.name || '',
    type: a?.type || (parent ? 'battery' : 'site'),
    parent_id: a ? s(a.parent_id) : parent ? String(parent.id) : '',
    account_id: a ? String(a.account_id) : accountId !== undefined ? String(accountId) : '',
    timezone: a?.timezone || parent?.timezone || 'Asia/Taipei',
    latitude: s(a?.latitude),
    longitude: s(a?.longitude),
    capacity_kw: s(a?.capacity_kw),
    storage_capacity_kwh: s(a?.storage_capacity_kwh),
    max_charge_kw: s(a?.max_charge_kw),
    max_discharge_kw: s(a?.max_discharge_kw),
    charge_efficiency: s(a?.charge_efficiency),
    discharge_efficiency: s(a?.discharge_efficiency),
    soc_min_kwh: s(a?.soc_min_kwh),
    soc_max_kwh: s(a?.soc_max_kwh),
  };
}

interface Props {
  asset?: AssetFull | null;
  initial: AssetDraft;
  sites: AssetFull[];
  accounts: { id: number; name: string }[] | null;
  onSaved: (a: AssetFull) => void;
  onCancel: () => void;
}

export function AssetForm({ asset, initial, sites, accounts, onSaved, onCancel }: Props) {
  const [d, setD] = useState<AssetDraft>(initial);
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const base = useMemo(() => fieldId('asset'), []);
  const set = (k: keyof AssetDraft) => (v: string) => setD((x) => ({ ...x, [k]: v }));
  const storage = /battery|ev_charger/.test(d.type);
  const parentSites = sites.filter((s) => s.id !== asset?.id && (!d.account_id || String(s.account_id) === d.account_id));

  const submit = async (e: Event) => {
    e.preventDefault();
    const er: Record<string, string | undefined> = { name: validate.required(d.name), timezone: validate.required(d.timezone) };
    for (const n of NUMS) {
      const v = d[n.k];
      if (!v.trim()) continue;
      er[n.k] = n.eff ? validate.number(v, { min: 0.01, max: 1 }) : n.geo ? validate.number(v, { min: n.geo[0], max: n.geo[1] }) : validate.number(v, { min: 0 });
    }
    if (d.soc_min_kwh.trim() && d.soc_max_kwh.trim() && Number(d.soc_min_kwh) > Number(d.soc_max_kwh)) er.soc_max_kwh = t('assets.socOrder');
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setBusy(true);
    setApiErr(null);
    try {
      const body = assetPayload(d, { editing: !!asset, withAccount: !!accounts });
      const saved = asset ? await api<AssetFull>('PATCH', `/api/v1/assets/${asset.id}`, body) : await api<AssetFull>('POST', '/api/v1/assets', body);
      onSaved(saved);
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card asset-form" onSubmit={submit} noValidate>
      <h3>{asset ? t('assets.editAsset', { name: asset.name }) : t('assets.newAsset')}</h3>
      <div class="grid three">
        <TextField id={base + '-name'} name="name" label={t('assets.name')} value={d.name} onValue={set('name')} error={errs.name} />
        <SelectField id={base + '-type'} name="type" label={t('assets.type')} value={d.type} onValue={set('type')} options={ASSET_TYPES.map((x) => ({ value: x, label: tDyn('assets.type.' + x, x) }))} />
        {accounts && (
          <SelectField id={base + '-acct'} name="account_id" label={t('assets.account')} value={d.account_id} onValue={set('account_id')} options={accounts.map((a) => ({ value: String(a.id), label: a.name }))} />
        )}
        <SelectField
          id={base + '-parent'}
          name="parent_id"
          label={t('assets.parent')}
          value={d.parent_id}
          onValue={set('parent_id')}
          options={[{ value: '', label: t('assets.noParent') }, ...parentSites.map((s) => ({ value: String(s.id), label: s.name }))]}
        />
        <TextField id={base + '-tz'} name="timezone" label={t('assets.timezone')} hint={t('assets.timezoneHint')} value={d.timezone} onValue={set('timezone')} error={errs.timezone} />
        {NUMS.filter((n) => !n.storage || storage).map((n) => (
          <TextField key={n.k} id={base + '-' + n.k} name={n.k} type="number" step="any" label={t(n.label)} value={d[n.k]} onValue={set(n.k)} error={errs[n.k]} />
        ))}
      </div>
      <ErrorBox error={apiErr} />
      <div class="row">
        <button type="submit" disabled={busy}>
          {asset ? t('common.save') : t('common.create')}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
