// Placeholder: the second frontend engineer replaces this page (see web/README.md).
import { t } from '../i18n';
import type { PageProps } from '../routes';

export default function Portfolio(_props: PageProps) {
  return (
    <section>
      <h1>{t('nav.portfolio')}</h1>
      <p class="muted">{t('common.comingSoon')}</p>
    </section>
  );
}
