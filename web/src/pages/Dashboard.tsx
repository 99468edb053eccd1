// /dashboard: the caller's sites (latest net power, today's energy), the next market slot with its
// gate-closure countdown, the caller's open bids, the last cleared slot, alerts. Live via SSE.
import { api, ApiError, qs, type Page } from '../api';
import { marketNow } from '../clock';
import { Countdown } from '../components/Countdown';
import { ErrorBox } from '../components/ErrorBox';
import { Link } from '../components/Link';
import { Table } from '../components/Table';
import { useServerEvents } from '../events';
import { formatInstant, formatKW, formatKWh, formatPrice, localDate, tzOffset } from '../format';
import { useAsync, useDebounced, useInterval } from '../hooks';
import { t, tDyn } from '../i18n';
import { loadMarkets, tickDigits } from '../markets';
import { findRoute, mayUse, type PageProps } from '../routes';
import type { Role } from '../session';
import type { Alert, Asset, Bid, ClearingSummary, DayEnergy, Job, Market, NextSlot, PowerReading } from '../types';

interface SiteRow {
  site: Asset;
  latest?: PowerReading;
  today?: DayEnergy;
  error?: unknown;
}

async function loadSites(accountId: number): Promise<SiteRow[]> {
  const assets = await api<Page<Asset>>('GET', '/api/v1/assets' + qs({ per_page: 500 }));
  const sites = assets.items.filter((a) => a.type === 'site' && a.account_id === accountId);
  return Promise.all(
    sites.map(async (site) => {
      try {
        const [readings, today] = await Promise.all([
          api<Page<PowerReading>>('GET', `/api/v1/assets/${site.id}/power/readings` + qs({ per_page: 50 })),
          api<DayEnergy>('GET', `/api/v1/assets/${site.id}/power/summary`),
        ]);
        let items = readings.items;
        if (!items.length) {
          // just after local midnight today has no reading yet: the latest is yesterday's
          const yesterday = localDate(marketNow() - 86400000, site.timezone);
          items = (await api<Page<PowerReading>>('GET', `/api/v1/assets/${site.id}/power/readings` + qs({ date: yesterday, per_page: 50 }))).items;
        }
        const latest = items.find((r) => r.kind === 'net_load') || items[0];
        return { site, latest, today };
      } catch (error) {
        return { site, error };
      }
    }),
  );
}

interface MarketState {
  market: Market;
  next?: NextSlot;
  nextError?: unknown;
  last?: ClearingSummary;
  open: Bid[];
}

async function loadMarketStates(): Promise<MarketState[]> {
  const markets = await loadMarkets();
  return Promise.all(
    markets.map(async (market) => {
      const [next, last, open] = await Promise.all([
        api<NextSlot>('GET', `/api/v1/markets/${market.id}/next-slot`).then(
          (n) => ({ n }),
          (e) => ({ e }),
        ),
        // the newest slot that traded, among the last day's closed slots
        api<Page<ClearingSummary>>('GET', `/api/v1/markets/${market.id}/clearings` + qs({ per_page: 48 })),
        api<Page<Bid>>('GET', `/api/v1/markets/${market.id}/bids` + qs({ status: 'open', per_page: 500 })),
      ]);
      return {
        market,
        next: 'n' in next ? next.n : undefined,
        nextError: 'e' in next ? next.e : undefined,
        last: last.items.find((x) => x.state === 'cleared'),
        open: open.items,
      };
    }),
  );
}

/** The page an alert's link (an API URL or a page path) leads to, if the caller may use it. */
export function alertPage(link: string | undefined | null, roles: readonly Role[]): string | null {
  if (!link) return null;
  let path = link;
  if (link.startsWith('/api/v1/')) {
    const m = /^\/api\/v1\/([a-z_-]+)/.exec(link);
    const map: Record<string, string> = { jobs: '/jobs', schedules: '/portfolio', settlements: '/market', markets: '/market', trades: '/market', assets: '/assets', sensors: '/assets' };
    path = (m && map[m[1]]) || '';
  }
  const r = findRoute(path.split('?')[0]);
  return r && mayUse(r, roles) ? r.path : null;
}

/** Alerts from GET /api/v1/alerts; while the server lacks it (404), failed jobs stand in. */
async function loadAlerts(): Promise<{ alerts: Alert[]; fallback: boolean }> {
  try {
    const r = await api<{ alerts: Alert[] }>('GET', '/api/v1/alerts');
    return { alerts: r.alerts || [], fallback: false };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    const jobs = await api<Page<Job>>('GET', '/api/v1/jobs' + qs({ state: 'failed', per_page: 10 }));
    return {
      alerts: jobs.items.map((j) => ({ kind: 'job_failed', message: `#${j.id} ${j.type}: ${j.error || ''}`, at: j.finished_at || j.created_at, link: '/jobs' })),
      fallback: true,
    };
  }
}

function SitesCard({ me }: { me: PageProps['me'] }) {
  const s = useAsync(() => loadSites(me.account.id), [me.account.id]);
  useInterval(s.reload, 60000);
  return (
    <section class="card" aria-labelledby="h-sites">
      <h2 id="h-sites">{t('dashboard.sites')}</h2>
      <ErrorBox error={s.error} onRetry={s.reload} />
      {s.data && s.data.length === 0 && <p class="muted">{t('dashboard.noSites')}</p>}
      {s.data && s.data.length > 0 && (
        <Table
          rows={s.data}
          rowKey={(r) => r.site.id}
          columns={[
            { key: 'site', label: t('dashboard.site'), sortValue: (r) => r.site.name, render: (r) => r.site.name },
            {
              key: 'latest',
              label: t('dashboard.latestPower'),
              numeric: true,
              sortValue: (r) => r.latest?.power_kw,
              render: (r) =>
                r.error ? (
                  <ErrorBox error={r.error} />
                ) : r.latest ? (
                  <span>
                    {formatKW(r.latest.power_kw)}{' '}
                    <small class="muted">
                      ({r.latest.power_kw >= 0 ? t('dashboard.netImport') : t('dashboard.netExport')})
                    </small>
                  </span>
                ) : (
                  '–'
                ),
            },
            { key: 'at', label: t('dashboard.latestAt'), sortValue: (r) => r.latest?.time, render: (r) => (r.latest ? formatInstant(r.latest.time, r.site.timezone) : '–') },
            { key: 'consumed', label: t('dashboard.todayConsumed'), numeric: true, sortValue: (r) => r.today?.consume_kwh, render: (r) => formatKWh(r.today?.consume_kwh) },
            { key: 'produced', label: t('dashboard.todayProduced'), numeric: true, sortValue: (r) => r.today?.generate_kwh, render: (r) => formatKWh(r.today?.generate_kwh) },
            { key: 'net', label: t('dashboard.todayNet'), numeric: true, sortValue: (r) => r.today?.energy_kwh?.net_load, render: (r) => formatKWh(r.today?.energy_kwh?.net_load) },
          ]}
        />
      )}
    </section>
  );
}

export default function Dashboard({ me }: PageProps) {
  const ms = useAsync(loadMarketStates, []);
  const al = useAsync(loadAlerts, []);
  const reload = useDebounced(ms.reload, 250);
  const reloadAlerts = useDebounced(al.reload, 1000);
  const live = useServerEvents((ev) => {
    if (['resync', 'cleared', 'gate_closed', 'bid_placed', 'bid_changed', 'bid_cancelled', 'trades', 'settling', 'executing'].includes(ev.type)) reload();
    if (ev.type === 'settling' || ev.type === 'resync') reloadAlerts();
  });
  // a countdown that reached zero: fetch the next slot
  useInterval(() => {
    const now = marketNow();
    if (ms.data && !ms.loading && ms.data.some((m) => m.next && Date.parse(m.next.gate_closure) < now)) reload();
  }, 5000);

  const states = ms.data || [];
  return (
    <section>
      <div class="row">
        <h1>{t('dashboard.title')}</h1>
        <span class="spacer" />
        <span class={'live' + (live ? ' on' : '')}>{live ? t('common.live') : t('common.liveOff')}</span>
      </div>
      <ErrorBox error={ms.error} onRetry={ms.reload} />
      <div class="grid three">
        <section class="card" aria-labelledby="h-next">
          <h2 id="h-next">{t('dashboard.nextSlot')}</h2>
          {ms.loading && !ms.data && <p class="muted">{t('common.loading')}</p>}
          {ms.data && states.length === 0 && <p class="muted">{t('market.noMarkets')}</p>}
          {states.map(({ market, next, nextError }) => (
            <div key={market.id} class="next-slot" data-market={market.id}>
              {states.length > 1 && <h3>{market.name}</h3>}
              <ErrorBox error={nextError} />
              {next && (
                <dl class="kpis">
                  <div>
                    <dt>{t('market.slot')}</dt>
                    <dd>{formatInstant(next.slot_start, market.timezone)}</dd>
                  </div>
                  <div>
                    <dt>{t('dashboard.gateClosesIn')}</dt>
                    <dd class="kpi">
                      <Countdown to={next.gate_closure} />
                    </dd>
                  </div>
                  <div>
                    <dt>{t('market.participants')}</dt>
                    <dd>{next.participants}</dd>
                  </div>
                  <div>
                    <dt>{t('market.avgPrice')}</dt>
                    <dd>{next.averages_hidden ? t('market.hidden') : formatPrice(next.average_price, market.currency)}</dd>
                  </div>
                </dl>
              )}
              <p>
                <Link href={'/market?market=' + market.id}>{t('dashboard.toMarket')}</Link>
              </p>
            </div>
          ))}
        </section>
        <section class="card" aria-labelledby="h-last">
          <h2 id="h-last">{t('dashboard.lastCleared')}</h2>
          {states.map(({ market, last }) => (
            <div key={market.id} class="last-cleared">
              {states.length > 1 && <h3>{market.name}</h3>}
              {!last ? (
                <p class="muted">{t('dashboard.noCleared')}</p>
              ) : (
                <dl class="kpis">
                  <div>
                    <dt>{t('market.slot')}</dt>
                    <dd>{formatInstant(last.slot_start, market.timezone)}</dd>
                  </div>
                  <div>
                    <dt>{t('market.clearingPrice')}</dt>
                    <dd class="kpi">{formatPrice(last.price, market.currency)}</dd>
                  </div>
                  <div>
                    <dt>{t('market.clearedVolume')}</dt>
                    <dd>{formatKWh(last.volume_kwh, tickDigits(market.volume_tick_kwh))}</dd>
                  </div>
                  <div>
                    <dt>{t('market.state')}</dt>
                    <dd>{tDyn('state.' + last.state, last.state)}</dd>
                  </div>
                </dl>
              )}
            </div>
          ))}
        </section>
        <section class="card" aria-labelledby="h-alerts">
          <h2 id="h-alerts">{t('dashboard.alerts')}</h2>
          <ErrorBox error={al.error} onRetry={al.reload} />
          {al.data && al.data.alerts.length === 0 && <p class="muted">{t('dashboard.noAlerts')}</p>}
          {al.data && al.data.alerts.length > 0 && (
            <ul class="alerts">
              {al.data.alerts.map((a, i) => (
                <li key={i} data-kind={a.kind} class={'alert-' + (a.severity || 'error')}>
                  <strong>{tDyn('alert.' + a.kind, t('alert.other'))}</strong>
                  {a.at && <small class="muted"> · {formatInstant(a.at, states[0]?.market.timezone || 'UTC')}</small>}
                  <div>{alertPage(a.link, me.roles) ? <Link href={alertPage(a.link, me.roles)!}>{a.message}</Link> : a.message}</div>
                </li>
              ))}
            </ul>
          )}
          {al.data && al.data.fallback && <p class="muted legend-note">{t('dashboard.alertsUnavailable')}</p>}
        </section>
      </div>
      <SitesCard me={me} />
      <section class="card" aria-labelledby="h-open">
        <h2 id="h-open">{t('dashboard.openBids')}</h2>
        {states.map(({ market, open }) => (
          <div key={market.id}>
            {states.length > 1 && <h3>{market.name}</h3>}
            <p class="muted legend-note">{t('common.timezone', { tz: market.timezone, offset: tzOffset(Date.now(), market.timezone) })}</p>
            <Table
              rows={open}
              rowKey={(b) => b.id}
              loading={ms.loading && !ms.data}
              empty={t('dashboard.noOpenBids')}
              initialSort={{ key: 'slot', dir: 'asc' }}
              columns={[
                { key: 'slot', label: t('market.slot'), sortValue: (b) => b.slot_start, render: (b) => formatInstant(b.slot_start, market.timezone) },
                { key: 'side', label: t('market.side'), render: (b) => <span class={'badge ' + b.side}>{b.side === 'buy' ? t('market.buy') : t('market.sell')}</span> },
                { key: 'volume_kwh', label: t('market.volume'), numeric: true, render: (b) => formatKWh(b.volume_kwh, tickDigits(market.volume_tick_kwh)) },
                { key: 'price', label: t('market.price', { unit: market.price_unit }), numeric: true, render: (b) => formatPrice(b.price, market.currency) },
                { key: 'gate', label: t('market.countdown'), sortValue: (b) => b.gate_closure, render: (b) => <Countdown to={b.gate_closure} /> },
              ]}
            />
          </div>
        ))}
      </section>
    </section>
  );
}
