/**
 * The cluster relay: on PostgreSQL, each daemon tells the others what happened on it (runs
 * queued, started, being cancelled, finished; alerts; job changes), so a dashboard open on any
 * node shows the whole cluster live, not only that node's runs.
 *
 * - Out: the local bus's events, batched for `flushMs` (one NOTIFY for many events, ids only:
 *   NOTIFY payloads are small, and a row is read where it is shown).
 * - In: a LISTEN connection of its own (storage/pg-listen.ts). Another node's batch is read back
 *   from the database (runs and alerts by id, as they are now) and put on the local bus as
 *   `cluster` events, which the API's event stream forwards under their own names (read only
 *   while a stream is open). Metrics and the dispatcher never see them: they count and act on
 *   local events only.
 * - Nothing is sent or read on SQLite (one node).
 *
 * A batch sent while a node's LISTEN connection is down is lost to it; after reconnecting, the
 * node tells its dashboards to reload (a `job.changed` with change `resync`).
 */
import type { Clock, TimerHandle } from '../clock.js';
import { ALERT_EVENTS, RUN_EVENTS, type BusEvents, type EventBus, type RelayedEvent } from '../events.js';
import { listen, notify, type Listening } from '../storage/pg-listen.js';
import type { Database } from '../storage/database.js';
import type { AlertsRepo } from '../storage/repos/alerts.js';
import type { HistoryRepo } from '../storage/repos/history.js';

export const RELAY_CHANNEL = 'smart_cron_events';
type Relayed = RelayedEvent['event'];
/** [event, id] or, for job.changed, [event, id, change]. */
type Item = [Relayed, number] | ['job.changed', number, string];
/** Under PostgreSQL's 8000-byte limit for a NOTIFY payload. */
const MAX_PAYLOAD = 7000;

export interface RelayOptions {
  database: Database;
  /** The connection string the database was opened with. */
  url: string;
  node: string;
  bus: EventBus;
  history: HistoryRepo;
  alerts: AlertsRepo;
  clock: Clock;
  flushMs?: number;
  log?: (m: string) => void;
}

export interface Relay {
  close(): Promise<void>;
}

export function startRelay(o: RelayOptions): Relay {
  const flushMs = o.flushMs ?? 100;
  let pending: Item[] = [];
  let timer: TimerHandle | null = null;
  let sending: Promise<void> = Promise.resolve();
  let failedAt = 0;

  const flush = () => {
    timer = null;
    const items = pending;
    pending = [];
    sending = sending.then(async () => {
      for (const payload of batches(o.node, items)) {
        try {
          await notify(o.database, RELAY_CHANNEL, payload);
        } catch (e) {
          // Dashboards elsewhere miss these; say so, at most once a minute.
          if (o.clock.now() - failedAt > 60_000) o.log?.(`cluster events: telling the other nodes failed: ${(e as Error).message}`);
          failedAt = o.clock.now();
        }
      }
    });
  };
  let closed = false;
  const queue = (item: Item) => {
    if (closed) return;
    pending.push(item);
    timer ??= o.clock.setTimer(flushMs, flush);
  };

  const off: (() => void)[] = [];
  const on = <K extends keyof BusEvents>(name: K, fn: (...a: BusEvents[K]) => void) => {
    o.bus.on(name, fn as never);
    off.push(() => o.bus.off(name, fn as never));
  };
  for (const name of [...RUN_EVENTS, ...ALERT_EVENTS]) on(name, (row: { id: number }) => queue([name, row.id]));
  on('job.changed', (e) => queue(['job.changed', e.id, e.change]));

  const receive = async (payload: string) => {
    let msg: { n: string; e: Item[] };
    try {
      msg = JSON.parse(payload) as { n: string; e: Item[] };
    } catch {
      return;
    }
    // Read back only for someone to show it to (an open event stream).
    if (msg?.n === o.node || !Array.isArray(msg?.e) || o.bus.listenerCount('cluster') === 0) return;
    // Anyone who may use the database can send on the channel: take only well-formed items (ids are read back, never trusted as rows).
    const items = msg.e.filter((i) => Array.isArray(i) && typeof i[0] === 'string' && Number.isSafeInteger(i[1]));
    const ids = (events: readonly string[]) => [...new Set(items.filter((i) => events.includes(i[0])).map((i) => i[1]))];
    const [runs, alerts] = await Promise.all([o.history.byIds(ids(RUN_EVENTS)), o.alerts.byIds(ids(ALERT_EVENTS))]);
    const runById = new Map(runs.map((r) => [r.id, r]));
    const alertById = new Map(alerts.map((a) => [a.id, a]));
    for (const item of items) {
      const [event, id] = item;
      if (event === 'job.changed') o.bus.emit('cluster', { event, data: { id, change: typeof item[2] === 'string' ? item[2] : 'changed' } });
      else if ((RUN_EVENTS as readonly string[]).includes(event) && runById.has(id)) o.bus.emit('cluster', { event: event as (typeof RUN_EVENTS)[number], data: runById.get(id)! });
      else if ((ALERT_EVENTS as readonly string[]).includes(event) && alertById.has(id)) o.bus.emit('cluster', { event: event as (typeof ALERT_EVENTS)[number], data: alertById.get(id)! });
    }
  };

  let listening: Listening | null = null;
  if (o.database.dialect === 'postgres') {
    listening = listen({
      url: o.url,
      channel: RELAY_CHANNEL,
      onPayload: (p) => void receive(p).catch((e: Error) => o.log?.(`cluster events: reading another node's failed: ${e.message}`)),
      // Back after a gap: what was missed meanwhile is not known, so open dashboards reload.
      onConnected: (again) => {
        if (again) o.bus.emit('cluster', { event: 'job.changed', data: { id: 0, change: 'resync' } });
      },
      log: o.log,
    });
  } else {
    for (const f of off.splice(0)) f();
  }

  return {
    async close() {
      closed = true;
      for (const f of off.splice(0)) f();
      timer?.cancel();
      if (pending.length) flush();
      await sending;
      await listening?.close();
    },
  };
}

/** The items as NOTIFY payloads of `{n: node, e: items}`, each under the size limit. */
export function batches(node: string, items: Item[]): string[] {
  const out: string[] = [];
  let chunk: Item[] = [];
  const head = JSON.stringify({ n: node, e: [] }).length;
  let size = head;
  for (const item of items) {
    const len = JSON.stringify(item).length + 1;
    if (chunk.length && size + len > MAX_PAYLOAD) {
      out.push(JSON.stringify({ n: node, e: chunk }));
      chunk = [];
      size = head;
    }
    chunk.push(item);
    size += len;
  }
  if (chunk.length) out.push(JSON.stringify({ n: node, e: chunk }));
  return out;
}
