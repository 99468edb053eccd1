// The one way the browser talks to the server: /api/v1 only, same origin, cookie session.
// Every non-GET/HEAD request carries X-CSRF-Token = the readable fm_csrf cookie.

export interface ErrorLine {
  line: number;
  message: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  lines?: ErrorLine[];
  constructor(status: number, code: string, message: string, field?: string, lines?: ErrorLine[]) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.lines = lines;
  }
}

export interface ApiOptions {
  /** Extra headers (e.g. Accept: text/csv). */
  headers?: Record<string, string>;
  /** Raw body (e.g. CSV text); sent as is instead of JSON. */
  raw?: BodyInit;
  /** Do not redirect to /login on 401 (the login form itself, the initial /me probe). */
  no401Redirect?: boolean;
  signal?: AbortSignal;
}

/** Read a cookie by name (document.cookie); '' when absent. */
export function readCookie(name: string, cookieString: string = typeof document !== 'undefined' ? document.cookie : ''): string {
  for (const part of cookieString.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return '';
}

// Dev-only fallback while the backend has no POST /auth/session: a bearer token kept for the tab.
const DEV_TOKEN_KEY = 'fm_dev_token';
export function devToken(): string {
  if (!import.meta.env.DEV) return '';
  try {
    return sessionStorage.getItem(DEV_TOKEN_KEY) || '';
  } catch {
    return '';
  }
}
export function setDevToken(tok: string | null): void {
  if (!import.meta.env.DEV) return;
  if (tok) sessionStorage.setItem(DEV_TOKEN_KEY, tok);
  else sessionStorage.removeItem(DEV_TOKEN_KEY);
}

let on401: () => void = () => {
  if (typeof location !== 'undefined' && location.pathname !== '/login') location.assign('/login');
};
/** The router installs a soft navigation for 401s. */
export function setUnauthorizedHandler(fn: () => void): void {
  on401 = fn;
}

/** Turn a non-2xx response into an ApiError (JSON error body when there is one). */
export async function toApiError(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = res.statusText || 'HTTP ' + res.status;
  let field: string | undefined;
  let lines: ErrorLine[] | undefined;
  try {
    const text = await res.text();
    try {
      const j = JSON.parse(text);
      const e = j && j.error;
      if (e) {
        code = e.code || code;
        message = e.message || message;
        field = e.field;
        lines = Array.isArray(e.lines) ? e.lines : undefined;
      }
    } catch {
      if (text && text.length < 300) message = text;
    }
  } catch {
    /* body unreadable: keep the status text */
  }
  return new ApiError(res.status, code, message, field, lines);
}

function buildHeaders(method: string, opts: ApiOptions, hasJson: boolean): Record<string, string> {
  const h: Record<string, string> = { Accept: 'application/json', ...(opts.headers || {}) };
  if (hasJson) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = readCookie('fm_csrf');
    if (csrf) h['X-CSRF-Token'] = csrf;
  }
  const dt = devToken();
  if (dt) h['Authorization'] = 'Bearer ' + dt;
  return h;
}

async function send(method: string, path: string, body: unknown, opts: ApiOptions): Promise<Response> {
  const hasJson = body !== undefined && opts.raw === undefined;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: buildHeaders(method, opts, hasJson),
      body: opts.raw !== undefined ? opts.raw : hasJson ? JSON.stringify(body) : undefined,
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', (e as Error).message || 'network error');
  }
  if (res.status === 401 && !opts.no401Redirect) on401();
  if (!res.ok) {
    const err = await toApiError(res);
    // the CSRF token comes only with a login: without a valid one the session is unusable
    if (res.status === 403 && err.code === 'csrf_failed' && !opts.no401Redirect) on401();
    throw err;
  }
  return res;
}

/** JSON request; resolves to the parsed body (undefined for 204). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<T> {
  const res = await send(method.toUpperCase(), path, body, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as unknown as T;
  }
}

/** Build a query string, skipping undefined/null/'' values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

/** Fetch CSV text. Routes that document ?format=csv get it added; Accept: text/csv is always sent. */
export async function fetchCsv(path: string, opts: { formatParam?: boolean } = {}): Promise<string> {
  let p = path;
  if (opts.formatParam !== false) p += (p.includes('?') ? '&' : '?') + 'format=csv';
  const res = await send('GET', p, undefined, { headers: { Accept: 'text/csv' } });
  return res.text();
}

/** Fetch CSV and save it as a file. */
export async function downloadCsv(path: string, filename: string, opts: { formatParam?: boolean } = {}): Promise<void> {
  const text = await fetchCsv(path, opts);
  saveText(text, filename, 'text/csv');
}

export function saveText(text: string, filename: string, type = 'text/plain'): void {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------- SSE

export interface ServerEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  /** Set by events.ts for the backlog the server replays right after the stream opens. */
  replay?: boolean;
}

/** Event names the server sends on /api/v1/events (see docs/openapi.json). */
export const EVENT_TYPES = [
  'bid_placed',
  'bid_changed',
  'bid_cancelled',
  'gate_closed',
  'cleared',
  'trades',
  'executing',
  'settling',
  'dr_offered',
  'dr_accepted',
  'dr_settled',
  'error',
];

/**
 * Subscribe to the event stream (cookie-authenticated EventSource). The browser reconnects by
 * itself and sends Last-Event-ID. Returns a function that closes the stream.
 */
export function subscribeEvents(
  handler: (ev: ServerEvent) => void,
  opts: { after?: number | 'latest'; onOpen?: () => void; onError?: (closed: boolean) => void } = {},
): () => void {
  if (typeof EventSource === 'undefined') return () => {};
  // dev only: the vite proxy turns fm_dev_token into an Authorization header (EventSource has no headers)
  const url = '/api/v1/events' + qs({ after: opts.after, fm_dev_token: devToken() || undefined });
  const es = new EventSource(url, { withCredentials: true });
  const listener = (e: MessageEvent) => {
    let data: Record<string, unknown> = {};
    try {
      data = e.data ? JSON.parse(e.data) : {};
    } catch {
      data = { raw: e.data };
    }
    handler({ id: e.lastEventId, type: e.type, data });
  };
  es.addEventListener('message', listener);
  for (const t of EVENT_TYPES) es.addEventListener(t, listener as EventListener);
  if (opts.onOpen) es.addEventListener('open', opts.onOpen);
  if (opts.onError) {
    const onError = opts.onError;
    // closed: the browser gave up (an HTTP error such as 401 or 429); otherwise it reconnects itself
    es.addEventListener('error', () => onError(es.readyState === EventSource.CLOSED));
  }
  return () => es.close();
}

/** A page of items as the API returns lists. */
export interface Page<T> {
  items: T[];
  page: number;
  per_page: number;
  total: number;
}
