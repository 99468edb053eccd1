import { t } from '../i18n';
import type { PageProps } from '../routes';

export default function Jobs(_props: PageProps) {
  return (
    <section>
      <h1>{t('nav.jobs')}</h1>
      <p class="muted">{t('common.comingSoon')}</p>
    </section>
  );
}
