// API shapes these pages use (as the server returns them; see docs/openapi.json).
import type { Asset } from '../types';

/** An asset with the device fields the asset and portfolio pages edit and plan with. */
export interface AssetFull extends Asset {
  storage_capacity_kwh?: number | null;
  max_charge_kw?: number | null;
  max_discharge_kw?: number | null;
  charge_efficiency?: number | null;
  discharge_efficiency?: number | null;
  soc_min_kwh?: number | null;
  soc_max_kwh?: number | null;
  created_at?: string;
}

export interface SensorFull {
  id: number;
  account_id: number;
  asset_id: number | null;
  name: string;
  unit: string;
  event_resolution: string;
  timezone: string;
  public: boolean;
  created_at?: string;
}

export interface ScheduleSummary {
  id: number;
  asset_id: number;
  state: string;
  start: string;
  end: string;
  past_window: boolean;
  created_at: string;
  finished_at: string | null;
  error: string | null;
  url: string;
}

export interface ScheduleDevice {
  asset_id: number;
  name?: string;
  type?: string;
  sensor_id?: number;
  power_kw: (number | null)[];
  soc_kwh?: (number | null)[];
  planned_cost?: number | null;
  baseline_cost?: number | null;
  baseline_power_kw?: (number | null)[];
}

export interface Schedule extends ScheduleSummary {
  currency?: string;
  resolution?: string;
  planned_cost?: number | null;
  baseline_cost?: number | null;
  savings?: number | null;
  warnings?: string[];
  solver?: string;
  cancel_requested?: boolean;
  devices?: ScheduleDevice[];
  site_power_kw?: (number | null)[];
  request?: Record<string, unknown>;
}

export interface UserRow {
  id: number;
  email: string;
  account: { id: number; name: string };
  roles: string[];
  active: boolean;
  created_at: string;
}

export interface AccountRow {
  id: number;
  name: string;
  created_at?: string;
}

export interface PersonalToken {
  id: number;
  name: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  state: string;
  token?: string;
}

export const FLEXIBLE_TYPES = ['battery', 'ev_charger_oneway', 'ev_charger_twoway', 'shiftable_load'];
export const ASSET_TYPES = ['site', 'meter', 'battery', 'ev_charger_oneway', 'ev_charger_twoway', 'pv', 'wind', 'load', 'shiftable_load'];
export const ROLES = ['admin', 'operator', 'aggregator', 'participant', 'meter'];

/** Fetch every page of a paged list (per_page 500). */
export async function allPages<T>(get: (page: number) => Promise<{ items: T[]; total: number; per_page: number }>): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; page < 100; page++) {
    const r = await get(page);
    out.push(...r.items);
    if (out.length >= r.total || r.items.length === 0) break;
  }
  return out;
}
