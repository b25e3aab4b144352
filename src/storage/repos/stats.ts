import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../schema.js';

type Q = Kysely<DB> | Transaction<DB>;
const T = 'smart_cron_job_stats_hourly' as const;

export interface HourSample {
  durationMs: number | null;
  memoryMb: number | null;
  failed: boolean;
}

export interface Stats24h {
  executions_24h: number;
  failures_24h: number;
  avg_duration_24h: number | null;
  max_duration_24h: number | null;
  avg_memory_24h: number | null;
  max_memory_24h: number | null;
}

/** The hour bucket an instant falls in, as ISO text ('2026-11-27T13:00:00.000Z'). */
export function hourOf(ms: number): string {
  return new Date(Math.floor(ms / 3600_000) * 3600_000).toISOString();
}

/** The first hour bucket of the 24 h window at nowMs: the current hour and the 23 before it. */
export function since24h(nowMs: number): string {
  return hourOf(nowMs - 23 * 3600_000);
}

interface Sums {
  runs: number | string | null;
  failures: number | string | null;
  sum_d: number | string | null;
  max_d: number | string | null;
  sum_m: number | string | null;
  mem_runs: number | string | null;
  max_m: number | string | null;
}

function fromSums(r: Sums | undefined): Stats24h {
  const runs = Number(r?.runs ?? 0);
  const memRuns = Number(r?.mem_runs ?? 0);
  return {
    executions_24h: runs,
    failures_24h: Number(r?.failures ?? 0),
    avg_duration_24h: runs ? Number(r!.sum_d) / runs / 1000 : null,
    max_duration_24h: runs ? Number(r!.max_d) / 1000 : null,
    avg_memory_24h: memRuns ? Number(r!.sum_m) / memRuns : null,
    max_memory_24h: memRuns ? Number(r!.max_m) : null,
  };
}

/**
 * Per-job hourly buckets. Recording a run touches one bucket; the 24 h stats read at most
 * 24 buckets, so the cost stays flat however much history there is.
 */
export class StatsRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async add(jobId: number, atMs: number, s: HourSample, q: Q = this.db): Promise<void> {
    const d = s.durationMs ?? 0;
    const m = s.memoryMb ?? 0;
    const hasMem = s.memoryMb !== null ? 1 : 0;
    await q
      .insertInto(T)
      .values({
        job_id: jobId,
        hour: hourOf(atMs),
        runs: 1,
        failures: s.failed ? 1 : 0,
        sum_duration_ms: d,
        max_duration_ms: d,
        sum_memory_mb: m,
        memory_runs: hasMem,
        max_memory_mb: m,
      })
      .onConflict((oc) =>
        oc.columns(['job_id', 'hour']).doUpdateSet({
          runs: sql`${sql.ref(`${T}.runs`)} + 1`,
          failures: sql`${sql.ref(`${T}.failures`)} + ${s.failed ? 1 : 0}`,
          sum_duration_ms: sql`${sql.ref(`${T}.sum_duration_ms`)} + ${d}`,
          max_duration_ms: sql`CASE WHEN ${sql.ref(`${T}.max_duration_ms`)} > ${d} THEN ${sql.ref(`${T}.max_duration_ms`)} ELSE ${d} END`,
          sum_memory_mb: sql`${sql.ref(`${T}.sum_memory_mb`)} + ${m}`,
          memory_runs: sql`${sql.ref(`${T}.memory_runs`)} + ${hasMem}`,
          max_memory_mb: sql`CASE WHEN ${sql.ref(`${T}.max_memory_mb`)} > ${m} THEN ${sql.ref(`${T}.max_memory_mb`)} ELSE ${m} END`,
        }),
      )
      .execute();
  }

  /** The last 24 hours as the sum of the current hour's bucket and the 23 before it. */
  async last24h(jobId: number, nowMs: number, q: Q = this.db): Promise<Stats24h> {
    return (await this.last24hMany([jobId], nowMs, q)).get(jobId) ?? fromSums(undefined);
  }

  /**
   * last24h for many jobs (one query per 500, by the (job_id, hour) key): the figures are read
   * when shown, so that they roll off with time and not only when the job runs again.
   * Jobs without a run in the window get zeros.
   */
  async last24hMany(jobIds: readonly number[], nowMs: number, q: Q = this.db): Promise<Map<number, Stats24h>> {
    const ids = [...new Set(jobIds)];
    const out = new Map<number, Stats24h>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await q
        .selectFrom(T)
        .select((eb) => [
          'job_id',
          eb.fn.sum<number>('runs').as('runs'),
          eb.fn.sum<number>('failures').as('failures'),
          eb.fn.sum<number>('sum_duration_ms').as('sum_d'),
          eb.fn.max<number>('max_duration_ms').as('max_d'),
          eb.fn.sum<number>('sum_memory_mb').as('sum_m'),
          eb.fn.sum<number>('memory_runs').as('mem_runs'),
          eb.fn.max<number>('max_memory_mb').as('max_m'),
        ])
        .where('job_id', 'in', ids.slice(i, i + 500))
        .where('hour', '>=', since24h(nowMs))
        .groupBy('job_id')
        .execute();
      for (const r of rows) out.set(r.job_id, fromSums(r));
    }
    for (const id of ids) if (!out.has(id)) out.set(id, fromSums(undefined));
    return out;
  }

  async prune(beforeMs: number, q: Q = this.db): Promise<number> {
    const r = await q.deleteFrom(T).where('hour', '<', hourOf(beforeMs)).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
