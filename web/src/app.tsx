import type { ComponentType } from 'preact';
import { Component } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { setUnauthorizedHandler } from './api';
import { ErrorBox } from './components/ErrorBox';
import { Link } from './components/Link';
import { closeEvents } from './events';
import { getLang, LANG_NAMES, LANGS, onLangChange, setLang, t, tDyn, type Lang } from './i18n';
import { navigate, useRoute } from './router';
import { findRoute, mayUse, navRoutes, type PageProps, type RouteDef } from './routes';
import { currentUser, loadMe, logout, onUserChange, setUser, type Me } from './session';
import Login from './pages/Login';

// 401 anywhere → the login page (soft navigation, keeping where we were for after login)
setUnauthorizedHandler(() => {
  if (location.pathname === '/login') return;
  closeEvents();
  setUser(null);
  const back = location.pathname + location.search;
  navigate('/login' + (back && back !== '/' ? '?next=' + encodeURIComponent(back) : ''), { replace: true });
});

const loaded = new Map<string, ComponentType<PageProps>>();

function LazyPage({ route, props }: { route: RouteDef; props: PageProps }) {
  const [Comp, setComp] = useState<ComponentType<PageProps> | undefined>(() => loaded.get(route.path));
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    if (loaded.has(route.path)) {
      setComp(() => loaded.get(route.path));
      return;
    }
    let live = true;
    setComp(undefined);
    route.load().then(
      (m) => {
        loaded.set(route.path, m.default);
        if (live) setComp(() => m.default);
      },
      (e) => live && setErr(e),
    );
    return () => {
      live = false;
    };
  }, [route]);
  if (err) return <ErrorBox error={err} onRetry={() => location.reload()} />;
  if (!Comp) return <p class="muted">{t('app.loading')}</p>;
  return <Comp {...props} />;
}

/** Never a blank page: a render error inside a page shows its message. */
class Boundary extends Component<{ children: preact.ComponentChildren; resetKey: string }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }
  render() {
    if (this.state.error) {
      return <ErrorBox error={new Error(t('common.unexpected', { message: (this.state.error as Error).message || String(this.state.error) }))} />;
    }
    return this.props.children;
  }
}

function LangSwitch() {
  return (
    <label class="lang-switch">
      <span class="sr-only">{t('nav.language')}</span>
      <select value={getLang()} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)} aria-label={t('nav.language')}>
        {LANGS.map((l) => (
          <option key={l} value={l} lang={l}>
            {LANG_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}

function NavBar({ me, path }: { me: Me | null; path: string }) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  const items = me ? navRoutes(me.roles) : [];
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        {t('app.skip')}
      </a>
      <Link href={me ? '/dashboard' : '/login'} class="brand">
        {t('app.name')}
      </Link>
      {me && (
        <button type="button" class="menu-toggle secondary" aria-expanded={open ? 'true' : 'false'} aria-controls="mainnav" onClick={() => setOpen(!open)}>
          {t('nav.menu')}
        </button>
      )}
      <nav id="mainnav" class={'mainnav' + (open ? ' open' : '')} aria-label={t('nav.main')}>
        <ul>
          {items.map((r) => (
            <li key={r.path}>
              <Link href={r.path} aria-current={path === r.path ? 'page' : undefined}>
                {t(r.nav)}
              </Link>
            </li>
          ))}
        </ul>
        <div class="nav-tools">
          <LangSwitch />
          {me && (
            <span class="whoami" title={t('nav.signedInAs', { email: me.user.email, roles: me.roles.map((r) => tDyn('role.' + r, r)).join(', ') })}>
              {me.user.email}
            </span>
          )}
          {me && (
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                closeEvents();
                await logout();
                navigate('/login', { replace: true });
              }}
            >
              {t('nav.logout')}
            </button>
          )}
        </div>
      </nav>
    </header>
  );
}

function NotAllowed() {
  return (
    <section>
      <h1>{t('common.notAllowed')}</h1>
      <p class="error-box" role="alert">
        {t('common.notAllowedText')}
      </p>
      <p>
        <Link href="/dashboard">{t('common.backToDashboard')}</Link>
      </p>
    </section>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <section>
      <h1>{t('common.notFound')}</h1>
      <p>{t('common.notFoundText', { path })}</p>
      <p>
        <Link href="/dashboard">{t('common.backToDashboard')}</Link>
      </p>
    </section>
  );
}

export function App() {
  const loc = useRoute();
  const [me, setMe] = useState<Me | null>(currentUser());
  const [checked, setChecked] = useState(false);
  const [bootError, setBootError] = useState<unknown>(null);
  const [, setLangState] = useState(getLang());

  useEffect(() => onLangChange(setLangState), []);
  useEffect(() => onUserChange(setMe), []);
  useEffect(() => {
    loadMe().then(
      () => setChecked(true),
      (e) => {
        setBootError(e);
        setChecked(true);
      },
    );
  }, []);

  const path = loc.path;
  // redirects once we know who is logged in
  useEffect(() => {
    if (!checked || bootError) return;
    if (path === '/' || path === '') navigate(me ? '/dashboard' : '/login', { replace: true });
    else if (!me && path !== '/login') navigate('/login?next=' + encodeURIComponent(path + location.search), { replace: true });
  }, [checked, me, path, bootError]);

  // after an in-app navigation, move focus to the new page's content (keyboard and screen readers)
  const firstPath = useRef(path);
  useEffect(() => {
    if (path !== firstPath.current) {
      firstPath.current = '';
      document.getElementById('main')?.focus({ preventScroll: true });
    }
  }, [path]);

  useEffect(() => {
    const r = findRoute(path);
    document.title = (r ? t(r.nav) + ' · ' : path === '/login' ? t('login.title') + ' · ' : '') + t('app.name');
  });

  let body;
  if (!checked) body = <p class="muted">{t('app.loading')}</p>;
  else if (bootError) body = <ErrorBox error={bootError} onRetry={() => location.reload()} />;
  else if (path === '/login') body = <Login next={loc.query.get('next')} />;
  else if (!me) body = <p class="muted">{t('app.loading')}</p>;
  else {
    const route = findRoute(path);
    if (!route) body = path === '/' ? null : <NotFound path={path} />;
    else if (!mayUse(route, me.roles)) body = <NotAllowed />;
    else body = <LazyPage key={route.path} route={route} props={{ me, query: loc.query }} />;
  }

  return (
    <div class="app" key={getLang()}>
      <NavBar me={me} path={path} />
      <main id="main" tabIndex={-1}>
        <Boundary resetKey={path}>{body}</Boundary>
      </main>
    </div>
  );
}
