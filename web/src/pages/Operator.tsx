import { t } from '../i18n';
import type { PageProps } from '../routes';

export default function Operator(_props: PageProps) {
  return (
    <section>
      <h1>{t('nav.operator')}</h1>
      <p class="muted">{t('common.comingSoon')}</p>
    </section>
  );
}
