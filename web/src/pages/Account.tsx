// Placeholder: the second frontend engineer replaces this page (see web/README.md).
import { t } from '../i18n';
import type { PageProps } from '../routes';

export default function Account(_props: PageProps) {
  return (
    <section>
      <h1>{t('nav.account')}</h1>
      <p class="muted">{t('common.comingSoon')}</p>
    </section>
  );
}
