// /operator (operator, admin): create and edit markets, assign settlement meters, every slot's
// book after clearing, and running the simulated clock forward.
import { useState } from 'preact/hooks';
import { useAccountNames } from '../accounts';
import { api, ApiError, qs, type Page } from '../api';
import { marketNow, noteMarketNow, useMarketNow } from '../clock';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, SelectField } from '../components/Form';
import { Table } from '../components/Table';
import { useServerEvents } from '../events';
import { formatInstant, formatIsoDuration, formatKWh, formatPrice, tzOffset } from '../format';
import { useAsync, useDebounced, usePaged } from '../hooks';
import { t, tDyn } from '../i18n';
import { loadMarkets, reloadMarkets, tickDigits } from '../markets';
import type { PageProps } from '../routes';
import type { Account, Book, Clearing, ClearingSummary, Market, Sensor } from '../types';
import { DepthChart } from './market/MarketCharts';
import { MarketForm } from './operator/MarketForm';

function Markets({ markets, onChanged }: { markets: Market[]; onChanged: () => void }) {
  const [editing, setEditing] = useState<number | null>(null);
  const [creating, setCreating] = useState(false);
  const edit = markets.find((m) => m.id === editing);
  return (
    <section class="card" aria-labelledby="h-markets">
      <div class="row">
        <h2 id="h-markets">{t('operator.markets')}</h2>
        <span class="spacer" />
        <button type="button" class="secondary" aria-expanded={creating ? 'true' : 'false'} onClick={() => setCreating(!creating)}>
          {t('operator.createMarket')}
        </button>
      </div>
      {creating && (
        <div class="card">
          <h3>{t('operator.createMarket')}</h3>
          <MarketForm onSaved={onChanged} onClose={() => setCreating(false)} />
        </div>
      )}
      {edit && (
        <div class="card">
          <h3>{t('operator.editMarket', { name: edit.name })}</h3>
          <MarketForm key={edit.id} market={edit} onSaved={onChanged} onClose={() => setEditing(null)} />
        </div>
      )}
      <Table
        rows={markets}
        rowKey={(m) => m.id}
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'name', label: t('operator.name') },
          { key: 'timezone', label: t('operator.timezone') },
          { key: 'slot_length', label: t('market.slot'), render: (m) => formatIsoDuration(m.slot_length) },
          { key: 'gate_closure_lead', label: t('market.gateClosure'), render: (m) => formatIsoDuration(m.gate_closure_lead) },
          { key: 'range', label: t('market.price', { unit: '' }).replace(/[（(]\s*[)）]/, ''), sortable: false, render: (m) => `${m.price_min}–${m.price_max} ${m.price_unit}` },
          { key: 'price_rule', label: t('operator.priceRule'), render: (m) => tDyn('operator.priceRule.' + m.price_rule, m.price_rule) },
          {
            key: 'act',
            label: t('market.actions'),
            sortable: false,
            render: (m) => (
              <button type="button" class="small secondary" onClick={() => setEditing(m.id)}>
                {t('common.edit')}
              </button>
            ),
          },
        ]}
      />
    </section>
  );
}

const meterIds = { market: fieldId('mmarket'), account: fieldId('maccount'), sensor: fieldId('msensor') };

function Meters({ markets }: { markets: Market[] }) {
  const accounts = useAsync(() => api<Page<Account>>('GET', '/api/v1/accounts?per_page=500'), []);
  const sensors = useAsync(() => api<Page<Sensor & { account_id: number }>>('GET', '/api/v1/sensors?per_page=500'), []);
  const [marketId, setMarketId] = useState(String(markets[0]?.id ?? ''));
  const [accountId, setAccountId] = useState('');
  const [sensorId, setSensorId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const powerSensors = (sensors.data?.items || []).filter((s) => String(s.account_id) === accountId && ['kW', 'MW', 'W'].includes(s.unit));
  const assigned = useAsync(
    () =>
      marketId
        ? api<{ items: MeterAssignment[] }>('GET', `/api/v1/markets/${marketId}/meters`)
        : Promise.resolve({ items: [] as MeterAssignment[] }),
    [marketId],
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    setNotice(null);
    setError(null);
    if (!marketId || !accountId || !sensorId) {
      setError(new Error(t('common.pleaseFix')));
      return;
    }
    setBusy(true);
    try {
      await api('PUT', `/api/v1/markets/${marketId}/meters/${accountId}`, { sensor_id: Number(sensorId) });
      setNotice(t('operator.meterAssigned'));
      assigned.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="h-meters">
      <h2 id="h-meters">{t('operator.meters')}</h2>
      <ErrorBox error={accounts.error || sensors.error} />
      <form class="inline" onSubmit={submit} noValidate>
        <SelectField id={meterIds.market} name="market" label={t('market.pick')} value={marketId} onValue={setMarketId} options={markets.map((m) => ({ value: String(m.id), label: m.name }))} />
        <SelectField
          id={meterIds.account}
          name="account_id"
          label={t('operator.meterAccount')}
          value={accountId}
          onValue={(v) => {
            setAccountId(v);
            setSensorId('');
          }}
          options={[{ value: '', label: t('operator.pickAccount') }, ...(accounts.data?.items || []).map((a) => ({ value: String(a.id), label: `${a.name} (#${a.id})` }))]}
        />
        <SelectField
          id={meterIds.sensor}
          name="sensor_id"
          label={t('operator.meterSensor')}
          value={sensorId}
          onValue={setSensorId}
          disabled={!accountId}
          options={[{ value: '', label: t('operator.pickSensor') }, ...powerSensors.map((s) => ({ value: String(s.id), label: `${s.name} (#${s.id}, ${s.unit})` }))]}
        />
        <div>
          <button type="submit" disabled={busy}>
            {t('operator.assignMeter')}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      <Notice text={notice} />
      <ErrorBox error={assigned.error} />
      <Table
        caption={t('operator.currentMeters')}
        rows={assigned.data?.items || []}
        rowKey={(x) => x.account_id}
        initialSort={{ key: 'account_name', dir: 'asc' }}
        columns={[
          { key: 'account_name', label: t('operator.meterAccount'), render: (x) => `${x.account_name} (#${x.account_id})` },
          { key: 'sensor_name', label: t('operator.meterSensor'), render: (x) => `${x.sensor_name} (#${x.sensor_id})` },
        ]}
      />
    </section>
  );
}

interface MeterAssignment {
  account_id: number;
  account_name: string;
  sensor_id: number;
  sensor_name: string;
}

const ADVANCE = ['PT15M', 'PT1H', 'PT6H', 'P1D'];
const advId = fieldId('advance');

function Clock({ markets, onAdvanced }: { markets: Market[]; onAdvanced: () => void }) {
  const now = useMarketNow(1000);
  const tz = markets[0]?.timezone || 'UTC';
  const [by, setBy] = useState('PT1H');
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [busy, setBusy] = useState(false);
  const advance = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api<Record<string, unknown>>('POST', '/api/v1/admin/clock/advance', { by });
      if (typeof r.now === 'string') noteMarketNow(r.now);
      setResult(r);
      onAdvanced();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="h-clock">
      <h2 id="h-clock">{t('operator.clock')}</h2>
      <dl class="kpis">
        <div>
          <dt>{t('operator.clockNow')}</dt>
          <dd class="kpi" data-now={new Date(now).toISOString()}>
            {formatInstant(now, tz, { seconds: true })}
          </dd>
        </div>
      </dl>
      <form class="inline" onSubmit={advance}>
        <SelectField id={advId} name="by" label={t('operator.advanceBy')} value={by} onValue={setBy} options={ADVANCE.map((d) => ({ value: d, label: formatIsoDuration(d) }))} />
        <div>
          <button type="submit" disabled={busy}>
            {t('operator.advance')}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      {result && (
        <div class="notice" role="status">
          {typeof result.now === 'string' && <p>{t('operator.advanced', { now: formatInstant(result.now, tz) })}</p>}
          <dl class="kpis">
            {Object.entries(result)
              .filter(([k]) => k !== 'now')
              .map(([k, v]) => (
                <div key={k}>
                  <dt>{tDyn('operator.ran.' + k, k)}</dt>
                  <dd>{String(v)}</dd>
                </div>
              ))}
          </dl>
        </div>
      )}
    </section>
  );
}

/** GET .../book (operators: every bid); until the server has it, the clearing's aggregated curves. */
let bookRouteMissing = false; // a server without the route answers 404 code not_found for the path itself
async function loadBook(m: Market, slot: string): Promise<{ book?: Book; clearing?: Clearing }> {
  const base = `/api/v1/markets/${m.id}/clearings/${encodeURIComponent(slot)}`;
  if (!bookRouteMissing) {
    try {
      return { book: await api<Book>('GET', base + '/book') };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      if (/no such endpoint/i.test(e.message)) bookRouteMissing = true;
    }
  }
  return { clearing: await api<Clearing>('GET', base) };
}

function SlotBook({ market, slot, version }: { market: Market; slot: string; version: number }) {
  const b = useAsync(() => loadBook(market, slot), [market.id, slot, version]);
  const digits = tickDigits(market.volume_tick_kwh);
  const who = useAccountNames();
  if (b.error) return <ErrorBox error={b.error} onRetry={b.reload} />;
  if (!b.data) return <p class="muted">{t('common.loading')}</p>;
  const { book, clearing } = b.data;
  const demand = book ? book.buy.map((p) => ({ price: p.price, volume_kwh: p.cumulative_volume })) : clearing!.demand;
  const supply = book ? book.sell.map((p) => ({ price: p.price, volume_kwh: p.cumulative_volume })) : clearing!.supply;
  const price = book ? book.clearing_price : clearing!.price;
  const volume = book ? book.cleared_volume : clearing!.volume_kwh;
  return (
    <div class="slot-book">
      <h3>
        {t('operator.books')}: {formatInstant(slot, market.timezone)}
      </h3>
      {(book ? book.state : clearing?.state) === 'no_bids' ? (
        <p class="muted">{t('operator.noBidsInSlot')}</p>
      ) : (
        <DepthChart market={market} demand={demand} supply={supply} price={price} volume={volume} slot={slot} />
      )}
      {book?.bids ? (
        <Table
          caption={t('market.bidsInBook')}
          rows={book.bids}
          rowKey={(x) => x.id}
          initialSort={{ key: 'price', dir: 'desc' }}
          columns={[
            { key: 'id', label: t('operator.bidId'), numeric: true },
            { key: 'account_id', label: t('market.account'), sortValue: (x) => who(x.account_id), render: (x) => who(x.account_id) },
            { key: 'side', label: t('market.side'), render: (x) => <span class={'badge ' + x.side}>{x.side === 'buy' ? t('market.buy') : t('market.sell')}</span> },
            { key: 'volume_kwh', label: t('market.volume'), numeric: true, render: (x) => formatKWh(x.volume_kwh, digits) },
            { key: 'price', label: t('market.price', { unit: market.price_unit }), numeric: true, render: (x) => formatPrice(x.price, market.currency) },
            { key: 'filled_kwh', label: t('market.filled'), numeric: true, render: (x) => formatKWh(x.filled_kwh, digits) },
            { key: 'status', label: t('market.status'), render: (x) => tDyn('state.' + x.status, String(x.status)) },
          ]}
        />
      ) : (
        <p class="muted legend-note">{t('operator.bookUnavailable')}</p>
      )}
    </div>
  );
}

const bookMarketId = fieldId('bookmarket');

function Books({ markets, version }: { markets: Market[]; version: number }) {
  const [marketId, setMarketId] = useState(markets[0]?.id ?? 0);
  const market = markets.find((m) => m.id === marketId) || markets[0];
  const [slot, setSlot] = useState<string | null>(null);
  const list = usePaged((page, per) => api<Page<ClearingSummary>>('GET', `/api/v1/markets/${market.id}/clearings` + qs({ page, per_page: per })), [market.id, version], 12);
  // by default the newest slot that had bids (slots without any have no book to show)
  const items = list.data?.items || [];
  const selected = slot || (items.find((x) => x.state !== 'no_bids' && x.state !== 'pending') || items[0])?.slot_start || null;
  return (
    <section class="card" aria-labelledby="h-books">
      <h2 id="h-books">{t('operator.books')}</h2>
      {markets.length > 1 && (
        <SelectField id={bookMarketId} name="market" label={t('market.pick')} value={String(market.id)} onValue={(v) => { setMarketId(Number(v)); setSlot(null); }} options={markets.map((m) => ({ value: String(m.id), label: m.name }))} />
      )}
      <ErrorBox error={list.error} onRetry={list.reload} />
      <div class="grid two">
        <Table
          rows={list.data?.items || []}
          loading={!list.data && !list.error}
          rowKey={(r) => r.slot_start}
          server={list.server}
          empty={t('dashboard.noCleared')}
          rowClass={(r) => (r.slot_start === selected ? 'selected' : undefined)}
          columns={[
            { key: 'slot', label: t('market.slot'), render: (r) => formatInstant(r.slot_start, market.timezone) },
            { key: 'state', label: t('market.state'), render: (r) => <span class={'badge ' + r.state}>{tDyn('state.' + r.state, r.state)}</span> },
            { key: 'price', label: t('market.clearingPrice'), numeric: true, render: (r) => formatPrice(r.price, market.currency) },
            { key: 'volume_kwh', label: t('market.clearedVolume'), numeric: true, render: (r) => formatKWh(r.volume_kwh, tickDigits(market.volume_tick_kwh)) },
            { key: 'bid_count', label: t('market.bids'), numeric: true },
            {
              key: 'act',
              label: t('market.book'),
              sortable: false,
              render: (r) => (
                <button type="button" class="small secondary" aria-pressed={r.slot_start === selected ? 'true' : 'false'} onClick={() => setSlot(r.slot_start)}>
                  {t('operator.showBook')}
                </button>
              ),
            },
          ]}
        />
        <div>{selected && <SlotBook market={market} slot={selected} version={version} />}</div>
      </div>
    </section>
  );
}

export default function Operator(_props: PageProps) {
  const markets = useAsync(() => loadMarkets(), []);
  const [version, setVersion] = useState(0);
  const bump = useDebounced(() => setVersion((v) => v + 1), 200);
  useServerEvents((ev) => {
    if (ev.type === 'cleared' || ev.type === 'resync') bump();
  });
  const list = markets.data || [];
  const tz = list[0]?.timezone;
  return (
    <section>
      <h1>{t('operator.title')}</h1>
      {tz && <p class="muted">{t('common.timezone', { tz, offset: tzOffset(marketNow(), tz) })}</p>}
      <ErrorBox error={markets.error} onRetry={markets.reload} />
      {markets.data && (
        <>
          <Clock markets={list} onAdvanced={bump} />
          <Markets
            markets={list}
            onChanged={() => {
              reloadMarkets().then((m) => markets.setData(m), () => markets.reload());
            }}
          />
          <Meters markets={list} />
          {list.length > 0 && <Books markets={list} version={version} />}
        </>
      )}
    </section>
  );
}
