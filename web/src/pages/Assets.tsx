// Assets: the asset tree of the caller's account (operators and admins: every account's), with
// create, edit and delete; the selected asset's sensors with a chart and a CSV upload each.
import { useMemo, useState } from 'preact/hooks';
import { useMarketNow } from '../clock';
import { api, qs, type Page } from '../api';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { useAsync } from '../hooks';
import { t, tDyn } from '../i18n';
import { setQuery } from '../router';
import type { PageProps } from '../routes';
import { hasRole } from '../session';
import { allPages, type AccountRow, type AssetFull, type SensorFull } from '../lib2/apiTypes';
import { syncMarketClock } from '../lib2/clock2';
import { assetTree } from '../lib2/forms';
import { AssetForm, toDraft } from './assets/AssetForm';
import { SensorPanel } from './assets/SensorPanel';

export default function Assets({ me, query }: PageProps) {
  useMarketNow(60_000); // keeps the market clock sampled (the demo's runs 60x)
  const privileged = hasRole(me, 'admin', 'operator');
  const data = useAsync(async () => {
    const [assets, sensors, accounts] = await Promise.all([
      allPages((p) => api<Page<AssetFull>>('GET', '/api/v1/assets' + qs({ page: p, per_page: 500 }))),
      allPages((p) => api<Page<SensorFull>>('GET', '/api/v1/sensors' + qs({ page: p, per_page: 500 }))),
      privileged ? allPages((p) => api<Page<AccountRow>>('GET', '/api/v1/accounts' + qs({ page: p, per_page: 500 }))) : Promise.resolve(null),
      syncMarketClock(),
    ]);
    return { assets, sensors, accounts };
  }, [privileged]);
  const [selected, setSelectedState] = useState<number | null>(query.get('asset') ? Number(query.get('asset')) : null);
  const [form, setForm] = useState<{ asset: AssetFull | null; parent: AssetFull | null } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [delErr, setDelErr] = useState<unknown>(null);
  const select = (id: number | null) => {
    setSelectedState(id);
    setQuery({ asset: id ?? undefined });
  };

  const assets = data.data?.assets || [];
  const accounts = data.data?.accounts || null;
  const accountName = (id: number) => accounts?.find((a) => a.id === id)?.name || (id === me.account.id ? me.account.name : '#' + id);
  const groups = useMemo(() => {
    const byAccount = new Map<number, AssetFull[]>();
    for (const a of assets) {
      if (!byAccount.has(a.account_id)) byAccount.set(a.account_id, []);
      byAccount.get(a.account_id)!.push(a);
    }
    return Array.from(byAccount.entries()).sort((x, y) => x[0] - y[0]);
  }, [assets]);
  const sensorsOf = (id: number) => (data.data?.sensors || []).filter((s) => s.asset_id === id);
  // sensors of no asset (prices, weather): the caller's account's, or every account's for operators
  const unattached = (data.data?.sensors || []).filter((s) => s.asset_id === null && (privileged || s.account_id === me.account.id));
  const UNATTACHED = -1;
  // nothing chosen yet: the first site (its sensors show at once)
  const sel = assets.find((a) => a.id === selected) || (selected === null || (selected === UNATTACHED && unattached.length === 0) ? assets.find((a) => a.type === 'site') || assets[0] || null : null);
  const sites = assets.filter((a) => a.type === 'site');

  const del = async (a: AssetFull) => {
    if (!confirm(t('assets.confirmDelete', { name: a.name }))) return;
    setDelErr(null);
    try {
      await api('DELETE', `/api/v1/assets/${a.id}`);
      setNote(t('assets.deleted', { name: a.name }));
      if (selected === a.id) select(null);
      data.reload();
    } catch (e) {
      setDelErr(e);
    }
  };

  const node = (a: AssetFull, children?: AssetFull[]) => (
    <li key={a.id} class={a.id === sel?.id ? 'current' : undefined}>
      <div class="row" style={{ gap: '0.25rem 0.6rem', padding: '0.2rem 0' }}>
        <button type="button" class="link tree-name" aria-current={a.id === sel?.id ? 'true' : undefined} style={a.id === sel?.id ? { fontWeight: 700 } : undefined} onClick={() => select(a.id)}>
          {a.name}
        </button>
        <span class="badge">{tDyn('assets.type.' + a.type, a.type)}</span>
        <span class="muted small">
          {t('assets.sensorCount', { n: sensorsOf(a.id).length })}
          {a.capacity_kw !== null ? ' · ' + a.capacity_kw + ' kW' : ''}
          {a.storage_capacity_kwh ? ' · ' + a.storage_capacity_kwh + ' kWh' : ''}
        </span>
        <span class="actions">
          {a.type === 'site' && (
            <button type="button" class="small secondary" onClick={() => setForm({ asset: null, parent: a })} aria-label={t('assets.addDeviceTo', { name: a.name })}>
              {t('assets.addDevice')}
            </button>
          )}
          <button type="button" class="small secondary" onClick={() => setForm({ asset: a, parent: null })} aria-label={t('assets.editAsset', { name: a.name })}>
            {t('common.edit')}
          </button>
          <button type="button" class="small danger" onClick={() => del(a)} aria-label={t('assets.deleteAsset', { name: a.name })}>
            {t('common.delete')}
          </button>
        </span>
      </div>
      {children && children.length > 0 && <ul>{children.map((c) => node(c))}</ul>}
    </li>
  );

  return (
    <section class="assets">
      <div class="row">
        <h1>{t('assets.title')}</h1>
        <span class="spacer" />
        <button type="button" onClick={() => setForm({ asset: null, parent: null })}>
          {t('assets.newAsset')}
        </button>
      </div>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <Notice text={note} />
      <ErrorBox error={delErr} />
      {form && (
        <AssetForm
          key={(form.asset?.id ?? 'n') + '-' + (form.parent?.id ?? '')}
          asset={form.asset}
          initial={toDraft(form.asset, form.parent, form.parent ? form.parent.account_id : me.account.id)}
          sites={sites}
          accounts={privileged ? accounts : null}
          onCancel={() => setForm(null)}
          onSaved={(a) => {
            setForm(null);
            setNote(t('assets.savedAsset', { name: a.name }));
            select(a.id);
            data.reload();
          }}
        />
      )}
      {data.loading && !data.data && <p class="muted">{t('common.loading')}</p>}
      {data.data && assets.length === 0 && <p class="muted">{t('assets.none')}</p>}
      <div class="assets-layout">
        <div class="card tree">
          {groups.map(([acct, list]) => (
            <div key={acct} class="tree-account">
              {(privileged || groups.length > 1) && <h2>{accountName(acct)}</h2>}
              <ul class="asset-tree">{assetTree(list).map((g) => node(g.node, g.children))}</ul>
            </div>
          ))}
          {unattached.length > 0 && (
            <p>
              <button type="button" class="link" aria-current={selected === UNATTACHED ? 'true' : undefined} style={selected === UNATTACHED ? { fontWeight: 700 } : undefined} onClick={() => select(UNATTACHED)}>
                {t('assets.unattached')}
              </button>{' '}
              <span class="muted">{t('assets.sensorCount', { n: unattached.length })}</span>
            </p>
          )}
        </div>
        {selected === UNATTACHED && unattached.length > 0 && <SensorPanel key="unattached" asset={null} sensors={unattached} canPublish={privileged} onChanged={data.reload} />}
        {sel && selected !== UNATTACHED && (
          <div>
            <div class="card">
              <h2>{sel.name}</h2>
              <dl class="kpis">
                <div>
                  <dt>{t('assets.type')}</dt>
                  <dd>{tDyn('assets.type.' + sel.type, sel.type)}</dd>
                </div>
                <div>
                  <dt>{t('assets.account')}</dt>
                  <dd>{accountName(sel.account_id)}</dd>
                </div>
                <div>
                  <dt>{t('assets.timezone')}</dt>
                  <dd>{sel.timezone}</dd>
                </div>
                {sel.capacity_kw !== null && (
                  <div>
                    <dt>{t('assets.capacityKw')}</dt>
                    <dd>{sel.capacity_kw} kW</dd>
                  </div>
                )}
                {sel.storage_capacity_kwh ? (
                  <div>
                    <dt>{t('assets.storageKwh')}</dt>
                    <dd>{sel.storage_capacity_kwh} kWh</dd>
                  </div>
                ) : null}
              </dl>
            </div>
            <SensorPanel key={sel.id} asset={sel} sensors={sensorsOf(sel.id)} canPublish={privileged} onChanged={data.reload} />
          </div>
        )}
      </div>
    </section>
  );
}
