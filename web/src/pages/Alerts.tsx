import { useState } from 'preact/hooks';
import { get, query } from '../api';
import { AlertList } from '../components/AlertList';
import { Empty, ErrorNote, Loading, Pager } from '../components/ui';
import { useLoader } from '../hooks';
import type { Alert } from '../types';

const PAGE = 50;

export function AlertsPage() {
  const open = useLoader('alerts-open', () => get<Alert[]>(`/api/alerts${query({ open: 1, limit: 200 })}`), ['alert.raised', 'alert.resolved']);
  const [offset, setOffset] = useState(0);
  const recent = useLoader(`alerts-recent-${offset}`, () => get<Alert[]>(`/api/alerts${query({ limit: PAGE + 1, offset })}`), ['alert.raised', 'alert.resolved']);

  const patch = (a: Alert) => {
    const upd = (old: Alert[] | undefined) => old?.map((x) => (x.id === a.id ? { ...x, ...a } : x));
    open.set(upd);
    recent.set(upd);
  };

  // The API does not say how many alerts there are; asking for one more than a page tells whether there is a next one.
  const recentRows = recent.data?.slice(0, PAGE) ?? [];
  const hasMore = (recent.data?.length ?? 0) > PAGE;

  return (
    <div class="page" data-testid="page-alerts">
      <h1>Alerts</h1>
      <section aria-labelledby="open-h">
        <h2 id="open-h">Open{open.data ? ` (${open.data.length})` : ''}</h2>
        <ErrorNote error={open.error} />
        {!open.data ? <Loading /> : open.data.length ? <AlertList alerts={open.data} onChanged={patch} testid="open-alerts" /> : <Empty>No open alerts.</Empty>}
      </section>
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent</h2>
        <ErrorNote error={recent.error} />
        {!recent.data ? <Loading /> : recentRows.length ? <AlertList alerts={recentRows} onChanged={patch} testid="recent-alerts" /> : <Empty>No alerts yet.</Empty>}
        {(offset > 0 || hasMore) && <Pager offset={offset} limit={PAGE} shown={recentRows.length} hasMore={hasMore} onChange={setOffset} />}
      </section>
    </div>
  );
}
