// Next slots with countdowns, the bid form, and the caller's open bids with edit/cancel until gate closure.
import { useEffect, useState } from 'preact/hooks';
import { api, qs, type Page } from '../../api';
import { nextSlots } from '../../charts';
import { useMarketNow } from '../../clock';
import { Countdown } from '../../components/Countdown';
import { ErrorBox, Notice } from '../../components/ErrorBox';
import { fieldId, hasErrors, SelectField, TextField, validate, type Errors } from '../../components/Form';
import { Table } from '../../components/Table';
import { formatInstant, formatKWh, formatPrice, parseIsoDuration } from '../../format';
import { useAsync } from '../../hooks';
import { t, tDyn } from '../../i18n';
import { tickDigits } from '../../markets';
import type { Bid, Market, NextSlot } from '../../types';

const SLOT_CHOICES = 24;

export function NextSlotsCard({ market, next, onPick }: { market: Market; next: NextSlot | undefined; onPick: (slot: string) => void }) {
  const slotMs = parseIsoDuration(market.slot_length);
  const leadMs = parseIsoDuration(market.gate_closure_lead);
  const slots = next ? nextSlots(next.slot_start, slotMs, 6) : [];
  return (
    <section class="card" aria-labelledby="h-nextslots">
      <h2 id="h-nextslots">{t('market.nextSlots')}</h2>
      <Table
        rows={slots}
        rowKey={(s) => s}
        pageSize={6}
        columns={[
          { key: 'slot', label: t('market.slot'), sortable: false, render: (s) => formatInstant(s, market.timezone) },
          { key: 'gate', label: t('market.gateClosure'), sortable: false, render: (s) => formatInstant(Date.parse(s) - leadMs, market.timezone) },
          { key: 'cd', label: t('market.countdown'), sortable: false, render: (s) => <Countdown to={Date.parse(s) - leadMs} /> },
          {
            key: 'stats',
            label: t('market.participants') + ' / ' + t('market.bids'),
            sortable: false,
            numeric: true,
            render: (s) => (next && s === next.slot_start ? `${next.participants} / ${next.bids}` : '–'),
          },
          {
            key: 'avg',
            label: t('market.avgPrice'),
            sortable: false,
            numeric: true,
            render: (s) => (next && s === next.slot_start ? (next.averages_hidden ? t('market.hidden') : formatPrice(next.average_price, market.currency)) : '–'),
          },
          {
            key: 'act',
            label: t('market.actions'),
            sortable: false,
            render: (s) => (
              <button type="button" class="small secondary" onClick={() => onPick(s)}>
                {t('market.placeBid')}
              </button>
            ),
          },
        ]}
      />
    </section>
  );
}

const ids = { side: fieldId('side'), slot: fieldId('slot'), volume: fieldId('volume'), price: fieldId('price') };

export function BidForm({ market, next, pickedSlot, onPlaced }: { market: Market; next: NextSlot | undefined; pickedSlot: string | null; onPlaced: (b: Bid) => void }) {
  const slotMs = parseIsoDuration(market.slot_length);
  const slots = next ? nextSlots(next.slot_start, slotMs, SLOT_CHOICES) : [];
  const [side, setSide] = useState<'buy' | 'sell'>('buy');
  const [slot, setSlot] = useState('');
  const [volume, setVolume] = useState('');
  const [price, setPrice] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (pickedSlot) setSlot(pickedSlot);
  }, [pickedSlot]);
  // keep the chosen slot valid as slots close
  const slotValue = slots.includes(slot) ? slot : slots[0] || '';

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Errors = {
      slot: slotValue ? undefined : t('common.required'),
      volume: validate.number(volume, { positive: true, step: market.volume_tick_kwh }),
      price: validate.number(price, { min: market.price_min, max: market.price_max, step: market.price_tick }),
    };
    setErrors(errs);
    setNotice(null);
    if (hasErrors(errs)) return;
    setBusy(true);
    setError(null);
    try {
      const b = await api<Bid>('POST', `/api/v1/markets/${market.id}/bids`, { side, slot_start: slotValue, volume_kwh: Number(volume), price: Number(price) });
      setNotice(t('market.bidPlaced', { id: b.id }));
      setVolume('');
      onPlaced(b);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="h-bidform">
      <h2 id="h-bidform">{t('market.placeBid')}</h2>
      <form class="inline bid-form" onSubmit={submit} noValidate>
        <fieldset class="field">
          <legend>{t('market.side')}</legend>
          <div class="radio-row">
            <label>
              <input type="radio" name="side" value="buy" checked={side === 'buy'} onChange={() => setSide('buy')} /> {t('market.buy')}
            </label>
            <label>
              <input type="radio" name="side" value="sell" checked={side === 'sell'} onChange={() => setSide('sell')} /> {t('market.sell')}
            </label>
          </div>
        </fieldset>
        <SelectField
          id={ids.slot}
          name="slot_start"
          label={t('market.slot')}
          value={slotValue}
          onValue={setSlot}
          error={errors.slot}
          // the offset is stated once beside the market's name: the select stays narrow
          options={slots.map((s) => ({ value: s, label: formatInstant(s, market.timezone, { offset: false }) }))}
        />
        <TextField id={ids.volume} name="volume_kwh" type="number" inputMode="decimal" min="0" step={String(market.volume_tick_kwh)} label={t('market.volume')} value={volume} onValue={setVolume} error={errors.volume} />
        <TextField
          id={ids.price}
          name="price"
          type="number"
          inputMode="decimal"
          min={String(market.price_min)}
          max={String(market.price_max)}
          step={String(market.price_tick)}
          label={t('market.price', { unit: market.price_unit })}
          hint={`${market.price_min}–${market.price_max}`}
          value={price}
          onValue={setPrice}
          error={errors.price}
        />
        <div>
          <button type="submit" disabled={busy || !slots.length}>
            {t('market.submitBid')}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      <Notice text={notice} />
    </section>
  );
}

function BidActions({ bid, onEdit, onCancel }: { bid: Bid; onEdit: () => void; onCancel: () => void }) {
  const now = useMarketNow(500);
  if (bid.status !== 'open' || Date.parse(bid.gate_closure) <= now) return <span class="muted">{t('market.gateClosed')}</span>;
  return (
    <div class="actions">
      <button type="button" class="small secondary" onClick={onEdit} aria-label={t('common.edit') + ' ' + bid.id}>
        {t('common.edit')}
      </button>
      <button type="button" class="small danger" onClick={onCancel} aria-label={t('common.cancel') + ' ' + bid.id}>
        {t('common.cancel')}
      </button>
    </div>
  );
}

function EditBid({ market, bid, onDone, onError }: { market: Market; bid: Bid; onDone: (b: Bid | null) => void; onError: (e: unknown) => void }) {
  const [volume, setVolume] = useState(String(bid.volume_kwh));
  const [price, setPrice] = useState(String(bid.price));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const eid = { v: 'edit-vol-' + bid.id, p: 'edit-price-' + bid.id };
  const save = async (e: Event) => {
    e.preventDefault();
    const errs: Errors = {
      volume: validate.number(volume, { positive: true, step: market.volume_tick_kwh }),
      price: validate.number(price, { min: market.price_min, max: market.price_max, step: market.price_tick }),
    };
    setErrors(errs);
    if (hasErrors(errs)) return;
    setBusy(true);
    try {
      const b = await api<Bid>('PATCH', `/api/v1/bids/${bid.id}`, { volume_kwh: Number(volume), price: Number(price) });
      onDone(b);
    } catch (err) {
      onError(err);
      setBusy(false);
    }
  };
  return (
    <form class="inline edit-bid" onSubmit={save} noValidate aria-label={t('common.edit') + ' ' + bid.id}>
      <TextField id={eid.v} name="volume_kwh" type="number" step={String(market.volume_tick_kwh)} label={t('market.volume')} value={volume} onValue={setVolume} error={errors.volume} />
      <TextField id={eid.p} name="price" type="number" step={String(market.price_tick)} label={t('market.price', { unit: market.price_unit })} value={price} onValue={setPrice} error={errors.price} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {t('common.save')}
        </button>
        <button type="button" class="secondary" onClick={() => onDone(null)}>
          {t('common.close')}
        </button>
      </div>
    </form>
  );
}

export function MyBids({ market, version, onChanged }: { market: Market; version: number; onChanged: () => void }) {
  const bids = useAsync(() => api<Page<Bid>>('GET', `/api/v1/markets/${market.id}/bids` + qs({ status: 'open', per_page: 500 })), [market.id, version]);
  const [editing, setEditing] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const digits = tickDigits(market.volume_tick_kwh);

  const cancel = async (b: Bid) => {
    setError(null);
    setNotice(null);
    try {
      await api('DELETE', `/api/v1/bids/${b.id}`);
      setNotice(t('market.bidCancelled', { id: b.id }));
      onChanged();
      bids.reload();
    } catch (e) {
      setError(e);
      bids.reload();
    }
  };

  const rows = bids.data?.items || [];
  const now = useMarketNow(1000);
  const editBid = rows.find((b) => b.id === editing && Date.parse(b.gate_closure) > now);
  return (
    <section class="card" aria-labelledby="h-mybids">
      <h2 id="h-mybids">{t('market.openBids')}</h2>
      <ErrorBox error={bids.error} onRetry={bids.reload} />
      <ErrorBox error={error} />
      <Notice text={notice} />
      {editBid && (
        <EditBid
          market={market}
          bid={editBid}
          onDone={(b) => {
            setEditing(null);
            if (b) {
              setNotice(t('market.bidChanged', { id: b.id }));
              onChanged();
              bids.reload();
            }
          }}
          onError={(e) => {
            setError(e);
            setEditing(null);
            bids.reload();
          }}
        />
      )}
      <Table
        rows={rows}
        rowKey={(b) => b.id}
        loading={!bids.data && !bids.error}
        initialSort={{ key: 'slot', dir: 'asc' }}
        empty={t('dashboard.noOpenBids')}
        columns={[
          { key: 'id', label: '#', numeric: true },
          { key: 'slot', label: t('market.slot'), sortValue: (b) => b.slot_start, render: (b) => formatInstant(b.slot_start, market.timezone) },
          { key: 'side', label: t('market.side'), render: (b) => <span class={'badge ' + b.side}>{b.side === 'buy' ? t('market.buy') : t('market.sell')}</span> },
          { key: 'volume_kwh', label: t('market.volume'), numeric: true, render: (b) => formatKWh(b.volume_kwh, digits) },
          { key: 'price', label: t('market.price', { unit: market.price_unit }), numeric: true, render: (b) => formatPrice(b.price, market.currency) },
          { key: 'status', label: t('market.status'), render: (b) => tDyn('state.' + b.status, b.status) },
          { key: 'gate', label: t('market.countdown'), sortValue: (b) => b.gate_closure, render: (b) => <Countdown to={b.gate_closure} /> },
          {
            key: 'actions',
            label: t('market.actions'),
            sortable: false,
            render: (b) => (
              <BidActions
                bid={b}
                onEdit={() => {
                  setError(null);
                  setNotice(null);
                  setEditing(b.id);
                }}
                onCancel={() => cancel(b)}
              />
            ),
          },
        ]}
      />
    </section>
  );
}
