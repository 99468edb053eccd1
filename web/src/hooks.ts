import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (d: T) => void;
}

/** Load data with an async function; re-runs when deps change; keeps the last data while reloading. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(() => {
    const my = ++seq.current;
    setLoading(true);
    fn().then(
      (d) => {
        if (my !== seq.current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (my !== seq.current) return;
        setError(e);
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { data, error, loading, reload: run, setData };
}

/** Call fn every ms while mounted. */
export function useInterval(fn: () => void, ms: number | null): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** A stable function that calls fn at most once per `ms` burst (trailing edge). */
export function useDebounced(fn: () => void, ms = 300): () => void {
  const saved = useRef(fn);
  saved.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      timer.current = null;
      saved.current();
    }, ms);
  }, [ms]);
}

/** An API list paged by the server: returns the async page and the Table's `server` prop. */
export function usePaged<T>(
  fetchPage: (page: number, perPage: number) => Promise<{ items: T[]; page: number; per_page: number; total: number }>,
  deps: unknown[],
  perPage = 20,
) {
  const [page, setPage] = useState(1);
  // back to page 1 when the query changes
  const key = JSON.stringify(deps);
  const lastKey = useRef(key);
  let effectivePage = page;
  if (lastKey.current !== key) {
    lastKey.current = key;
    if (page !== 1) {
      effectivePage = 1;
      setPage(1);
    }
  }
  const res = useAsync(() => fetchPage(effectivePage, perPage), [...deps, effectivePage, perPage]);
  const server = {
    page: effectivePage,
    perPage,
    total: res.data?.total ?? 0,
    onPage: setPage,
  };
  return { ...res, server };
}
