import { t } from '../i18n';
import type { PageProps } from '../routes';

export default function Market(_props: PageProps) {
  return (
    <section>
      <h1>{t('nav.market')}</h1>
      <p class="muted">{t('common.comingSoon')}</p>
    </section>
  );
}
