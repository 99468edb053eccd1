// /flexibility: aggregator portfolios. The portfolios the caller runs or has assets in; for the
// one picked: its members and their consent (owners accept, refuse, leave; the aggregator
// invites and pauses), the next slot's offer curve and why it has that shape, what the
// automation did slot by slot, and the value per member. Parts in pages/flexibility/, pure
// shaping in lib2/portfolios.ts.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { useAccountNames } from '../accounts';
import { marketNow, useMarketNow } from '../clock';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, SelectField, TextField, validate } from '../components/Form';
import { StateBadge } from '../components/StateBadge';
import { Table, type Column } from '../components/Table';
import { useServerEvents } from '../events';
import { formatIsoDuration, formatNumber, parseIsoDuration, tzOffset } from '../format';
import { useAsync, useDebounced } from '../hooks';
import { t } from '../i18n';
import { syncMarketClock } from '../lib2/clock2';
import type { Portfolio } from '../lib2/portfolios';
import { loadMarkets } from '../markets';
import { setQuery } from '../router';
import type { PageProps } from '../routes';
import { hasRole } from '../session';
import type { Market } from '../types';
import { MembersCard, SetpointsCard, type Viewer } from './flexibility/MembersCard';
import { OfferCard } from './flexibility/OfferCard';
import { StepsCard } from './flexibility/StepsCard';
import { ValueCard } from './flexibility/ValueCard';

export default function Flexibility({ me, query }: PageProps) {
  useMarketNow(60_000); // keeps the market clock sampled (the demo's runs 60x)
  const res = useAsync(async () => {
    const [list, markets] = await Promise.all([api<{ items: Portfolio[]; total: number }>('GET', '/api/v1/portfolios'), loadMarkets(), syncMarketClock()]);
    return { items: list.items, markets };
  }, []);
  const accountName = useAccountNames();
  const items = res.data?.items || [];
  const markets = res.data?.markets || [];
  const wanted = Number(query.get('portfolio')) || null;
  const selected = items.find((p) => p.id === wanted) || items[0];
  const market = selected ? markets.find((m) => m.id === selected.market_id) : undefined;
  const canCreate = hasRole(me, 'aggregator', 'admin');

  // replace one portfolio in the list (after a member's consent, an invitation, a pause)
  const update = (p: Portfolio) => res.data && res.setData({ ...res.data, items: res.data.items.map((q) => (q.id === p.id ? p : q)) });

  const cols: Column<Portfolio>[] = [
    {
      key: 'name',
      label: t('flex.portfolio'),
      render: (p) => (
        <button type="button" class="link" aria-current={p.id === selected?.id ? 'true' : undefined} onClick={() => setQuery({ portfolio: p.id })}>
          {p.name}
        </button>
      ),
    },
    { key: 'account_id', label: t('flex.aggregator'), render: (p) => p.account_name || accountName(p.account_id) },
    { key: 'market_id', label: t('market.pick'), render: (p) => markets.find((m) => m.id === p.market_id)?.name || '#' + p.market_id },
    { key: 'active_members', label: t('flex.activeMembers'), numeric: true },
    { key: 'fee_percent', label: t('flex.feePercent'), numeric: true, render: (p) => formatNumber(p.fee_percent, 1) },
    { key: 'paused', label: t('market.state'), render: (p) => <StateBadge state={p.paused ? 'paused' : 'running'} /> },
  ];

  return (
    <section class="flexibility">
      <h1>{t('flex.title')}</h1>
      <ErrorBox error={res.error} onRetry={res.reload} />
      {res.loading && !res.data && <p class="muted">{t('common.loading')}</p>}
      {res.data && (
        <section class="card portfolios" aria-labelledby="h-portfolios">
          <h2 id="h-portfolios">{t('flex.portfolios')}</h2>
          <Table columns={cols} rows={items} rowKey={(p) => p.id} rowClass={(p) => (p.id === selected?.id ? 'selected' : undefined)} empty={t('flex.noPortfolios')} />
          {canCreate && <CreateForm markets={markets} onCreated={(p) => (res.reload(), setQuery({ portfolio: p.id }))} />}
        </section>
      )}
      {selected && market && <PortfolioView key={selected.id} portfolio={selected} market={market} me={me} onChanged={update} accountName={accountName} />}
      {selected && res.data && !market && <ErrorBox error={new Error(t('flex.noMarket', { id: selected.market_id }))} />}
    </section>
  );
}

function PortfolioView({ portfolio, market, me, onChanged, accountName }: { portfolio: Portfolio; market: Market; me: PageProps['me']; onChanged: (p: Portfolio) => void; accountName: (id: number) => string }) {
  const operator = hasRole(me, 'operator', 'admin');
  const viewer: Viewer = { account_id: me.account.id, aggregator: me.account.id === portfolio.account_id, admin: hasRole(me, 'admin'), operator };
  // offers and steps are the portfolio's own account's (and the operators')
  const insider = (viewer.aggregator && hasRole(me, 'aggregator', 'admin', 'operator')) || operator;
  const [version, setVersion] = useState(0);
  const bump = useDebounced(() => setVersion((v) => v + 1), 400);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);

  useServerEvents((ev) => {
    const d = ev.data as { market_id?: number };
    if (d && d.market_id !== undefined && d.market_id !== market.id) return;
    // a gate closing moves the next open slot; a clearing and a statement feed the steps and the value
    if (ev.type === 'resync' || ev.type === 'gate_closed' || ev.type === 'cleared' || ev.type === 'settling') bump();
  });

  const pause = async (paused: boolean) => {
    setBusy(true);
    setErr(null);
    try {
      const p = await api<Portfolio>('POST', `/api/v1/portfolios/${portfolio.id}/${paused ? 'pause' : 'resume'}`, {});
      setNote(paused ? t('flex.pausedNote') : t('flex.resumedNote'));
      onChanged(p);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const onMembers = (p: Portfolio) => {
    onChanged(p);
    bump();
  };

  return (
    <div class="portfolio-view" data-portfolio={portfolio.id}>
      <section class="card" aria-labelledby="h-portfolio">
        <div class="row">
          <h2 id="h-portfolio">{portfolio.name}</h2>
          <StateBadge state={portfolio.paused ? 'paused' : 'running'} />
          <span class="spacer" />
          <span class="muted">{t('common.timezone', { tz: market.timezone, offset: tzOffset(marketNow(), market.timezone) })}</span>
          {insider && (
            <button type="button" class="secondary" data-action={portfolio.paused ? 'resume' : 'pause'} disabled={busy} onClick={() => pause(!portfolio.paused)}>
              {portfolio.paused ? t('flex.resume') : t('flex.pause')}
            </button>
          )}
        </div>
        <ErrorBox error={err} />
        <Notice text={note} />
        <dl class="kpis">
          <div>
            <dt>{t('market.pick')}</dt>
            <dd>{market.name}</dd>
          </div>
          <div>
            <dt>{t('flex.activeMembers')}</dt>
            <dd data-kpi="active">{portfolio.active_members}</dd>
          </div>
          <div>
            <dt>{t('flex.horizon')}</dt>
            <dd>{formatIsoDuration(portfolio.horizon)}</dd>
          </div>
          <div>
            <dt>{t('flex.notice')}</dt>
            <dd>{formatIsoDuration(portfolio.notice)}</dd>
          </div>
          <div>
            <dt>{t('flex.priceSteps')}</dt>
            <dd>{portfolio.price_steps}</dd>
          </div>
          <div>
            <dt>{t('flex.feePercent')}</dt>
            <dd>{formatNumber(portfolio.fee_percent, 1)}</dd>
          </div>
          <div>
            <dt>{t('flex.sharing')}</dt>
            <dd>{t(portfolio.sharing === 'moved' ? 'flex.sharing.moved' : portfolio.sharing === 'equal' ? 'flex.sharing.equal' : 'flex.sharing.delivered')}</dd>
          </div>
          <div>
            <dt>{t('flex.priceSensor')}</dt>
            <dd>{portfolio.price_sensor_id === null ? t('flex.noPriceSensor') : '#' + portfolio.price_sensor_id}</dd>
          </div>
        </dl>
        {portfolio.paused && <p class="muted">{t('flex.pausedText')}</p>}
      </section>
      <MembersCard portfolio={portfolio} market={market} viewer={viewer} onChanged={onMembers} accountName={accountName} />
      {insider && <OfferCard portfolio={portfolio} market={market} version={version} />}
      {insider && <StepsCard portfolio={portfolio} market={market} version={version} />}
      <ValueCard portfolio={portfolio} market={market} version={version} accountName={accountName} />
      <SetpointsCard portfolio={portfolio} market={market} viewer={viewer} version={version} />
    </div>
  );
}

function CreateForm({ markets, onCreated }: { markets: Market[]; onCreated: (p: Portfolio) => void }) {
  const ids = useMemo(() => ({ name: fieldId('pf_name'), market: fieldId('pf_market'), price: fieldId('pf_price'), fee: fieldId('pf_fee'), steps: fieldId('pf_steps'), horizon: fieldId('pf_horizon'), notice: fieldId('pf_notice') }), []);
  const [name, setName] = useState('');
  const [marketId, setMarketId] = useState(String(markets[0]?.id ?? ''));
  const [price, setPrice] = useState('');
  const [fee, setFee] = useState('0');
  const [steps, setSteps] = useState('10');
  const [horizon, setHorizon] = useState('PT24H');
  const [notice, setNotice] = useState('PT24H');
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dur = (v: string, zeroOk = false) => {
    const ms = parseIsoDuration(v.trim());
    return Number.isFinite(ms) && (ms > 0 || (zeroOk && ms === 0)) ? undefined : t('common.mustBeDuration');
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const er = {
      name: validate.required(name),
      market: marketId ? undefined : t('common.required'),
      price: price.trim() ? validate.number(price, { positive: true, step: 1 }) : undefined,
      fee: validate.number(fee, { min: 0, max: 100 }),
      steps: validate.number(steps, { min: 2, max: 20, step: 1 }),
      horizon: dur(horizon),
      notice: dur(notice, true),
    };
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setApiErr(null);
    setBusy(true);
    try {
      const body: Record<string, unknown> = { name: name.trim(), market_id: Number(marketId), fee_percent: Number(fee), price_steps: Number(steps), horizon: horizon.trim(), notice: notice.trim() };
      if (price.trim()) body.price_sensor_id = Number(price);
      onCreated(await api<Portfolio>('POST', '/api/v1/portfolios', body));
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="create-portfolio">
      <summary>{t('flex.create')}</summary>
      <form onSubmit={submit} noValidate>
        <p class="muted">{t('flex.createHint')}</p>
        <div class="grid three">
          <TextField id={ids.name} name="name" label={t('flex.name')} value={name} onValue={setName} error={errs.name} />
          <SelectField id={ids.market} name="market_id" label={t('market.pick')} value={marketId} onValue={setMarketId} error={errs.market} options={markets.map((m) => ({ value: String(m.id), label: m.name }))} />
          <TextField id={ids.price} name="price_sensor_id" type="number" label={t('flex.priceSensorId')} hint={t('flex.priceSensorHint')} value={price} onValue={setPrice} error={errs.price} />
          <TextField id={ids.fee} name="fee_percent" type="number" min="0" max="100" label={t('flex.feePercent')} value={fee} onValue={setFee} error={errs.fee} />
          <TextField id={ids.steps} name="price_steps" type="number" min="2" max="20" label={t('flex.priceSteps')} value={steps} onValue={setSteps} error={errs.steps} />
          <TextField id={ids.horizon} name="horizon" label={t('flex.horizon')} hint={t('flex.horizonHint')} value={horizon} onValue={setHorizon} error={errs.horizon} />
          <TextField id={ids.notice} name="notice" label={t('flex.notice')} hint={t('flex.noticeHint')} value={notice} onValue={setNotice} error={errs.notice} />
        </div>
        <div class="row">
          <button type="submit" disabled={busy}>
            {t('common.create')}
          </button>
        </div>
        <ErrorBox error={apiErr} />
      </form>
    </details>
  );
}
