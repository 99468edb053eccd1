import { useMarketNow } from '../clock';
import { formatCountdown } from '../format';
import { t } from '../i18n';

/** Counts down to `to` (an instant) in market time; shows "gate closed" (or `doneText`) once passed. */
export function Countdown({ to, doneText }: { to: string | number; doneText?: string }) {
  const now = useMarketNow(250);
  const target = typeof to === 'number' ? to : Date.parse(to);
  const left = target - now;
  if (!(left > 0)) return <span class="countdown done">{doneText ?? t('market.gateClosed')}</span>;
  return (
    <span class="countdown" role="timer" aria-live="off">
      {formatCountdown(left)}
    </span>
  );
}
