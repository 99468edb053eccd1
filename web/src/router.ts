// A tiny history-API router: navigate(), useRoute(), and <Link> in components/Link.tsx.
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function read(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const cur = window.location.pathname + window.location.search;
  if (to !== cur) {
    if (opts.replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
  }
  listeners.forEach((fn) => fn());
  window.scrollTo(0, 0);
}

/** Change the query string of the current page without a new history entry. */
export function setQuery(params: Record<string, string | number | undefined | null>): void {
  const q = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  history.replaceState(null, '', window.location.pathname + (s ? '?' + s : ''));
  listeners.forEach((fn) => fn());
}

if (typeof window !== 'undefined') window.addEventListener('popstate', () => listeners.forEach((fn) => fn()));

export function useRoute(): Location {
  const [loc, setLoc] = useState<Location>(read);
  useEffect(() => {
    const fn = () => setLoc(read());
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return loc;
}
