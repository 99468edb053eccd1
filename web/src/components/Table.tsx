import type { ComponentChild } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { t } from '../i18n';

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ComponentChild;
  /** Value to sort by; default: row[key]. Set sortable: false to disable. */
  sortValue?: (row: T) => string | number | null | undefined;
  sortable?: boolean;
  numeric?: boolean;
  /** Let long text wrap (cells do not wrap by default; the table scrolls sideways on phones). */
  wrap?: boolean;
}

export interface ServerPaging {
  page: number;
  perPage: number;
  total: number;
  onPage: (page: number) => void;
}

export interface TableProps<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  caption?: string;
  pageSize?: number;
  empty?: string;
  initialSort?: { key: string; dir: 'asc' | 'desc' };
  /** When the API pages: the table shows this page of rows and asks for others. */
  server?: ServerPaging;
  rowClass?: (row: T) => string | undefined;
  /** No rows yet because they are still loading: say so instead of "nothing to show". */
  loading?: boolean;
  /** A totals row under the rows (same columns, never sorted or paged). */
  footer?: T;
}

export function compareValues(a: unknown, b: unknown): number {
  const an = a === null || a === undefined || a === '';
  const bn = b === null || b === undefined || b === '';
  if (an && bn) return 0;
  if (an) return 1; // empty last
  if (bn) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Sort rows by a column (stable; empty values last in both directions). */
export function sortRows<T>(rows: T[], get: (r: T) => unknown, dir: 'asc' | 'desc'): T[] {
  const idx = rows.map((r, i) => [r, i] as const);
  idx.sort((x, y) => {
    const ax = get(x[0]);
    const bx = get(y[0]);
    const an = ax === null || ax === undefined || ax === '';
    const bn = bx === null || bx === undefined || bx === '';
    if (an !== bn) return an ? 1 : -1;
    const c = compareValues(ax, bx);
    return (dir === 'asc' ? c : -c) || x[1] - y[1];
  });
  return idx.map((x) => x[0]);
}

/** A table with sortable headers (buttons, aria-sort) and paging; keyboard accessible. */
export function Table<T>({ columns, rows, rowKey, caption, pageSize = 20, empty, initialSort, server, rowClass, loading, footer }: TableProps<T>) {
  const [sort, setSort] = useState(initialSort);
  const [page, setPage] = useState(1);

  const sorted = useMemo(() => {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    if (!col) return rows;
    const get = col.sortValue || ((r: T) => (r as Record<string, unknown>)[col.key]);
    return sortRows(rows, get, sort.dir);
  }, [rows, sort, columns]);

  const total = server ? server.total : sorted.length;
  const per = server ? server.perPage : pageSize;
  const pages = Math.max(1, Math.ceil(total / per));
  const cur = server ? server.page : Math.min(page, pages);
  const visible = server ? sorted : sorted.slice((cur - 1) * per, cur * per);
  const go = (p: number) => (server ? server.onPage(p) : setPage(p));

  const toggle = (key: string) => {
    setSort((s) => (s && s.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' }));
    setPage(1);
  };

  return (
    <div class="table-wrap">
      <table>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort && sort.key === c.key;
              const ariaSort = active ? (sort!.dir === 'asc' ? 'ascending' : 'descending') : undefined;
              return (
                <th key={c.key} scope="col" aria-sort={ariaSort} class={c.numeric ? 'num' : undefined}>
                  {c.sortable === false ? (
                    c.label
                  ) : (
                    <button type="button" class="sort" onClick={() => toggle(c.key)} title={t('table.sortBy', { column: c.label })}>
                      {c.label}
                      <span aria-hidden="true" class="sort-mark">
                        {active ? (sort!.dir === 'asc' ? ' ▲' : ' ▼') : ' ↕'}
                      </span>
                    </button>
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {visible.length === 0 ? (
            <tr>
              <td colSpan={columns.length} class="empty">
                {loading ? t('common.loading') : empty ?? t('common.empty')}
              </td>
            </tr>
          ) : (
            visible.map((r) => (
              <tr key={rowKey(r)} class={rowClass ? rowClass(r) : undefined}>
                {columns.map((c) => (
                  <td key={c.key} class={[c.numeric ? 'num' : '', c.wrap ? 'wrap' : ''].join(' ').trim() || undefined} data-label={c.label}>
                    {c.render ? c.render(r) : String((r as Record<string, unknown>)[c.key] ?? '–')}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
        {footer !== undefined && (
          <tfoot>
            <tr class="total">
              {columns.map((c) => (
                <td key={c.key} class={c.numeric ? 'num' : undefined} data-label={c.label}>
                  {c.render ? c.render(footer) : String((footer as Record<string, unknown>)[c.key] ?? '')}
                </td>
              ))}
            </tr>
          </tfoot>
        )}
      </table>
      {pages > 1 && (
        <nav class="pager" aria-label={t('table.page', { page: cur, pages })}>
          <button type="button" class="secondary" disabled={cur <= 1} onClick={() => go(cur - 1)}>
            {t('table.prev')}
          </button>
          <span>
            {t('table.page', { page: cur, pages })} · {t('table.rows', { total })}
          </span>
          <button type="button" class="secondary" disabled={cur >= pages} onClick={() => go(cur + 1)}>
            {t('table.next')}
          </button>
        </nav>
      )}
    </div>
  );
}
