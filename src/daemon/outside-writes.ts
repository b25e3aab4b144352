/**
 * Changes made beside the daemon (the CLI, a one-shot `smart-cron run`) reach open dashboards.
 *
 * - SQLite: `PRAGMA data_version` changes when another connection has committed to the file
 *   (never for this connection's own writes). Looked at every second (`outsideWritesCheck`, one
 *   of the daemon's background tasks); on a change, dashboards are told to reload (a `cluster`
 *   job.changed with change `resync`, which only the event stream forwards). The daemon itself
 *   acts on such changes already: it plans from the database.
 * - PostgreSQL: the CLI tells the daemons itself, on the relay's channel (daemon/relay.ts), which
 *   jobs it changed: `announceJobChanges`.
 */
import { sql } from 'kysely';
import type { EventBus } from '../events.js';
import type { Database } from '../storage/database.js';
import { notify } from '../storage/pg-listen.js';
import { batches, RELAY_CHANNEL } from './relay.js';

/**
 * On SQLite, a check to run every second (the daemon's background tasks run it): the first call
 * notes the data version, each later one asks open dashboards to reload when another process has
 * committed since. null on PostgreSQL, where the CLI announces its changes itself.
 */
export function outsideWritesCheck(o: { database: Database; bus: EventBus }): (() => Promise<void>) | null {
  if (o.database.dialect !== 'sqlite') return null;
  let last: number | null = null;
  return async () => {
    const { rows } = await sql<{ data_version: number }>`PRAGMA data_version`.execute(o.database.db);
    const v = Number(rows[0]?.data_version);
    if (last !== null && v !== last) o.bus.emit('cluster', { event: 'job.changed', data: { id: 0, change: 'resync' } });
    last = v;
  };
}

/** On PostgreSQL, tell the daemons which jobs this process changed (their dashboards reload them). */
export async function announceJobChanges(database: Database, changes: { id: number; change: string }[], sender: string): Promise<void> {
  if (database.dialect !== 'postgres' || changes.length === 0) return;
  for (const payload of batches(sender, changes.map((c) => ['job.changed', c.id, c.change] as ['job.changed', number, string]))) {
    await notify(database, RELAY_CHANNEL, payload);
  }
}
