// Aggregator portfolios (/flexibility): the API's shapes (src/services/portfolio_*.cpp) and the
// pure shaping the page draws from: an offer curve → chart series, the automation's steps →
// table rows, the value report's totals, members' setpoints on one time axis. No DOM;
// unit-tested in portfolios.test.ts.

export type MemberState = 'invited' | 'active' | 'refused' | 'leaving' | 'left';

export interface PortfolioMember {
  asset_id: number;
  name: string;
  type: string;
  owner_account_id: number;
  owner_account_name?: string;
  meter_sensor_id: number;
  state: MemberState | string;
  settings: Record<string, unknown>;
  invited_at: string;
  accepted_at: string | null;
  leaves_at: string | null;
  soc_kwh: number | null;
  soc_at: string | null;
}

export interface Portfolio {
  id: number;
  name: string;
  account_id: number;
  account_name?: string;
  sharing?: string;
  market_id: number;
  currency: string;
  meter_sensor_id: number;
  price_sensor_id: number | null;
  price_steps: number;
  horizon: string;
  notice: string;
  fee_percent: number;
  paused: boolean;
  active_members: number;
  /** The aggregator and operators see every member; an owner only its own assets. */
  members: PortfolioMember[];
  created_at?: string;
}

export interface Binding {
  at_max_charge: number;
  at_max_discharge: number;
  soc_at_max: number;
  soc_at_min: number;
  curtailed: number;
}

export interface OfferStep {
  price: number;
  /** The portfolio's net power in the slot at this price; positive: it buys. */
  net_kw: number;
  volume_kwh: number;
  side: 'buy' | 'sell' | 'none';
  binding: Binding;
}

export interface PlacedBid {
  id: number;
  side: 'buy' | 'sell';
  price: number;
  volume_kwh: number;
}

/** GET /api/v1/portfolios/{id}/offers (also a cycle step's detail.offer). */
export interface Offer {
  slot_start: string;
  gate_closure?: string;
  currency?: string;
  expected_price?: number;
  price_basis?: string;
  state_of_charge?: { asset_id: number; name: string; soc_kwh: number }[];
  steps: OfferStep[];
  bids?: PlacedBid[];
  /** true: computed now, not bid (yet). */
  preview: boolean;
  /** The state of the cycle step that bid it (when not a preview). */
  state?: string;
  warnings?: string[];
  /** Why there is no curve (e.g. no active members). */
  note?: string;
}

export interface Commitment {
  slot_start: string;
  quantity_kw: number;
  planned_kw: number;
  up_price: number;
  down_price: number;
}

export interface CycleDetail {
  plan_start?: string;
  solver?: string;
  offer?: Offer;
  commitments?: Commitment[];
  members?: { asset_id: number; name: string; setpoint_kw: number; soc_kwh?: number }[];
  warnings?: string[];
  skipped?: string;
  note?: string;
  error?: string;
}

export interface ShareDetail {
  version?: number;
  currency?: string;
  statement?: { contracted_kwh: number; metered_kwh: number; imbalance_kwh: number; trade_amount: number; imbalance_amount: number; total: number };
  fee?: number;
  members?: { asset_id: number; account_id?: number; share: number; delivered_kwh: number; traded_kwh?: number; metered_kwh?: number; baseline_kwh?: number; setpoint_kwh?: number }[];
  skipped?: string;
  error?: string;
}

/** GET /api/v1/portfolios/{id}/steps items. */
export interface AutomationStep {
  slot_start: string;
  step: 'cycle' | 'share' | string;
  state: string;
  job_id: number | null;
  version?: number;
  created_at?: string;
  updated_at?: string;
  detail: (CycleDetail & ShareDetail) | null;
}

export interface ValueMember {
  asset_id: number;
  name: string;
  type: string;
  owner_account_id: number;
  owner_account_name?: string;
  slots: number;
  energy_traded_kwh: number;
  delivered_kwh: number;
  curtailment_kwh: number;
  shifting_kwh_h: number;
  metered_kwh: number;
  baseline_kwh: number;
  baseline_cost: number;
  actual_cost: number;
  share: number;
  benefit: number;
}

export interface ValueMarket {
  statements: number;
  sold_kwh: number;
  bought_kwh: number;
  imbalance_kwh: number;
  trade_amount: number;
  imbalance_amount: number;
  total: number;
  fee: number;
  shared: number;
}

/** GET /api/v1/portfolios/{id}/value. `market` only for the aggregator and operators. */
export interface ValueReport {
  portfolio_id: number;
  start: string;
  end: string;
  currency: string;
  members: ValueMember[];
  market?: ValueMarket;
}

export interface Setpoints {
  asset_id: number;
  resolution: string;
  items: { start: string; power_kw: number }[];
}

// ---------------------------------------------------------------- the offer curve

function byPrice(steps: OfferStep[]): OfferStep[] {
  return [...steps].sort((a, b) => a.price - b.price);
}

/**
 * What the market takes from the portfolio's bids at a clearing price `p` (kW, buying positive).
 * The automation bids the curve so that buy volume at p is the curve's buying at the lowest
 * step price ≥ p, and sell volume the curve's selling at the highest step price ≤ p
 * (portfolio_planning.cpp, bids_of). At a step's own price that is the step's net_kw; between
 * a buying and a selling step it is 0.
 */
export function netAt(steps: OfferStep[], p: number): number {
  const s = byPrice(steps);
  if (!s.length) return 0;
  let buy = 0;
  let sell = 0;
  const above = s.find((x) => x.price >= p - 1e-9);
  if (above) buy = Math.max(0, above.net_kw);
  for (const x of s) if (x.price <= p + 1e-9) sell = Math.max(0, -x.net_kw);
  return buy - sell;
}

export interface OfferChartData {
  /** prices, ascending: every step's price and the expected price. */
  x: number[];
  /** what the bids make of a clearing price from x[i] up to x[i+1] (drawn as steps, align 1). */
  curve: (number | null)[];
  /** each step's own net kW at its price; null at the expected price if it is not a step's. */
  steps: (number | null)[];
  /** the portfolio's net kW at the expected price, null elsewhere. */
  expected: (number | null)[];
}

/**
 * The offer curve on a price axis: the curve as the market will take it (steps between the
 * step prices), the steps as points, and the expected price as a point on the curve.
 */
export function offerChartData(steps: OfferStep[], expectedPrice?: number | null): OfferChartData {
  const s = byPrice(steps);
  const prices = s.map((x) => x.price);
  const hasExp = typeof expectedPrice === 'number' && Number.isFinite(expectedPrice) && s.length > 0;
  if (hasExp && !prices.some((p) => Math.abs(p - expectedPrice!) < 1e-9)) prices.push(expectedPrice!);
  const x = [...new Set(prices)].sort((a, b) => a - b);
  // the value on (x[i], x[i+1]): any price strictly between, e.g. the midpoint
  const curve = x.map((p, i) => (i + 1 < x.length ? netAt(s, (p + x[i + 1]) / 2) : netAt(s, p)));
  const stepAt = (p: number) => s.find((q) => Math.abs(q.price - p) < 1e-9);
  return {
    x,
    curve,
    steps: x.map((p) => stepAt(p)?.net_kw ?? null),
    expected: x.map((p) => (hasExp && Math.abs(p - expectedPrice!) < 1e-9 ? netAt(s, p) : null)),
  };
}

export interface BindingTotals extends Binding {
  /** steps with at least one device at a limit */
  limited: number;
}

/** How often each limit binds over the curve's steps (the "why" of its shape). */
export function bindingTotals(steps: OfferStep[]): BindingTotals {
  const out: BindingTotals = { at_max_charge: 0, at_max_discharge: 0, soc_at_max: 0, soc_at_min: 0, curtailed: 0, limited: 0 };
  for (const s of steps) {
    const b = s.binding || ({} as Binding);
    let any = false;
    for (const k of ['at_max_charge', 'at_max_discharge', 'soc_at_max', 'soc_at_min', 'curtailed'] as const) {
      const v = b[k] || 0;
      out[k] += v;
      any ||= v > 0;
    }
    if (any) out.limited += 1;
  }
  return out;
}

/** The bids placed for an offer, summed per side (kWh). */
export function bidTotals(bids: PlacedBid[] | undefined): { buy_kwh: number; sell_kwh: number; count: number } {
  const out = { buy_kwh: 0, sell_kwh: 0, count: 0 };
  for (const b of bids || []) {
    if (b.side === 'buy') out.buy_kwh += b.volume_kwh;
    else out.sell_kwh += b.volume_kwh;
    out.count += 1;
  }
  out.buy_kwh = round6(out.buy_kwh);
  out.sell_kwh = round6(out.sell_kwh);
  return out;
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

// ---------------------------------------------------------------- the automation's steps

export interface StepRow {
  key: string;
  slot_start: string;
  step: string;
  state: string;
  job_id: number | null;
  /** cycle: the bids placed for the slot (kWh per side); null when none were placed. */
  offered: { buy_kwh: number; sell_kwh: number; count: number } | null;
  /** cycle: what the portfolio traded for its slot (kW, buying positive), once a later cycle knew it. */
  cleared_kw: number | null;
  /** cycle: the plan's net power for the slot at that later cycle (kW). */
  planned_kw: number | null;
  /** share: the statement's total and the fee kept (money). */
  total: number | null;
  fee: number | null;
  /** share: the statement's contracted and metered energy (kWh, export positive). */
  contracted_kwh: number | null;
  metered_kwh: number | null;
  warnings: string[];
}

/**
 * The steps as table rows. A cycle's slot is cleared after the step ran, so its traded and
 * planned power come from the commitments of a later cycle (the latest that lists the slot).
 */
export function stepRows(items: AutomationStep[]): StepRow[] {
  const commitments = new Map<number, { at: number; c: Commitment }>();
  for (const it of items) {
    if (it.step !== 'cycle' || !it.detail?.commitments) continue;
    const at = Date.parse(it.slot_start);
    for (const c of it.detail.commitments) {
      const k = Date.parse(c.slot_start);
      const prev = commitments.get(k);
      if (!prev || prev.at < at) commitments.set(k, { at, c });
    }
  }
  return items.map((it) => {
    const d = it.detail || {};
    const warnings = [...(d.warnings || [])];
    if (d.skipped) warnings.push(d.skipped);
    if (d.note) warnings.push(d.note);
    if (d.error) warnings.push(d.error);
    const row: StepRow = {
      key: `${it.slot_start}|${it.step}|${it.version ?? ''}`,
      slot_start: it.slot_start,
      step: it.step,
      state: it.state,
      job_id: it.job_id,
      offered: null,
      cleared_kw: null,
      planned_kw: null,
      total: null,
      fee: null,
      contracted_kwh: null,
      metered_kwh: null,
      warnings,
    };
    if (it.step === 'cycle') {
      if (d.offer?.bids) row.offered = bidTotals(d.offer.bids);
      const c = commitments.get(Date.parse(it.slot_start))?.c;
      if (c) {
        row.cleared_kw = c.quantity_kw;
        row.planned_kw = c.planned_kw;
      }
    } else if (d.statement) {
      row.total = d.statement.total;
      row.fee = d.fee ?? null;
      row.contracted_kwh = d.statement.contracted_kwh;
      row.metered_kwh = d.statement.metered_kwh;
    }
    return row;
  });
}

// ---------------------------------------------------------------- value

export const VALUE_FIELDS = ['delivered_kwh', 'curtailment_kwh', 'shifting_kwh_h', 'energy_traded_kwh', 'metered_kwh', 'baseline_kwh', 'share', 'baseline_cost', 'actual_cost', 'benefit', 'slots'] as const;
export type ValueField = (typeof VALUE_FIELDS)[number];

/**
 * The members' sums of every value field. Money sums are rounded to the currency's minor unit
 * (`digits`) so that they match the rounded parts; energies to 6 decimals like the API.
 */
export function valueTotals(rows: ValueMember[], digits = 2): Record<ValueField, number> {
  const money = new Set<ValueField>(['share', 'baseline_cost', 'actual_cost', 'benefit']);
  const out = {} as Record<ValueField, number>;
  for (const f of VALUE_FIELDS) {
    if (money.has(f)) {
      // add in minor units: no binary-fraction drift in the total
      const unit = Math.pow(10, digits);
      out[f] = rows.reduce((s, r) => s + Math.round((r[f] || 0) * unit), 0) / unit;
    } else {
      out[f] = round6(rows.reduce((s, r) => s + (r[f] || 0), 0));
    }
  }
  return out;
}

// ---------------------------------------------------------------- members and setpoints

/**
 * What the caller may do with a member: its owner accepts or refuses an invitation and leaves
 * (with the portfolio's notice); the portfolio's aggregator lets an active member leave or
 * withdraws an invitation. `aggregator`: the caller's account runs the portfolio.
 */
export function memberActions(m: Pick<PortfolioMember, 'state' | 'owner_account_id'>, who: { account_id: number; aggregator: boolean; admin: boolean }): ('accept' | 'refuse' | 'leave')[] {
  const owner = who.account_id === m.owner_account_id || who.admin;
  const out: ('accept' | 'refuse' | 'leave')[] = [];
  if (m.state === 'invited' && owner) out.push('accept', 'refuse');
  // an owner refuses an invitation; the aggregator withdraws it (leave ends it at once)
  if (m.state === 'active' && (owner || who.aggregator)) out.push('leave');
  if (m.state === 'invited' && who.aggregator && !owner) out.push('leave');
  return out;
}

/** Parses the invite form's settings text: an object, or '' for none. Returns the object or an error key. */
export function parseSettings(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: 'notJson' | 'notObject' } {
  const s = text.trim();
  if (!s) return { ok: true, value: {} };
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return { ok: false, error: 'notJson' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'notObject' };
  return { ok: true, value: v as Record<string, unknown> };
}

/**
 * Several members' setpoints on one time axis (Unix seconds, ascending): one column per
 * member, null where it has no setpoint.
 */
export function alignSetpoints(list: Setpoints[]): { x: number[]; ys: (number | null)[][] } {
  const times = new Set<number>();
  for (const s of list) for (const it of s.items) times.add(Date.parse(it.start) / 1000);
  const x = [...times].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = list.map((s) => {
    const col: (number | null)[] = x.map(() => null);
    for (const it of s.items) col[index.get(Date.parse(it.start) / 1000)!] = it.power_kw;
    return col;
  });
  return { x, ys };
}
