import { useEffect, useState } from 'preact/hooks';
import { loadMarkets } from '../markets';
import { findRoute } from '../routes';
import { ErrorBox } from '../components/ErrorBox';
import { fieldId, hasErrors, TextField, validate, type Errors } from '../components/Form';
import { t } from '../i18n';
import { navigate } from '../router';
import { login } from '../session';

const ids = { email: fieldId('email'), password: fieldId('password') };

/** /login: email + password → POST /api/v1/auth/session → /dashboard (or ?next=). */
export default function Login({ next }: { next?: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const reason = new URLSearchParams(location.search).get('reason');

  // fetch the dashboard's code while the user types: it shows sooner after login
  useEffect(() => {
    const id = setTimeout(() => void findRoute('/dashboard')?.load().catch(() => undefined), 300);
    return () => clearTimeout(id);
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Errors = { email: validate.email(email), password: validate.required(password) };
    setErrors(errs);
    if (hasErrors(errs)) return;
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
      void loadMarkets().catch(() => undefined); // the dashboard needs them first
      const target = next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/dashboard';
      navigate(target, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section class="login card">
      <h1>{t('login.title')}</h1>
      <p class="muted">{t('login.intro')}</p>
      {reason === 'password_changed' && <p role="status" class="notice">{t('login.passwordChanged')}</p>}
      <form onSubmit={submit} noValidate>
        <TextField
          id={ids.email}
          name="email"
          type="email"
          autoComplete="username"
          label={t('login.email')}
          value={email}
          onValue={setEmail}
          error={errors.email}
          required
        />
        <TextField
          id={ids.password}
          name="password"
          type="password"
          autoComplete="current-password"
          label={t('login.password')}
          value={password}
          onValue={setPassword}
          error={errors.password}
          required
        />
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </button>
      </form>
    </section>
  );
}
