import type { Kysely } from 'kysely';
import { iso } from '../../clock.js';
import type { DB, NodeRow } from '../schema.js';

/** One repository per table: smart_cron_nodes, and the leases nodes take turns on. */
export class NodesRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async register(row: { id: string; hostname: string; labels: Record<string, string>; slots: unknown; version: string; pid: number; enforcement: string }, nowMs: number): Promise<void> {
    const values = {
      id: row.id,
      hostname: row.hostname,
      labels: JSON.stringify(row.labels),
      slots: JSON.stringify(row.slots),
      started_at: iso(nowMs),
      heartbeat_at: iso(nowMs),
      version: row.version,
      status: 'up' as const,
      pid: row.pid,
      enforcement: row.enforcement,
    };
    await this.db
      .insertInto('smart_cron_nodes')
      .values(values)
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...values }))
      .execute();
  }

  async heartbeat(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('smart_cron_nodes').set({ heartbeat_at: iso(nowMs), status: 'up' }).where('id', '=', id).execute();
  }

  async markStopped(id: string): Promise<void> {
    await this.db.updateTable('smart_cron_nodes').set({ status: 'stopped' }).where('id', '=', id).execute();
  }

  list(): Promise<NodeRow[]> {
    return this.db.selectFrom('smart_cron_nodes').selectAll().orderBy('id').execute();
  }

  /**
   * Take or renew a named lease (e.g. the scheduler's). One UPDATE or INSERT decides, so two
   * nodes can never both hold it; a holder that stops renewing loses it when it expires.
   */
  async acquireLease(name: string, holder: string, nowMs: number, ttlMs: number): Promise<boolean> {
    const expires = iso(nowMs + ttlMs);
    const r = await this.db
      .updateTable('smart_cron_leases')
      .set({ holder, expires_at: expires })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', iso(nowMs))]))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return true;
    const ins = await this.db
      .insertInto('smart_cron_leases')
      .values({ name, holder, expires_at: expires })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(ins.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('smart_cron_leases').where('name', '=', name).where('holder', '=', holder).execute();
  }
}
