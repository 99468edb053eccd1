// Pure form → API body helpers (unit-tested in forms.test.ts).

export interface AssetDraft {
  name: string;
  type: string;
  parent_id: string;
  account_id: string;
  timezone: string;
  latitude: string;
  longitude: string;
  capacity_kw: string;
  storage_capacity_kwh: string;
  max_charge_kw: string;
  max_discharge_kw: string;
  charge_efficiency: string;
  discharge_efficiency: string;
  soc_min_kwh: string;
  soc_max_kwh: string;
}

const NULLABLE = ['latitude', 'longitude', 'capacity_kw', 'storage_capacity_kwh', 'max_charge_kw', 'max_discharge_kw', 'soc_min_kwh', 'soc_max_kwh'] as const;
const EFF = ['charge_efficiency', 'discharge_efficiency'] as const;

/**
 * The JSON body of POST/PATCH /api/v1/assets. Empty numbers: omitted on create, null on edit
 * (clears them); efficiencies (not nullable) are omitted when empty.
 */
export function assetPayload(d: AssetDraft, o: { editing: boolean; withAccount: boolean }): Record<string, unknown> {
  const b: Record<string, unknown> = { name: d.name.trim(), type: d.type, timezone: d.timezone.trim() };
  if (d.parent_id) b.parent_id = Number(d.parent_id);
  if (o.withAccount && d.account_id) b.account_id = Number(d.account_id);
  for (const k of NULLABLE) {
    const v = d[k].trim();
    if (v) b[k] = Number(v);
    else if (o.editing) b[k] = null;
  }
  for (const k of EFF) {
    const v = d[k].trim();
    if (v) b[k] = Number(v);
  }
  return b;
}

/** Assets as a tree: sites (and parentless assets) with their children, sorted by name. */
export function assetTree<A extends { id: number; parent_id: number | null; name: string }>(assets: A[]): { node: A; children: A[] }[] {
  const ids = new Set(assets.map((a) => a.id));
  const roots = assets.filter((a) => a.parent_id === null || !ids.has(a.parent_id));
  const byName = (x: A, y: A) => x.name.localeCompare(y.name);
  return roots.sort(byName).map((r) => ({ node: r, children: assets.filter((a) => a.parent_id === r.id).sort(byName) }));
}

/** Default expiry for a new token: 90 days after now, as a date input value (YYYY-MM-DD). */
export function defaultExpiry(nowMs: number, days = 90): string {
  return new Date(nowMs + days * 86400_000).toISOString().slice(0, 10);
}

/** Whether an expiry date lies after today and within a year (the API's limit). */
export function expiryProblem(date: string, nowMs: number): 'past' | 'tooLate' | 'bad' | null {
  if (!date) return null;
  const t = Date.parse(date + 'T23:59:59Z');
  if (!Number.isFinite(t)) return 'bad';
  if (t <= nowMs) return 'past';
  if (t > nowMs + 366 * 86400_000) return 'tooLate';
  return null;
}
