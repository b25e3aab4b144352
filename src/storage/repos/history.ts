import type { Kysely, Transaction } from 'kysely';
import type { DB, NewRunRow, RunRow, RunStatus, RunUpdate } from '../schema.js';

type Q = Kysely<DB> | Transaction<DB>;
const T = 'smart_cron_job_history' as const;

export interface RunListFilter {
  jobId?: number;
  status?: RunStatus | RunStatus[];
  node?: string;
  trigger?: string;
  /** Only runs with id below this (keyset paging, newest first). */
  beforeId?: number;
  limit?: number;
  offset?: number;
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '23505' || err.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err.message ?? '');
}

/** One repository per table: runs, one row per (job, tick, attempt). */
export class HistoryRepo {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Insert a run unless its (job, scheduled_for, attempt) key exists already: the one
   * guarantee that a tick runs at most once, on one node or many. Returns null on a duplicate.
   */
  async insertOnce(row: NewRunRow, q: Q = this.db): Promise<RunRow | null> {
    try {
      const r = await q
        .insertInto(T)
        .values(row)
        .onConflict((oc) => oc.columns(['job_id', 'scheduled_for', 'attempt']).doNothing())
        .returningAll()
        .executeTakeFirst();
      return r ?? null;
    } catch (e) {
      if (isUniqueViolation(e)) return null;
      throw e;
    }
  }

  byId(id: number, q: Q = this.db): Promise<RunRow | undefined> {
    return q.selectFrom(T).selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** These runs (those that still exist), in no particular order. */
  async byIds(ids: readonly number[], q: Q = this.db): Promise<RunRow[]> {
    return ids.length ? q.selectFrom(T).selectAll().where('id', 'in', [...ids]).execute() : [];
  }

  async update(id: number, patch: RunUpdate, q: Q = this.db): Promise<void> {
    await q.updateTable(T).set(patch).where('id', '=', id).execute();
  }

  /** Say why these queued runs wait, one statement per 500 runs; rows that say so already are left alone. */
  async setWaitReason(ids: number[], reason: string, q: Q = this.db): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await q
        .updateTable(T)
        .set({ wait_reason: reason })
        .where('id', 'in', ids.slice(i, i + 500))
        .where('status', '=', 'queued')
        .where((eb) => eb.or([eb('wait_reason', 'is', null), eb('wait_reason', '!=', reason)]))
        .execute();
    }
  }

  /** Update only while the run is still in one of `from`; returns whether it changed (no overwriting of others' decisions). */
  async transition(id: number, from: RunStatus[], patch: RunUpdate, q: Q = this.db): Promise<boolean> {
    const r = await q.updateTable(T).set(patch).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** transition(), returning the run as it is now when it changed (one statement), else undefined. */
  transitionReturning(id: number, from: RunStatus[], patch: RunUpdate, q: Q = this.db): Promise<RunRow | undefined> {
    return q.updateTable(T).set(patch).where('id', '=', id).where('status', 'in', from).returningAll().executeTakeFirst();
  }

  /** Skip a run that is still queued, saying why; the run as it is now, or undefined when it is no longer queued. */
  skipQueued(id: number, reason: string, atIso: string, q: Q = this.db): Promise<RunRow | undefined> {
    return this.transitionReturning(id, ['queued'], { status: 'skipped', skip_reason: reason, finished_at: atIso }, q);
  }

  /** Ask for a running run to be stopped (the reason); the run as it is now, or undefined when it is no longer running. */
  requestCancel(id: number, reason: string, q: Q = this.db): Promise<RunRow | undefined> {
    return this.transitionReturning(id, ['running'], { cancel_requested: reason }, q);
  }

  /** The running runs of one node that a person asked to stop. */
  cancelRequests(node: string, q: Q = this.db): Promise<{ id: number; cancel_requested: string | null }[]> {
    return q
      .selectFrom(T)
      .select(['id', 'cancel_requested'])
      .where('status', '=', 'running')
      .where('node', '=', node)
      .where('cancel_requested', 'is not', null)
      .execute();
  }

  /** Runs newest first. */
  list(f: RunListFilter, q: Q = this.db): Promise<RunRow[]> {
    let query = q.selectFrom(T).selectAll();
    if (f.jobId !== undefined) query = query.where('job_id', '=', f.jobId);
    if (f.status) query = query.where('status', 'in', Array.isArray(f.status) ? f.status : [f.status]);
    if (f.node) query = query.where('node', '=', f.node);
    if (f.trigger) query = query.where('trigger', '=', f.trigger as RunRow['trigger']);
    if (f.beforeId !== undefined) query = query.where('id', '<', f.beforeId);
    return query
      .orderBy('id', 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
  }

  /** Live runs (queued or running) of one job, or of all jobs. */
  active(jobId?: number, q: Q = this.db): Promise<RunRow[]> {
    let query = q.selectFrom(T).selectAll().where('status', 'in', ['queued', 'running']);
    if (jobId !== undefined) query = query.where('job_id', '=', jobId);
    return query.orderBy('id').execute();
  }

  /** The last `limit` successful runs of a job finished at or after `sinceIso` (baselines). */
  recentSuccesses(jobId: number, sinceIso: string, limit: number, q: Q = this.db) {
    return q
      .selectFrom(T)
      .select(['duration_ms', 'peak_memory_mb', 'cpu_percent'])
      .where('job_id', '=', jobId)
      .where('status', '=', 'succeeded')
      .where('finished_at', '>=', sinceIso)
      .orderBy('finished_at', 'desc')
      .limit(limit)
      .execute();
  }

  async lastFinished(jobId: number, q: Q = this.db): Promise<RunRow | undefined> {
    return q
      .selectFrom(T)
      .selectAll()
      .where('job_id', '=', jobId)
      .where('status', 'not in', ['queued', 'running', 'skipped'])
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }
}
