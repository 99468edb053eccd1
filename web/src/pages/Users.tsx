// Users (admin): the paged list, create (the generated password shown once with a copy button),
// change roles, deactivate and reactivate.
import { useMemo, useState } from 'preact/hooks';
import { api, qs, type Page } from '../api';
import { ErrorBox, Notice } from '../components/ErrorBox';
import { fieldId, TextField, validate } from '../components/Form';
import { Table, type Column } from '../components/Table';
import { formatInstant } from '../format';
import { useAsync, usePaged } from '../hooks';
import { t, tDyn } from '../i18n';
import type { PageProps } from '../routes';
import { allPages, ROLES, type AccountRow, type UserRow } from '../lib2/apiTypes';
import { useMarketTz } from '../lib2/marketTz';
import { CopyOnce } from './account/CopyOnce';

export default function Users({ me, query }: PageProps) {
  const tz = useMarketTz();
  const [accountFilter, setAccountFilter] = useState(query.get('account_id') || '');
  const accounts = useAsync(() => allPages((p) => api<Page<AccountRow>>('GET', '/api/v1/accounts' + qs({ page: p, per_page: 500 }))), []);
  const list = usePaged((page, per) => api<Page<UserRow>>('GET', '/api/v1/users' + qs({ page, per_page: per, account_id: accountFilter || undefined })), [accountFilter], 20);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ email: string; password?: string } | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const filterId = useMemo(() => fieldId('acct'), []);

  const setActive = async (u: UserRow, active: boolean) => {
    if (!active && !confirm(t('users.confirmDeactivate', { email: u.email }))) return;
    setRowErr(null);
    try {
      await api('PATCH', `/api/v1/users/${u.id}`, { active });
      setNote(active ? t('users.reactivated', { email: u.email }) : t('users.deactivated', { email: u.email }));
      list.reload();
    } catch (e) {
      setRowErr(e);
    }
  };

  const cols: Column<UserRow>[] = [
    { key: 'id', label: '#', numeric: true },
    { key: 'email', label: t('users.email') },
    { key: 'account', label: t('users.account'), sortValue: (u) => u.account?.name, render: (u) => u.account?.name || '–' },
    {
      key: 'roles',
      label: t('users.roles'),
      sortValue: (u) => u.roles.join(','),
      render: (u) =>
        editing === u.id ? (
          <RoleEditor
            user={u}
            onDone={(changed) => {
              setEditing(null);
              if (changed) {
                setNote(t('users.rolesChanged', { email: u.email }));
                list.reload();
              }
            }}
          />
        ) : (
          u.roles.map((r) => tDyn('role.' + r, r)).join(', ')
        ),
    },
    { key: 'active', label: t('users.active'), render: (u) => <span class={'badge ' + (u.active ? 'done' : 'failed')}>{u.active ? t('users.isActive') : t('users.isInactive')}</span> },
    { key: 'created_at', label: t('users.created'), render: (u) => formatInstant(u.created_at, tz) },
    {
      key: 'actions',
      label: '',
      sortable: false,
      render: (u) => (
        <span class="actions">
          <button type="button" class="small secondary" onClick={() => setEditing(editing === u.id ? null : u.id)} aria-label={t('users.editRolesOf', { email: u.email })}>
            {t('users.editRoles')}
          </button>
          {u.active ? (
            <button type="button" class="small danger" disabled={u.id === me.user.id} onClick={() => setActive(u, false)} aria-label={t('users.deactivateUser', { email: u.email })}>
              {t('users.deactivate')}
            </button>
          ) : (
            <button type="button" class="small secondary" onClick={() => setActive(u, true)} aria-label={t('users.reactivateUser', { email: u.email })}>
              {t('users.reactivate')}
            </button>
          )}
        </span>
      ),
    },
  ];

  return (
    <section class="users">
      <div class="row">
        <h1>{t('users.title')}</h1>
        <span class="spacer" />
        {!creating && (
          <button type="button" onClick={() => setCreating(true)}>
            {t('users.new')}
          </button>
        )}
      </div>
      {creating && (
        <CreateUser
          accounts={accounts.data || []}
          onCancel={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setCreated(c);
            list.reload();
            accounts.reload();
          }}
        />
      )}
      {created && (
        <div class="card created" role="status">
          <p>{t('users.createdUser', { email: created.email })}</p>
          {created.password ? <CopyOnce label={t('users.generatedPassword')} value={created.password} note={t('users.passwordOnce')} /> : <p class="muted">{t('users.ownPassword')}</p>}
          <button type="button" class="small secondary" onClick={() => setCreated(null)}>
            {t('common.close')}
          </button>
        </div>
      )}
      <Notice text={note} />
      <ErrorBox error={rowErr} />
      <ErrorBox error={accounts.error} />
      <div class="card">
        <div class="row">
          <div class="field">
            <label for={filterId}>{t('users.filterAccount')}</label>
            <select id={filterId} value={accountFilter} onChange={(e) => setAccountFilter((e.currentTarget as HTMLSelectElement).value)}>
              <option value="">{t('users.allAccounts')}</option>
              {(accounts.data || []).map((a) => (
                <option key={a.id} value={String(a.id)}>
                  {a.name}
                </option>
              ))}
            </select>
          </div>
          <span class="muted">{t('users.timesIn', { tz })}</span>
        </div>
        <ErrorBox error={list.error} onRetry={list.reload} />
        <Table columns={cols} rows={list.data?.items || []} rowKey={(u) => u.id} server={list.server} loading={list.loading && !list.data} rowClass={(u) => (u.active ? undefined : 'closed')} />
      </div>
    </section>
  );
}

function RoleChecks({ value, onChange, name }: { value: string[]; onChange: (v: string[]) => void; name: string }) {
  return (
    <span class="radio-row role-checks" style={{ flexWrap: 'wrap' }}>
      {ROLES.map((r) => (
        <label key={r}>
          <input type="checkbox" name={name} value={r} checked={value.includes(r)} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked ? [...value, r] : value.filter((x) => x !== r))} />{' '}
          {tDyn('role.' + r, r)}
        </label>
      ))}
    </span>
  );
}

function RoleEditor({ user, onDone }: { user: UserRow; onDone: (changed: boolean) => void }) {
  const [roles, setRoles] = useState<string[]>(user.roles);
  const [err, setErr] = useState<unknown>(null);
  const save = async () => {
    if (roles.length === 0) {
      setErr(new Error(t('users.needRole')));
      return;
    }
    setErr(null);
    try {
      await api('PATCH', `/api/v1/users/${user.id}`, { roles });
      onDone(true);
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <div class="role-editor">
      <RoleChecks value={roles} onChange={setRoles} name={'roles-' + user.id} />
      <span class="actions">
        <button type="button" class="small" onClick={save}>
          {t('common.save')}
        </button>
        <button type="button" class="small secondary" onClick={() => onDone(false)}>
          {t('common.cancel')}
        </button>
      </span>
      <ErrorBox error={err} />
    </div>
  );
}

function CreateUser({ accounts, onCreated, onCancel }: { accounts: AccountRow[]; onCreated: (c: { email: string; password?: string }) => void; onCancel: () => void }) {
  const [email, setEmail] = useState('');
  const [account, setAccount] = useState('');
  const [roles, setRoles] = useState<string[]>(['participant']);
  const [password, setPassword] = useState('');
  const [errs, setErrs] = useState<Record<string, string | undefined>>({});
  const [apiErr, setApiErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const base = useMemo(() => fieldId('user'), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const er = {
      email: validate.email(email),
      account: validate.required(account),
      roles: roles.length ? undefined : t('users.needRole'),
      password: password && password.length < 10 ? t('users.passwordLength') : undefined,
    };
    setErrs(er);
    if (Object.values(er).some(Boolean)) return;
    setBusy(true);
    setApiErr(null);
    try {
      const r = await api<{ email?: string; password?: string; user?: { email: string } }>('POST', '/api/v1/users', {
        email: email.trim(),
        account: account.trim(),
        roles,
        ...(password ? { password } : {}),
      });
      onCreated({ email: r?.email || r?.user?.email || email.trim(), password: r?.password });
    } catch (x) {
      setApiErr(x);
    } finally {
      setBusy(false);
    }
  };
  const isNew = account.trim() !== '' && !accounts.some((a) => a.name === account.trim());
  return (
    <form class="card" onSubmit={submit} noValidate>
      <h2>{t('users.new')}</h2>
      <div class="grid three">
        <TextField id={base + '-email'} name="email" type="email" autoComplete="off" label={t('users.email')} value={email} onValue={setEmail} error={errs.email} />
        <TextField
          id={base + '-account'}
          name="account"
          list={base + '-accounts'}
          label={t('users.account')}
          hint={isNew ? t('users.newAccountHint') : t('users.accountHint')}
          value={account}
          onValue={setAccount}
          error={errs.account}
        />
        <datalist id={base + '-accounts'}>
          {accounts.map((a) => (
            <option key={a.id} value={a.name} />
          ))}
        </datalist>
        <TextField id={base + '-pw'} name="password" type="password" autoComplete="new-password" label={t('users.passwordOptional')} hint={t('users.passwordHint')} value={password} onValue={setPassword} error={errs.password} />
      </div>
      <fieldset class={errs.roles ? 'invalid' : undefined}>
        <legend>{t('users.roles')}</legend>
        <RoleChecks value={roles} onChange={setRoles} name="roles" />
        {errs.roles && (
          <small class="field-error" role="alert">
            {errs.roles}
          </small>
        )}
      </fieldset>
      <ErrorBox error={apiErr} />
      <div class="row">
        <button type="submit" disabled={busy}>
          {t('common.create')}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
