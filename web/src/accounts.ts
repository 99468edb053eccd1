// Account names for ids (operators and admins list every account; others get their own).
import { api, type Page } from './api';
import { useAsync } from './hooks';
import { onUserChange } from './session';
import type { Account } from './types';

let cache: Promise<Map<number, string>> | null = null;
onUserChange(() => (cache = null)); // another user may see other accounts

export function loadAccountNames(): Promise<Map<number, string>> {
  if (!cache) {
    cache = api<Page<Account>>('GET', '/api/v1/accounts?per_page=500').then(
      (r) => new Map(r.items.map((a) => [a.id, a.name])),
      (e) => {
        cache = null;
        throw e;
      },
    );
  }
  return cache;
}

/** (id) → name, or "#id" until loaded / when unknown. */
export function useAccountNames(enabled = true): (id: number | null | undefined) => string {
  const names = useAsync(() => (enabled ? loadAccountNames() : Promise.resolve(new Map<number, string>())), [enabled]);
  return (id) => (id === undefined || id === null ? '–' : names.data?.get(id) ?? '#' + id);
}
