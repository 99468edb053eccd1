import { ApiError } from '../api';
import { t } from '../i18n';

/** Shows any error: always the API's message, the field it names, and line-numbered errors as a list. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  let message: string;
  let field: string | undefined;
  let lines: { line: number; message: string }[] | undefined;
  let code: string | undefined;
  if (error instanceof ApiError) {
    message = error.status === 0 ? t('common.networkError', { message: error.message }) : error.message;
    field = error.field;
    lines = error.lines;
    code = error.code;
  } else if (error instanceof Error) {
    message = error.message;
  } else {
    message = String(error);
  }
  return (
    <div class="error-box" role="alert">
      <strong>{t('common.error')}{code ? ` (${code})` : ''}: </strong>
      <span class="error-message">{message}</span>
      {field && !(lines && lines.length > 0) && <div class="error-field">{t('common.errorField', { field })}</div>}
      {lines && lines.length > 0 && (
        <ul class="error-lines">
          {lines.map((l) => (
            <li key={l.line} data-line={l.line}>
              {t('common.errorLine', { line: l.line, message: l.message })}
            </li>
          ))}
        </ul>
      )}
      {onRetry && (
        <button type="button" class="secondary" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

/** A short success/info line announced to screen readers. */
export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <div class="notice" role="status">
      {text}
    </div>
  );
}
