// My account: the caller's profile (GET /me), password change (the session ends: back to /login)
// and personal API tokens (create with a name and expiry, shown once; list; revoke).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, setDevToken } from '../api';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, TextField, validate } from '../components/Form';
import { Table } from '../components/Table';
import { formatInstant, fromLocalInput } from '../format';
import { useAsync } from '../hooks';
import { t, tDyn } from '../i18n';
import { navigate } from '../router';
import type { PageProps } from '../routes';
import { setUser, type Me } from '../session';
import type { PersonalToken } from '../lib2/apiTypes';
import { defaultExpiry, expiryProblem } from '../lib2/forms';
import { useMarketTz } from '../lib2/marketTz';
import { CopyOnce } from './account/CopyOnce';

export default function Account({ me }: PageProps) {
  const tz = useMarketTz();
  const fresh = useAsync(() => api<Me>('GET', '/api/v1/me'), []);
  const m = fresh.data || me;
  return (
    <section class="account">
      <h1>{t('account.title')}</h1>
      <div class="card">
        <h2>{t('account.profile')}</h2>
        <ErrorBox error={fresh.error} onRetry={fresh.reload} />
        <dl class="kpis">
          <div>
            <dt>{t('account.email')}</dt>
            <dd data-field="email">{m.user.email}</dd>
          </div>
          <div>
            <dt>{t('account.account')}</dt>
            <dd>{m.account.name}</dd>
          </div>
          <div>
            <dt>{t('account.roles')}</dt>
            <dd>{m.roles.map((r) => tDyn('role.' + r, r)).join(', ')}</dd>
          </div>
          <div>
            <dt>{t('account.userId')}</dt>
            <dd>
              #{m.user.id} · {t('account.accountId', { id: m.account.id })}
            </dd>
          </div>
        </dl>
      </div>
      <PasswordCard />
      <TokensCard tz={tz} />
    </section>
  );
}

function PasswordCard() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const ids = useMemo(() => ({ cur: fieldId('pwcur'), next: fieldId('pwnew'), again: fieldId('pwagain') }), []);

  const toLogin = async () => {
    // the server has ended the session already (DELETE /auth/session would only answer 401): forget it here
    setDevToken(null);
    setUser(null);
    navigate('/login?reason=password_changed', { replace: true });
  };
  useEffect(() => {
    if (!done) return;
    const id = setTimeout(() => void toLogin(), 4000);
    return () => clearTimeout(id);
  }, [done]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const er = {
      current: validate.required(current),
      next: next.length < 10 ? t('account.passwordLength') : next === current ? t('account.passwordSame') : undefined,
      again: again !== next ? t('account.passwordMismatch') : undefined,
    };
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setBusy(true);
    setApiErr(null);
    try {
      await api('POST', '/api/v1/me/password', { current_password: current, new_password: next }, { no401Redirect: true });
      setDone(true);
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };

  if (done)
    return (
      <div class="card" role="status">
        <h2>{t('account.password')}</h2>
        <Notice text={t('account.passwordChanged')} />
        <button type="button" onClick={() => void toLogin()}>
          {t('account.loginAgain')}
        </button>
      </div>
    );
  return (
    <form class="card" onSubmit={submit} noValidate>
      <h2>{t('account.password')}</h2>
      <p class="muted">{t('account.passwordNote')}</p>
      <div class="grid three">
        <TextField id={ids.cur} name="current_password" type="password" autoComplete="current-password" label={t('account.currentPassword')} value={current} onValue={setCurrent} error={errs.current} />
        <TextField id={ids.next} name="new_password" type="password" autoComplete="new-password" label={t('account.newPassword')} hint={t('account.passwordLength')} value={next} onValue={setNext} error={errs.next} />
        <TextField id={ids.again} name="new_password_again" type="password" autoComplete="new-password" label={t('account.repeatPassword')} value={again} onValue={setAgain} error={errs.again} />
      </div>
      <ErrorBox error={apiErr} />
      <div class="row">
        <button type="submit" disabled={busy}>
          {t('account.changePassword')}
        </button>
      </div>
    </form>
  );
}

function TokensCard({ tz }: { tz: string }) {
  const list = useAsync(() => api<{ items: PersonalToken[] }>('GET', '/api/v1/me/tokens'), []);
  const [name, setName] = useState('');
  const [expires, setExpires] = useState(() => defaultExpiry(Date.now()));
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [created, setCreated] = useState<PersonalToken | null>(null);
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const ids = useMemo(() => ({ name: fieldId('tokname'), exp: fieldId('tokexp') }), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const p = expiryProblem(expires, Date.now());
    const er = {
      name: validate.required(name) || (name.length > 100 ? t('account.nameTooLong') : undefined),
      expires: p === 'past' ? t('account.expiryPast') : p === 'tooLate' ? t('account.expiryTooLate') : p === 'bad' ? t('account.expiryBad') : undefined,
    };
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setApiErr(null);
    try {
      const body: Record<string, string> = { name: name.trim() };
      if (expires) body.expires_at = fromLocalInput(expires + 'T23:59', tz);
      const tok = await api<PersonalToken>('POST', '/api/v1/me/tokens', body);
      setCreated(tok);
      setName('');
      list.reload();
    } catch (x) {
      setApiErr(x);
    }
  };
  const revoke = async (tok: PersonalToken) => {
    if (!confirm(t('account.confirmRevoke', { name: tok.name }))) return;
    setRowErr(null);
    try {
      await api('DELETE', `/api/v1/me/tokens/${tok.id}`);
      setNote(t('account.revoked', { name: tok.name }));
      list.reload();
    } catch (x) {
      setRowErr(x);
    }
  };

  return (
    <div class="card tokens">
      <h2>{t('account.tokens')}</h2>
      <p class="muted">{t('account.tokensNote')}</p>
      <form onSubmit={submit} noValidate>
        <div class="grid three">
          <TextField id={ids.name} name="token_name" label={t('account.tokenName')} hint={t('account.tokenNameHint')} value={name} onValue={setName} error={errs.name} maxLength={100} />
          <TextField id={ids.exp} name="expires" type="date" label={t('account.expires')} hint={t('account.expiresHint', { tz })} value={expires} onValue={setExpires} error={errs.expires} />
        </div>
        <ErrorBox error={apiErr} />
        <div class="row">
          <button type="submit">{t('account.createToken')}</button>
        </div>
      </form>
      {created?.token && (
        <div class="created" role="status">
          <CopyOnce label={t('account.newToken', { name: created.name })} value={created.token} note={t('account.tokenOnce')} />
          <button type="button" class="small secondary" onClick={() => setCreated(null)}>
            {t('account.hideToken')}
          </button>
        </div>
      )}
      <Notice text={note} />
      <ErrorBox error={rowErr} />
      <ErrorBox error={list.error} onRetry={list.reload} />
      <Table
        columns={[
          { key: 'name', label: t('account.tokenName') },
          { key: 'state', label: t('account.state'), render: (k) => <span class={'badge ' + (k.state === 'active' ? 'done' : 'failed')}>{tDyn('account.state.' + k.state, k.state)}</span> },
          { key: 'created_at', label: t('account.createdAt'), render: (k) => formatInstant(k.created_at, tz) },
          { key: 'expires_at', label: t('account.expires'), render: (k) => formatInstant(k.expires_at, tz) },
          { key: 'revoked_at', label: t('account.revokedAt'), render: (k) => formatInstant(k.revoked_at, tz) },
          {
            key: 'actions',
            label: '',
            sortable: false,
            render: (k) =>
              k.state === 'active' ? (
                <button type="button" class="small danger" onClick={() => revoke(k)} aria-label={t('account.revokeToken', { name: k.name })}>
                  {t('account.revoke')}
                </button>
              ) : null,
          },
        ]}
        rows={list.data?.items || []}
        rowKey={(k) => k.id}
        initialSort={{ key: 'created_at', dir: 'desc' }}
        loading={list.loading && !list.data}
        empty={t('account.noTokens')}
      />
    </div>
  );
}
