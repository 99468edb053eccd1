// Shapes of API objects the pages use (docs/openapi.json, components.schemas).

export interface Market {
  id: number;
  name: string;
  timezone: string;
  slot_length: string;
  gate_closure_lead: string;
  currency: string;
  minor_unit_digits: number;
  price_tick: number;
  price_min: number;
  price_max: number;
  volume_tick_kwh: number;
  price_rule: 'midpoint' | 'seller' | 'buyer';
  imbalance_price_sensor_id: number | null;
  imbalance_short_factor: number;
  imbalance_long_factor: number;
  settlement_deadline: string;
  price_unit: string;
  volume_unit: string;
  dr_baseline_days?: number;
  dr_baseline_comparable?: string;
}

export interface MarketList {
  items: Market[];
  now: string;
}

export type BidStatus = 'open' | 'cancelled' | 'locked' | 'won' | 'partially_won' | 'lost' | 'executing' | 'settling' | 'settled';

export interface Bid {
  id: number;
  market_id: number;
  side: 'buy' | 'sell';
  slot_start: string;
  gate_closure: string;
  volume_kwh: number;
  price: number;
  status: BidStatus | string;
  filled_kwh: number;
  created_at: string;
  updated_at: string;
}

export interface BidResult extends Bid {
  clearing_price: number | null;
  achievement: number | null;
  settlement_amount: number | null;
  currency: string;
  counterparties?: unknown;
}

export interface NextSlot {
  market_id: number;
  slot_start: string;
  gate_closure: string;
  participants: number;
  bids: number;
  average_price: number | null;
  average_volume_kwh: number | null;
  averages_hidden: boolean;
}

export interface ClearingSummary {
  market_id: number;
  slot_start: string;
  gate_closure: string;
  cleared_at: string | null;
  state: string;
  cleared: boolean;
  price: number | null;
  volume_kwh: number;
  netted_kwh: number;
  bid_count: number;
  trade_count: number;
  currency: string;
}

export interface CurvePoint {
  price: number;
  volume_kwh: number;
}

export interface Trade {
  id: number;
  market_id: number;
  slot_start: string;
  side?: 'buy' | 'sell';
  bid_id?: number;
  buyer_account_id?: number;
  seller_account_id?: number;
  buy_bid_id?: number;
  sell_bid_id?: number;
  volume_kwh: number;
  price: number;
  amount: number;
  currency: string;
}

export interface Clearing {
  market_id: number;
  slot_start: string;
  gate_closure: string;
  cleared_at?: string;
  state: string;
  cleared: boolean;
  price: number | null;
  price_interval?: number[];
  volume_kwh: number;
  netted_kwh: number;
  bids: number;
  demand: CurvePoint[];
  supply: CurvePoint[];
  your_bids?: Bid[];
  trades?: Trade[];
}

/** GET /markets/{id}/clearings/{slot}/book (operators: bids too). */
export interface BookPoint {
  price: number;
  volume: number;
  cumulative_volume: number;
}
export interface Book {
  slot_start: string;
  state: string;
  clearing_price: number | null;
  cleared_volume: number;
  buy: BookPoint[];
  sell: BookPoint[];
  bids?: (Bid & { account_id?: number })[];
}

export interface Settlement {
  market_id?: number;
  slot_start: string;
  account_id: number;
  version: number;
  current: boolean;
  currency: string;
  sold_kwh: number;
  bought_kwh: number;
  contracted_kwh: number;
  metered_kwh: number | null;
  imbalance_kwh: number | null;
  imbalance_price: number | null;
  trade_amount: number;
  imbalance_amount: number | null;
  total: number;
  missing_intervals: number;
}

export interface Job {
  id: number;
  type: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | string;
  account_id: number;
  asset_id: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cancel_requested: boolean;
  error: string | null;
  url: string;
}

export interface Asset {
  id: number;
  account_id: number;
  parent_id: number | null;
  name: string;
  type: string;
  timezone: string;
  latitude: number | null;
  longitude: number | null;
  capacity_kw: number | null;
}

export interface Sensor {
  id: number;
  name: string;
  asset_id: number | null;
  account_id?: number;
  unit: string;
  resolution?: string;
  timezone?: string;
  kind?: string;
  public?: boolean;
}

export interface Account {
  id: number;
  name: string;
  roles?: string[];
}

export interface DayEnergy {
  date: string;
  timezone?: string;
  energy_kwh: Record<string, number | null>;
  coverage: Record<string, number>;
  generate_kwh: number | null;
  consume_kwh: number | null;
}

export interface PowerReading {
  time: string;
  kind: string;
  sensor_id: number;
  power_kw: number;
}

export interface Alert {
  kind: string;
  severity?: 'error' | 'warning' | string;
  message: string;
  at: string;
  link?: string;
}
