import { tDyn } from '../i18n';

/** A state/status value as a coloured, translated badge (catalogue keys state.<value>). */
export function StateBadge({ state }: { state: string }) {
  return <span class={'badge ' + state}>{tDyn('state.' + state, state)}</span>;
}
