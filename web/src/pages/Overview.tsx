import { get, listOf } from '../api';
import { AlertList } from '../components/AlertList';
import { RunTable } from '../components/RunTable';
import { mergeSlots, SlotCard } from '../components/SlotCard';
import { Empty, ErrorNote, Loading } from '../components/ui';
import { useLoader } from '../hooks';
import { useLive } from '../live';
import type { Alert, Health, Overview, SlotUsage } from '../types';

const HEALTHS: Health[] = ['critical', 'warning', 'healthy'];

export function OverviewPage() {
  const ov = useLoader('overview', () => get<Overview>('/api/overview'), ['run.queued', 'run.started', 'run.cancelling', 'run.finished', 'alert.raised', 'alert.resolved', 'job.changed']);

  // Slot usage changes every few seconds while jobs run: patch it in place rather than refetching everything.
  useLive(['slots'], (_t, data) => {
    ov.set((old) => (old ? { ...old, slots: mergeSlots(old.slots, listOf<SlotUsage>(data, 'slots')) } : old));
  });

  if (!ov.data) return ov.error ? <ErrorNote error={ov.error} /> : <Loading />;
  const { counts, slots, running, queued, alerts } = ov.data;
  const total = counts.critical + counts.warning + counts.healthy;
  const all = (ov.data as Overview & { jobs?: { total: number; enabled: number } }).jobs;

  const onAlert = (a: Alert) => ov.set((old) => (old ? { ...old, alerts: old.alerts.map((x) => (x.id === a.id ? { ...x, ...a } : x)) } : old));

  return (
    <div class="page" data-testid="page-overview">
      <h1>Overview</h1>
      <ErrorNote error={ov.error} />
      <section aria-labelledby="health-h">
        <h2 id="health-h">
          Health of {total.toLocaleString()} {all && all.enabled === total ? 'enabled ' : ''}jobs
          {all && all.total !== total && <span class="small muted">{all.total.toLocaleString()} registered</span>}
        </h2>
        <div class="health-cards">
          {HEALTHS.map((h) => (
            <a key={h} class={`card health-card health-${h}`} href={`#/jobs?health=${h}`} data-testid={`count-${h}`}>
              <span class="health-count">{counts[h].toLocaleString()}</span>
              <span class="health-name">
                <span class={`dot dot-${h}`} aria-hidden="true" /> {h}
              </span>
            </a>
          ))}
        </div>
      </section>

      <section aria-labelledby="slots-h">
        <h2 id="slots-h">Slots</h2>
        {slots.length ? (
          <div class="slot-grid" data-testid="slots">
            {slots.map((s) => (
              <SlotCard key={`${s.node}/${s.slot}`} slot={s} />
            ))}
          </div>
        ) : (
          <Empty>No slots reported yet (is the daemon running?).</Empty>
        )}
      </section>

      <div class="two-col">
        <section aria-labelledby="running-h">
          <h2 id="running-h">Running now ({running.length})</h2>
          {running.length ? <RunTable runs={running} columns={['job', 'status', 'started', 'slot', 'memory']} testid="running" /> : <Empty>Nothing is running.</Empty>}
        </section>
        <section aria-labelledby="queued-h">
          <h2 id="queued-h">Queued ({queued.length})</h2>
          {queued.length ? <RunTable runs={queued} columns={['job', 'queued', 'slot', 'reason']} testid="queued" /> : <Empty>The queue is empty.</Empty>}
        </section>
      </div>

      <section aria-labelledby="alerts-h">
        <h2 id="alerts-h">
          Recent alerts <a class="small" href="#/alerts">all alerts ›</a>
        </h2>
        {alerts.length ? <AlertList alerts={alerts} onChanged={onAlert} testid="overview-alerts" /> : <Empty>No recent alerts.</Empty>}
      </section>
    </div>
  );
}
