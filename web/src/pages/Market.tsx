// /market: pick a market; next slots with gate-closure countdowns; place, edit, cancel bids until
// gate closure; cleared slots with depth charts; price/volume history; the caller's results,
// trades and settlements. Live over SSE: a slot that clears shows its result at once.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { marketNow } from '../clock';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, SelectField } from '../components/Form';
import { useServerEvents } from '../events';
import { formatInstant, formatIsoDuration, formatKWh, formatPrice, tzOffset } from '../format';
import { useAsync, useDebounced, useInterval } from '../hooks';
import { t } from '../i18n';
import { loadMarkets, tickDigits } from '../markets';
import { setQuery } from '../router';
import type { PageProps } from '../routes';
import { hasRole } from '../session';
import type { Market, NextSlot } from '../types';
import { BidForm, MyBids, NextSlotsCard } from './market/Bidding';
import { Clearings, History, Results, Settlements, Trades } from './market/Records';

const pickId = fieldId('market');

/** A counter that data hooks depend on; bumps within 150 ms coalesce into one reload. */
function useVersion(): [number, () => void] {
  const [v, setV] = useState(0);
  const bump = useDebounced(() => setV((x) => x + 1), 150);
  return [v, bump];
}

function MarketView({ market, me }: { market: Market; me: PageProps['me'] }) {
  const [nextV, bumpNext] = useVersion();
  const [bidsV, bumpBids] = useVersion();
  const [clearV, bumpClear] = useVersion();
  const [tradeV, bumpTrade] = useVersion();
  const [settleV, bumpSettle] = useVersion();
  const [picked, setPicked] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [liveNote, setLiveNote] = useState<string | null>(null);
  const next = useAsync(() => api<NextSlot>('GET', `/api/v1/markets/${market.id}/next-slot`), [market.id, nextV]);
  const canBid = hasRole(me, 'participant', 'aggregator');
  const isOperator = hasRole(me, 'operator', 'admin');

  const live = useServerEvents((ev) => {
    const d = ev.data as { market_id?: number; slot_start?: string; price?: number; volume_kwh?: number };
    if (d.market_id !== undefined && d.market_id !== market.id) return;
    switch (ev.type) {
      case 'resync':
        bumpNext();
        bumpBids();
        bumpClear();
        bumpTrade();
        bumpSettle();
        break;
      case 'bid_placed':
      case 'bid_changed':
      case 'bid_cancelled':
        bumpBids();
        bumpNext();
        break;
      case 'gate_closed':
        bumpNext();
        bumpBids();
        break;
      case 'cleared':
        bumpClear();
        bumpBids();
        bumpNext();
        if (!ev.replay && d.slot_start) {
          setSelected(d.slot_start);
          setLiveNote(t('market.liveCleared', { slot: formatInstant(d.slot_start, market.timezone), price: formatPrice(d.price ?? null, market.currency), volume: formatKWh(d.volume_kwh ?? 0, tickDigits(market.volume_tick_kwh)) }));
        }
        break;
      case 'trades':
      case 'executing':
        bumpTrade();
        break;
      case 'settling':
        bumpSettle();
        bumpTrade();
        break;
    }
  });

  // the next slot's gate passed (the stream may lag): ask for the next one
  useInterval(() => {
    if (next.data && !next.loading && Date.parse(next.data.gate_closure) < marketNow()) bumpNext();
  }, 3000);

  return (
    <>
      <p class="muted">
        {t('market.info', {
          slot: formatIsoDuration(market.slot_length),
          lead: formatIsoDuration(market.gate_closure_lead),
          min: market.price_min,
          max: market.price_max,
          unit: market.price_unit,
        })}
        {' · '}
        {t('common.timezone', { tz: market.timezone, offset: tzOffset(Date.now(), market.timezone) })}
        {' · '}
        <span class={'live' + (live ? ' on' : '')}>{live ? t('common.live') : t('common.liveOff')}</span>
      </p>
      <div aria-live="polite">
        <Notice text={liveNote} />
      </div>
      <ErrorBox error={next.error} onRetry={next.reload} />
      <NextSlotsCard market={market} next={next.data} onPick={(s) => {
        setPicked(s);
        document.getElementById('h-bidform')?.scrollIntoView();
      }} />
      {canBid ? (
        <BidForm market={market} next={next.data} pickedSlot={picked} onPlaced={() => {
          bumpBids();
          bumpNext();
        }} />
      ) : (
        <p class="muted">{t('market.cannotBid')}</p>
      )}
      {canBid && <MyBids market={market} version={bidsV} onChanged={bumpNext} />}
      <Clearings market={market} version={clearV} selected={selected} onSelect={setSelected} />
      <History market={market} version={clearV} />
      {canBid && <Results market={market} version={bidsV + clearV + tradeV + settleV} />}
      <Trades market={market} version={tradeV + clearV} showAccounts={isOperator} />
      <Settlements market={market} version={settleV} showAccounts={isOperator} />
    </>
  );
}

export default function MarketPage({ me, query }: PageProps) {
  const markets = useAsync(() => loadMarkets(), []);
  const list = markets.data || [];
  const wanted = Number(query.get('market'));
  const market = list.find((m) => m.id === wanted) || list[0];
  useEffect(() => {
    if (market && wanted !== market.id) setQuery({ market: market.id });
  }, [market?.id]);

  return (
    <section>
      <h1>{t('market.title')}</h1>
      <ErrorBox error={markets.error} onRetry={markets.reload} />
      {markets.data && list.length === 0 && <p class="muted">{t('market.noMarkets')}</p>}
      {list.length > 1 && market && (
        <SelectField
          id={pickId}
          name="market"
          label={t('market.pick')}
          value={String(market.id)}
          onValue={(v) => setQuery({ market: v })}
          options={list.map((m) => ({ value: String(m.id), label: m.name }))}
        />
      )}
      {list.length === 1 && market && <h2>{market.name}</h2>}
      {market && <MarketView key={market.id} market={market} me={me} />}
    </section>
  );
}
