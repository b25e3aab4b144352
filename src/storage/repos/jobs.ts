import { sql, type Kysely, type Transaction } from 'kysely';
import { iso } from '../../clock.js';
import { failureRateOver, healthCase, healthRank, priorityRank } from '../health-sql.js';
import type { DB, JobRow, JobUpdate, NewJobRow } from '../schema.js';
import { since24h, StatsRepo } from './stats.js';

type Q = Kysely<DB> | Transaction<DB>;
const T = 'smart_cron_integrated_jobs' as const;

export interface JobListFilter {
  enabled?: boolean;
  category?: string;
  tag?: string;
  source?: string;
  /** Substring of name, description, command or script path. */
  text?: string;
  health?: 'critical' | 'warning' | 'healthy';
  missing?: boolean;
  /** 'dashboard' (the seed's order), or a column with optional '-' for descending. */
  sort?: string;
  limit?: number;
  offset?: number;
}

export const SORTABLE = ['name', 'priority', 'category', 'next_scheduled_run', 'last_executed_at', 'created_at', 'id', 'consecutive_failures'] as const;

function isoMinusHours(nowMs: number, h: number): string {
  return `'${iso(nowMs - h * 3600_000)}'`;
}

/** The health of each job `j` at nowMs, its 24 h failure rate read from the hourly buckets (health-sql.ts). */
function healthAt(nowMs: number): string {
  return healthCase(isoMinusHours(nowMs, 24), 'j', recentFailing(nowMs));
}

function recentFailing(nowMs: number): string {
  return failureRateOver(`'${since24h(nowMs)}'`);
}

/** One repository per table: the registry. */
export class JobsRepo {
  constructor(private readonly db: Kysely<DB>) {}

  byId(id: number, q: Q = this.db): Promise<JobRow | undefined> {
    return q.selectFrom(T).selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Many jobs by id, in chunks of 500 (one query each, not one per job). */
  async byIds(ids: Iterable<number>, q: Q = this.db): Promise<Map<number, JobRow>> {
    const all = [...new Set(ids)];
    const out = new Map<number, JobRow>();
    for (let i = 0; i < all.length; i += 500) {
      for (const r of await q.selectFrom(T).selectAll().where('id', 'in', all.slice(i, i + 500)).execute()) out.set(r.id, r);
    }
    return out;
  }

  byName(name: string, q: Q = this.db): Promise<JobRow | undefined> {
    return q.selectFrom(T).selectAll().where('name', '=', name).executeTakeFirst();
  }

  /**
   * A job by numeric id or by name. Digits alone are an id (names cannot be digits alone, see
   * src/shapes.ts); a name of digits from before that rule is still found when no job has that id.
   */
  async byRef(ref: string | number, q: Q = this.db): Promise<JobRow | undefined> {
    if (typeof ref === 'number') return this.byId(ref, q);
    if (!/^\d+$/.test(ref)) return this.byName(ref, q);
    return (await this.byId(Number(ref), q)) ?? this.byName(ref, q);
  }

  byScriptPath(path: string, q: Q = this.db): Promise<JobRow | undefined> {
    return q.selectFrom(T).selectAll().where('script_path', '=', path).executeTakeFirst();
  }

  async insert(row: NewJobRow, q: Q = this.db): Promise<JobRow> {
    const r = await q.insertInto(T).values(row).returning('id').executeTakeFirstOrThrow();
    return (await this.byId(r.id, q))!;
  }

  async update(id: number, patch: JobUpdate, q: Q = this.db): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    await q.updateTable(T).set(patch).where('id', '=', id).execute();
  }

  /** update(), returning the row as it is now (one statement); undefined when the job is gone. */
  updateReturning(id: number, patch: JobUpdate, q: Q = this.db): Promise<JobRow | undefined> {
    return q.updateTable(T).set(patch).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async delete(id: number, q: Q = this.db): Promise<boolean> {
    const r = await q.deleteFrom(T).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Enabled jobs whose next run is due at nowMs; the scheduler's one query. */
  due(nowMs: number, limit = 1000, q: Q = this.db): Promise<JobRow[]> {
    return q
      .selectFrom(T)
      .selectAll()
      .where('enabled', '=', 1)
      .where('next_scheduled_run', '<=', iso(nowMs))
      .orderBy('next_scheduled_run')
      .limit(limit)
      .execute();
  }

  /**
   * The jobs a periodic alert check can have something to say about, by id: enabled ones whose
   * next run is past (a missed tick; the grace is never negative), those with a queued or running
   * run (stuck, hanging), an open circuit, and those with an open alert of `alertTypes` (which
   * the check may resolve). Every other job gets an empty verdict, so a check over 1,000 quiet
   * jobs reads none of their rows.
   */
  periodicCandidates(nowMs: number, alertTypes: readonly string[], q: Q = this.db): Promise<JobRow[]> {
    return q
      .selectFrom(T)
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb('enabled', '=', 1), eb('next_scheduled_run', '<', iso(nowMs))]),
          eb('circuit_state', '=', 'open'),
          eb('id', 'in', eb.selectFrom('smart_cron_job_history').select('job_id').where('status', 'in', ['queued', 'running'])),
          eb(
            'id',
            'in',
            eb
              .selectFrom('smart_cron_performance_alerts')
              .select('job_id')
              .where('job_id', 'is not', null)
              .where('alert_type', 'in', [...alertTypes])
              .where('resolved_at', 'is', null),
          ),
        ]),
      )
      .orderBy('id')
      .execute();
  }

  /** The earliest next run among enabled jobs (only those later than `after` when given), for the scheduler's timer. */
  async earliestNextRun(after?: string | null, q: Q = this.db): Promise<string | null> {
    let query = q
      .selectFrom(T)
      .select((eb) => eb.fn.min('next_scheduled_run').as('t'))
      .where('enabled', '=', 1);
    if (after) query = query.where('next_scheduled_run', '>', after);
    const r = await query.executeTakeFirst();
    return (r?.t as string | null | undefined) ?? null;
  }

  async list(filter: JobListFilter, nowMs: number, q: Q = this.db): Promise<{ rows: JobRow[]; total: number }> {
    let base = q.selectFrom(`${T} as j`);
    if (filter.enabled !== undefined) base = base.where('j.enabled', '=', filter.enabled ? 1 : 0);
    if (filter.missing !== undefined) base = base.where('j.missing', '=', filter.missing ? 1 : 0);
    if (filter.category) base = base.where('j.category', '=', filter.category);
    if (filter.source) base = base.where('j.source', '=', filter.source as JobRow['source']);
    if (filter.tag) {
      const tag = filter.tag;
      base = base.where((eb) =>
        eb.exists(
          eb.selectFrom('smart_cron_job_tags as t').select('t.job_id').whereRef('t.job_id', '=', 'j.id').where('t.tag', '=', tag),
        ),
      );
    }
    if (filter.text) {
      const like = `%${filter.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      base = base.where((eb) =>
        eb.or(
          (['name', 'description', 'command', 'script_path'] as const).map((c) =>
            eb(sql`lower(coalesce(j.${sql.ref(c)}, ''))`, 'like', sql`${like} escape '\\'`),
          ),
        ),
      );
    }
    // Health is judged for enabled jobs only (what `health` counts): a disabled job matches no --health.
    if (filter.health) base = base.where('j.enabled', '=', 1).where(sql.raw(healthAt(nowMs)), '=', filter.health);
    const countRow = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const total = Number(countRow?.n ?? 0);
    // Sort and page the ids only (an index answers most orders without reading whole rows),
    // then read the page's rows.
    let query = base.select('j.id');
    const sort = filter.sort ?? 'dashboard';
    if (sort === 'dashboard') {
      // Enabled jobs first: a disabled job is not judged (see health above), so it does not head the list.
      query = query
        .orderBy(sql`CASE WHEN j.enabled = 1 THEN 0 ELSE 1 END`)
        .orderBy(sql.raw(healthRank(isoMinusHours(nowMs, 24), 'j', recentFailing(nowMs))))
        .orderBy(sql.raw(priorityRank()))
        .orderBy(sql`CASE WHEN j.next_scheduled_run IS NULL THEN 1 ELSE 0 END`)
        .orderBy('j.next_scheduled_run')
        .orderBy('j.name');
    } else {
      const desc = sort.startsWith('-');
      const col = (desc ? sort.slice(1) : sort) as (typeof SORTABLE)[number];
      const expr = col === 'priority' ? sql.raw(priorityRank()) : sql.ref(`j.${col}`);
      query = query.orderBy(expr, desc ? 'desc' : 'asc').orderBy('j.id');
    }
    const ids = (await query.limit(filter.limit ?? 100000).offset(filter.offset ?? 0).execute()).map((r) => r.id);
    const byId = await this.byIds(ids, q);
    // The 24 h figures as of nowMs, from the buckets the order and the filter read.
    const recent = await new StatsRepo(this.db).last24hMany(ids, nowMs, q);
    const rows = ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [{ ...r, ...recent.get(id) }] : [];
    });
    return { rows, total };
  }

  /** Counts per health status (the overview), computed in SQL so 10,000 jobs stay cheap. */
  async healthCounts(nowMs: number, q: Q = this.db): Promise<Record<string, number>> {
    const rows = await q
      .selectFrom(`${T} as j`)
      .select([sql<string>`${sql.raw(healthAt(nowMs))}`.as('h'), (eb) => eb.fn.countAll().as('n')])
      .where('j.enabled', '=', 1)
      .groupBy(sql.raw(healthAt(nowMs)))
      .execute();
    const out: Record<string, number> = { critical: 0, warning: 0, healthy: 0 };
    for (const r of rows) out[r.h] = Number(r.n);
    return out;
  }

  // ---- tags (smart_cron_job_tags is part of the job's definition)
  async setTags(jobId: number, tags: string[], q: Q = this.db): Promise<void> {
    await q.deleteFrom('smart_cron_job_tags').where('job_id', '=', jobId).execute();
    const uniq = [...new Set(tags)];
    if (uniq.length) await q.insertInto('smart_cron_job_tags').values(uniq.map((tag) => ({ job_id: jobId, tag }))).execute();
  }

  async tagsFor(jobIds: number[], q: Q = this.db): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    if (jobIds.length === 0) return out;
    for (let i = 0; i < jobIds.length; i += 500) {
      const rows = await q
        .selectFrom('smart_cron_job_tags')
        .select(['job_id', 'tag'])
        .where('job_id', 'in', jobIds.slice(i, i + 500))
        .orderBy('tag')
        .execute();
      for (const r of rows) {
        const list = out.get(r.job_id) ?? [];
        list.push(r.tag);
        out.set(r.job_id, list);
      }
    }
    return out;
  }
}
