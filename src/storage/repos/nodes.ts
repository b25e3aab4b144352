import type { Kysely, Selectable } from 'kysely';
import { iso } from '../../clock.js';
import type { DB, NodeRow, SlotsTable } from '../schema.js';

/** A node as people see it: the stored status, except that an `up` node gone quiet reads `unresponsive`. */
export type NodeStatus = NodeRow['status'] | 'unresponsive';

/** One node with its live load: what `smart-cron nodes` prints and GET /api/nodes answers. */
export type NodeOverview = Omit<NodeRow, 'labels' | 'slots' | 'status'> & {
  labels: Record<string, string>;
  slots: unknown;
  status: NodeStatus;
  running_runs: number;
  reserved_memory_mb: number;
};

/**
 * A node that has not been up for this long is stale: most likely gone for good, and worth
 * removing. (A node merely restarting, or down for a night's maintenance, is not.)
 */
export const STALE_AFTER_MS = 24 * 3600_000;

export function isStale(n: Pick<NodeOverview, 'status' | 'heartbeat_at'>, nowMs: number): boolean {
  return n.status !== 'up' && Date.parse(n.heartbeat_at) < nowMs - STALE_AFTER_MS;
}

/**
 * The staleness rule, stated once: a node whose last heartbeat is older than the lease has
 * stopped answering. Heartbeats are stored as ISO text (iso()), so the cutoff compares as text,
 * in SQL (failover marks such nodes down) as here (the CLI and the API show them unresponsive).
 */
export function heartbeatCutoff(nowMs: number, leaseMs: number): string {
  return iso(nowMs - leaseMs);
}

export function isUnresponsive(node: Pick<NodeRow, 'status' | 'heartbeat_at'>, nowMs: number, leaseMs: number): boolean {
  return node.status === 'up' && node.heartbeat_at < heartbeatCutoff(nowMs, leaseMs);
}

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

  /** Each node's id, status and the names of the slots it last registered: where a slot exists in the cluster. */
  async slotNames(): Promise<{ id: string; status: NodeRow['status']; slots: string[] }[]> {
    const rows = await this.db.selectFrom('smart_cron_nodes').select(['id', 'status', 'slots']).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, status: r.status, slots: Object.keys((JSON.parse(r.slots) as Record<string, unknown> | null) ?? {}) }));
  }

  list(): Promise<NodeRow[]> {
    return this.db.selectFrom('smart_cron_nodes').selectAll().orderBy('id').execute();
  }

  /**
   * The slot usage the other nodes that are up last wrote (smart_cron_execution_slots, which each
   * node rewrites from its live runs): for a dashboard that shows the whole cluster. Nodes that
   * stopped or stopped answering are left out.
   */
  async slotsOfOthers(thisNode: string, nowMs: number, leaseMs: number): Promise<Selectable<SlotsTable>[]> {
    return this.db
      .selectFrom('smart_cron_execution_slots as s')
      .innerJoin('smart_cron_nodes as n', 'n.id', 's.node')
      .selectAll('s')
      .where('s.node', '!=', thisNode)
      .where('n.status', '=', 'up')
      .where('n.heartbeat_at', '>=', heartbeatCutoff(nowMs, leaseMs))
      .orderBy('s.node')
      .orderBy('s.slot')
      .execute();
  }

  /** Every node by id, with its status as judged now, labels and slots parsed, and its running runs' count and reservations. */
  async overview(nowMs: number, leaseMs: number): Promise<NodeOverview[]> {
    const [nodes, running] = await Promise.all([
      this.list(),
      this.db
        .selectFrom('smart_cron_job_history')
        .select(['node', (eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum<number>('reservation_mb').as('mb')])
        .where('status', '=', 'running')
        .groupBy('node')
        .execute(),
    ]);
    return nodes.map((n) => {
      const load = running.find((r) => r.node === n.id);
      return {
        ...n,
        labels: JSON.parse(n.labels) as Record<string, string>,
        slots: JSON.parse(n.slots) as unknown,
        status: isUnresponsive(n, nowMs, leaseMs) ? 'unresponsive' : n.status,
        // PostgreSQL's COUNT (a bigint) arrives as text.
        running_runs: Number(load?.n ?? 0),
        reserved_memory_mb: Number(load?.mb ?? 0),
      };
    });
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
