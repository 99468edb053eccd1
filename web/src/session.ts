// Who is logged in: GET /api/v1/me, login (POST /api/v1/auth/session) and logout.
import { api, ApiError, devToken, readCookie, setDevToken } from './api';

export type Role = 'admin' | 'operator' | 'participant' | 'aggregator' | 'meter';

export interface Me {
  user: { id: number; email: string };
  account: { id: number; name: string };
  roles: Role[];
}

let me: Me | null = null;
const listeners = new Set<(m: Me | null) => void>();

export function currentUser(): Me | null {
  return me;
}
export function setUser(m: Me | null): void {
  me = m;
  listeners.forEach((fn) => fn(m));
}
export function onUserChange(fn: (m: Me | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function hasRole(m: Me | null, ...roles: Role[]): boolean {
  return !!m && m.roles.some((r) => roles.includes(r));
}

/** Ask the server who we are; null when not logged in (401). Other errors are thrown. */
export async function loadMe(): Promise<Me | null> {
  // No session cookie pair (fm_csrf is readable, fm_session is not): not logged in, no request
  // (a 401 here would be a console error on every visit to /login).
  if (!readCookie('fm_csrf') && !devToken()) {
    setUser(null);
    return null;
  }
  try {
    const m = await api<Me>('GET', '/api/v1/me', undefined, { no401Redirect: true });
    setUser(m);
    return m;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setUser(null);
      return null;
    }
    throw e;
  }
}

interface SessionResponse {
  csrf_token: string;
  expires_at: string;
  user: Me;
}

export async function login(email: string, password: string): Promise<Me> {
  try {
    const r = await api<SessionResponse>('POST', '/api/v1/auth/session', { email, password }, { no401Redirect: true });
    const m = r && r.user && r.user.roles ? r.user : await loadMe();
    if (!m) throw new ApiError(401, 'unauthorized', 'not logged in');
    setUser(m);
    return m;
  } catch (e) {
    // Dev server against a backend without cookie sessions yet: fall back to a bearer token.
    if (import.meta.env.DEV && e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      const tok = await api<{ token: string }>('POST', '/api/v1/auth/token', { email, password }, { no401Redirect: true });
      setDevToken(tok.token);
      const m = await loadMe();
      if (!m) throw new ApiError(401, 'unauthorized', 'not logged in');
      return m;
    }
    throw e;
  }
}

export async function logout(): Promise<void> {
  try {
    await api('DELETE', '/api/v1/auth/session', undefined, { no401Redirect: true });
  } catch (e) {
    if (import.meta.env.DEV && e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      try {
        await api('DELETE', '/api/v1/auth/token', undefined, { no401Redirect: true });
      } catch {
        /* already gone */
      }
    }
    // otherwise: the session is gone or unusable either way; forget it locally
  }
  setDevToken(null);
  setUser(null);
}
