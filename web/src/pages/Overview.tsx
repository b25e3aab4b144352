import { useEffect } from 'preact/hooks';
import { get, listOf } from '../api';
import { AlertList } from '../components/AlertList';
import { RunTable } from '../components/RunTable';
import { mergeSlots, SlotCard } from '../components/SlotCard';
import { Empty, ErrorNote, Loading, Time } from '../components/ui';
import { megabytes } from '../format';
import { useLoader } from '../hooks';
import { useLive } from '../live';
import type { Alert, ClusterNode, Health, Nodes, Overview, SlotUsage } from '../types';

const HEALTHS: Health[] = ['critical', 'warning', 'healthy'];

const NODE_TONE: Record<ClusterNode['status'], string> = { up: 'ok', unresponsive: 'bad', down: 'bad', stopped: 'muted' };
const NODE_TITLE: Record<ClusterNode['status'], string> = {
  up: 'sending heartbeats',
  unresponsive: 'no heartbeat within the lease (node.lease_seconds)',
  down: 'stopped sending heartbeats; another node took over its runs',
  stopped: 'shut down cleanly',
};
/** Heartbeats come every few seconds and say nothing on the event stream: look again this often. */
const NODES_REFRESH_MS = 15_000;

/** The daemons sharing the database, so a node that died shows (its slot cards alone would just be gone). */
function NodesSection() {
  const nodes = useLoader('nodes', () => get<Nodes>('/api/nodes'), ['run.started', 'run.finished']);
  const { reload } = nodes;
  useEffect(() => {
    const t = setInterval(reload, NODES_REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);

  const list = nodes.data?.nodes;
  return (
    <section aria-labelledby="nodes-h">
      <h2 id="nodes-h">Nodes{list ? ` (${list.length})` : ''}</h2>
      <ErrorNote error={nodes.error} testid="nodes-error" />
      {!list ? (
        !nodes.error && <Loading />
      ) : list.length ? (
        <div class="table-wrap">
          <table data-testid="nodes">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">Heartbeat</th>
                <th scope="col" class="num">Running</th>
                <th scope="col" class="num">Reserved</th>
                <th scope="col">Enforcement</th>
                <th scope="col">Labels</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {list.map((n) => {
                const self = n.id === nodes.data!.this_node;
                const labels = Object.entries(n.labels);
                return (
                  <tr key={n.id} class={self ? 'this-node' : undefined} data-testid="node-row" data-node-id={n.id} data-status={n.status} data-this-node={self ? 'true' : undefined}>
                    <td class="name" title={n.hostname !== n.id ? `host ${n.hostname}` : undefined}>
                      {n.id}
                      {self && <span class="small muted">this node</span>}
                    </td>
                    <td>
                      <span class={`badge tone-${NODE_TONE[n.status]}`} title={NODE_TITLE[n.status]} data-testid="node-status">
                        {n.status}
                      </span>
                    </td>
                    <td>
                      <Time iso={n.heartbeat_at} />
                    </td>
                    <td class="num" data-testid="node-running">
                      {n.running_runs}
                    </td>
                    <td class="num">{megabytes(n.reserved_memory_mb)}</td>
                    <td data-testid="node-enforcement">{n.enforcement ?? '—'}</td>
                    <td>{labels.length ? labels.map(([k, v]) => <span key={k} class="tag">{`${k}=${v}`}</span>) : <span class="muted">—</span>}</td>
                    <td>{n.version}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty>No nodes yet (each daemon registers itself when it starts).</Empty>
      )}
    </section>
  );
}

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

      <NodesSection />

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
