import type { Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { AlertRow, AlertsTable, DB, DeliveriesTable } from '../schema.js';

type Q = Kysely<DB> | Transaction<DB>;
const A = 'smart_cron_performance_alerts' as const;
const D = 'smart_cron_alert_deliveries' as const;

export type DeliveryRow = Selectable<DeliveriesTable>;
export type AlertView = AlertRow & { job_name: string | null };

export interface AlertListFilter {
  /** Only alerts that have not resolved (acknowledged ones included). */
  open?: boolean;
  jobId?: number;
  limit?: number;
  offset?: number;
}

/** One repository per table: alerts, and the deliveries that belong to them. */
export class AlertsRepo {
  constructor(private readonly db: Kysely<DB>) {}

  byId(id: number, q: Q = this.db): Promise<AlertRow | undefined> {
    return q.selectFrom(A).selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** These alerts (those that still exist), in no particular order. */
  async byIds(ids: readonly number[], q: Q = this.db): Promise<AlertRow[]> {
    return ids.length ? q.selectFrom(A).selectAll().where('id', 'in', [...ids]).execute() : [];
  }

  /** The open alert of this type for this job (there is at most one). */
  open(jobId: number, type: string, q: Q = this.db): Promise<AlertRow | undefined> {
    return q.selectFrom(A).selectAll().where('job_id', '=', jobId).where('alert_type', '=', type).where('resolved_at', 'is', null).orderBy('id').executeTakeFirst();
  }

  /** Every open alert of one job (a handful at most): one query per recorded run. */
  openForJob(jobId: number, q: Q = this.db): Promise<AlertRow[]> {
    return q.selectFrom(A).selectAll().where('job_id', '=', jobId).where('resolved_at', 'is', null).orderBy('id').execute();
  }

  /** Open alerts of these types (any job). */
  openOfTypes(types: readonly string[], q: Q = this.db): Promise<AlertRow[]> {
    return q.selectFrom(A).selectAll().where('alert_type', 'in', [...types]).where('resolved_at', 'is', null).execute();
  }

  async insert(row: Insertable<AlertsTable>, q: Q = this.db): Promise<AlertRow> {
    const r = await q.insertInto(A).values(row).returning('id').executeTakeFirstOrThrow();
    return (await this.byId(r.id, q))!;
  }

  async update(id: number, patch: Updateable<AlertsTable>, q: Q = this.db): Promise<AlertRow> {
    await q.updateTable(A).set(patch).where('id', '=', id).execute();
    return (await this.byId(id, q))!;
  }

  /** Count one more occurrence (in SQL, so two nodes counting at once both count). */
  async repeat(id: number, patch: Updateable<AlertsTable>, q: Q = this.db): Promise<AlertRow> {
    await q.updateTable(A).set(patch).set((eb) => ({ count: eb('count', '+', 1) })).where('id', '=', id).execute();
    return (await this.byId(id, q))!;
  }

  /** Resolve only if still open, so two resolvers never both announce it. */
  async resolve(id: number, at: string, q: Q = this.db): Promise<boolean> {
    const r = await q.updateTable(A).set({ resolved_at: at, updated_at: at }).where('id', '=', id).where('resolved_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Newest first, with the job's name. */
  async list(f: AlertListFilter, q: Q = this.db): Promise<{ alerts: AlertView[]; total: number }> {
    let base = q.selectFrom(A).leftJoin('smart_cron_integrated_jobs as j', 'j.id', `${A}.job_id`);
    if (f.open) base = base.where(`${A}.resolved_at`, 'is', null);
    if (f.jobId !== undefined) base = base.where(`${A}.job_id`, '=', f.jobId);
    const alerts = await base
      .selectAll(A)
      .select('j.name as job_name')
      .orderBy(`${A}.id`, 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { alerts, total: Number(n) };
  }

  async insertDelivery(row: Insertable<DeliveriesTable>, q: Q = this.db): Promise<DeliveryRow> {
    const r = await q.insertInto(D).values(row).returning('id').executeTakeFirstOrThrow();
    return (await q.selectFrom(D).selectAll().where('id', '=', r.id).executeTakeFirstOrThrow())!;
  }

  async updateDelivery(id: number, patch: Updateable<DeliveriesTable>, q: Q = this.db): Promise<void> {
    await q.updateTable(D).set(patch).where('id', '=', id).execute();
  }

  /**
   * Claim pending deliveries that are due and that no live claim holds: a compare-and-set per
   * row, so where daemons share the table each row goes to exactly one of them.
   */
  async claimDue(now: string, by: string, until: string, limit = 50, q: Q = this.db): Promise<DeliveryRow[]> {
    const free = (qb: Q) =>
      qb
        .updateTable(D)
        .set({ claimed_by: by, claimed_until: until })
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]));
    const due = await q
      .selectFrom(D)
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    const won: number[] = [];
    for (const { id } of due) {
      const r = await free(q).where('id', '=', id).executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) won.push(id);
    }
    return won.length ? q.selectFrom(D).selectAll().where('id', 'in', won).orderBy('id').execute() : [];
  }

  /** Give claims back (rows stay pending, due at once): a stopping daemon leaves them to the next. */
  async releaseClaims(ids: readonly number[], by: string, q: Q = this.db): Promise<void> {
    if (ids.length === 0) return;
    await q.updateTable(D).set({ claimed_by: null, claimed_until: null }).where('id', 'in', [...ids]).where('claimed_by', '=', by).where('status', '=', 'pending').execute();
  }

  /** When the next pending delivery that no live claim holds falls due, or null. */
  async nextFree(now: string, q: Q = this.db): Promise<string | null> {
    const r = await q
      .selectFrom(D)
      .select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .executeTakeFirst();
    return (r?.at as string | null | undefined) ?? null;
  }

  async deleteDelivery(id: number, q: Q = this.db): Promise<void> {
    await q.deleteFrom(D).where('id', '=', id).execute();
  }

  /** Alert and recovery notices counted against a route since `since` (held-back ones are not), oldest first. */
  async countedSince(route: string, since: string, q: Q = this.db): Promise<string[]> {
    const rows = await q
      .selectFrom(D)
      .select('created_at')
      .where('route', '=', route)
      .where('created_at', '>', since)
      .where('kind', 'in', ['alert', 'recovery'])
      .where('status', '!=', 'suppressed')
      .orderBy('created_at')
      .execute();
    return rows.map((r) => r.created_at);
  }

  /** Held-back deliveries not yet in a digest (every route, or one), oldest first. */
  heldBack(route?: string, q: Q = this.db): Promise<DeliveryRow[]> {
    let query = q.selectFrom(D).selectAll().where('status', '=', 'suppressed').where('digest_id', 'is', null);
    if (route !== undefined) query = query.where('route', '=', route);
    return query.orderBy('id').execute();
  }

  /** Put these held-back rows into a digest; only those still free (two daemons never both list one). */
  async assignDigest(ids: readonly number[], digestId: number, q: Q = this.db): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await q.updateTable(D).set({ digest_id: digestId }).where('id', 'in', [...ids]).where('status', '=', 'suppressed').where('digest_id', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Give up an alert's pending deliveries nobody is attempting now; returns how many. */
  async dropPending(alertId: number, now: string, reason: string, q: Q = this.db): Promise<number> {
    const r = await q
      .updateTable(D)
      .set({ status: 'failed', next_attempt_at: null, last_error: reason })
      .where('alert_id', '=', alertId)
      .where('kind', '=', 'alert')
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  deliveries(f: { alertId?: number; kind?: DeliveryRow['kind']; digestId?: number } = {}, q: Q = this.db): Promise<DeliveryRow[]> {
    let query = q.selectFrom(D).selectAll();
    if (f.digestId !== undefined) query = query.where('digest_id', '=', f.digestId);
    if (f.alertId !== undefined) query = query.where('alert_id', '=', f.alertId);
    if (f.kind) query = query.where('kind', '=', f.kind);
    return query.orderBy('id').execute();
  }
}
