import { useState } from 'preact/hooks';
import { get, listOf, query } from '../api';
import { AlertList } from '../components/AlertList';
import { Empty, ErrorNote, Loading, Pager, SeverityBadge, Time } from '../components/ui';
import { words } from '../format';
import { useLoader } from '../hooks';
import type { Alert } from '../types';

const PAGE = 50;

interface AlertPage {
  alerts: Alert[];
  /** null when the API does not count; then one extra row tells whether there is a next page. */
  total: number | null;
}

async function fetchAlerts(params: Record<string, string | number | boolean | undefined>): Promise<AlertPage> {
  const data = await get<unknown>(`/api/alerts${query(params)}`);
  const total = data && typeof data === 'object' && !Array.isArray(data) ? ((data as { total?: number | null }).total ?? null) : null;
  return { alerts: listOf<Alert>(data, 'alerts'), total };
}

export function AlertsPage() {
  const open = useLoader('alerts-open', () => fetchAlerts({ open: true, limit: 200 }), ['alert.raised', 'alert.resolved']);
  const [offset, setOffset] = useState(0);
  const recent = useLoader(`alerts-all-${offset}`, () => fetchAlerts({ limit: PAGE + 1, offset }), ['alert.raised', 'alert.resolved']);

  const patch = (a: Alert) => {
    const upd = (old: AlertPage | undefined) => old && { ...old, alerts: old.alerts.map((x) => (x.id === a.id ? { ...x, ...a } : x)) };
    open.set(upd);
    recent.set(upd);
  };

  const recentRows = recent.data?.alerts.slice(0, PAGE) ?? [];
  const total = recent.data?.total ?? undefined;
  const hasMore = (recent.data?.alerts.length ?? 0) > PAGE;

  return (
    <div class="page" data-testid="page-alerts">
      <h1>Alerts</h1>
      <section aria-labelledby="open-h">
        <h2 id="open-h">Open{open.data ? ` (${open.data.total ?? open.data.alerts.length})` : ''}</h2>
        <ErrorNote error={open.error} />
        {!open.data ? (
          !open.error && <Loading />
        ) : open.data.alerts.length ? (
          <AlertList alerts={open.data.alerts} onChanged={patch} testid="open-alerts" />
        ) : (
          <Empty>No open alerts.</Empty>
        )}
      </section>
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent (open and closed)</h2>
        <ErrorNote error={recent.error} />
        {!recent.data ? (
          !recent.error && <Loading />
        ) : recentRows.length ? (
          <AlertTable alerts={recentRows} />
        ) : (
          <Empty>No alerts yet.</Empty>
        )}
        {(offset > 0 || hasMore) && <Pager offset={offset} limit={PAGE} shown={recentRows.length} total={total} hasMore={hasMore} onChange={setOffset} />}
      </section>
    </div>
  );
}

/** The history as a compact log; acting on alerts happens in the open list above. */
function AlertTable({ alerts }: { alerts: Alert[] }) {
  return (
    <div class="table-wrap">
      <table data-testid="recent-alerts">
        <thead>
          <tr>
            <th scope="col">Raised</th>
            <th scope="col">Severity</th>
            <th scope="col">Type</th>
            <th scope="col">Job</th>
            <th scope="col">Message</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id} data-testid="recent-alert" data-alert-id={a.id}>
              <td>
                <Time iso={a.created_at} testid="alert-raised" />
              </td>
              <td>
                <SeverityBadge severity={a.severity} />
              </td>
              <td>{words(a.alert_type)}</td>
              <td>{a.job_id !== null ? <a href={`#/jobs/${a.job_id}`}>{a.job_name ?? `job #${a.job_id}`}</a> : '—'}</td>
              <td class="message">
                {a.message}
                {a.count > 1 && <span class="muted"> ×{a.count}</span>}
              </td>
              <td>{a.resolved_at ? 'resolved' : a.acknowledged_at ? 'acknowledged' : <strong>open</strong>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
