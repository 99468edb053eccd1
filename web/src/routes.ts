// Every page: its path, the nav label, which roles may use it and its lazily loaded component.
// admin may use everything. To add a page: add a row here and a file src/pages/<Name>.tsx
// exporting a default component taking PageProps.
import type { ComponentType } from 'preact';
import type { Key } from './i18n';
import type { Me, Role } from './session';

export interface PageProps {
  me: Me;
  query: URLSearchParams;
}

export interface RouteDef {
  path: string;
  nav: Key;
  /** Roles that may use the page besides admin. */
  roles: Role[];
  load: () => Promise<{ default: ComponentType<PageProps> }>;
  /** Shown in the nav bar (default true). */
  inNav?: boolean;
}

const ALL: Role[] = ['operator', 'participant', 'aggregator', 'meter'];
const TRADERS: Role[] = ['participant', 'aggregator'];

export const ROUTES: RouteDef[] = [
  { path: '/dashboard', nav: 'nav.dashboard', roles: ALL, load: () => import('./pages/Dashboard') },
  { path: '/market', nav: 'nav.market', roles: ['operator', ...TRADERS], load: () => import('./pages/Market') },
  { path: '/portfolio', nav: 'nav.portfolio', roles: TRADERS, load: () => import('./pages/Portfolio') },
  { path: '/flexibility', nav: 'nav.flexibility', roles: ['operator', ...TRADERS], load: () => import('./pages/Flexibility') },
  { path: '/analytics', nav: 'nav.analytics', roles: ['operator', ...TRADERS], load: () => import('./pages/Analytics') },
  { path: '/assets', nav: 'nav.assets', roles: ['operator', ...TRADERS], load: () => import('./pages/Assets') },
  { path: '/operator', nav: 'nav.operator', roles: ['operator'], load: () => import('./pages/Operator') },
  { path: '/jobs', nav: 'nav.jobs', roles: ['operator'], load: () => import('./pages/Jobs') },
  { path: '/users', nav: 'nav.users', roles: [], load: () => import('./pages/Users') },
  { path: '/accounts', nav: 'nav.accounts', roles: [], load: () => import('./pages/Accounts') },
  { path: '/account', nav: 'nav.account', roles: ALL, load: () => import('./pages/Account') },
];

export function findRoute(path: string): RouteDef | undefined {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return ROUTES.find((r) => r.path === p);
}

export function mayUse(route: RouteDef, roles: readonly Role[]): boolean {
  return roles.includes('admin') || route.roles.some((r) => roles.includes(r));
}

/** The nav bar's entries for these roles. */
export function navRoutes(roles: readonly Role[]): RouteDef[] {
  return ROUTES.filter((r) => r.inNav !== false && mayUse(r, roles));
}
