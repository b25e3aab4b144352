/**
 * The two seed views again, as the rest of the program now counts:
 *
 * - smart_cron_active_jobs_summary reads the last 24 h (runs, failures, and so the "failures over
 *   20 %" health rule) from the hourly buckets when queried, as the job listing does. The copies on
 *   the job row are as of its last run: a job that ran once three days ago showed that run forever.
 * - smart_cron_job_performance_trends counts runs and failures as the job's counters do
 *   (EXECUTED_STATUSES / FAILURE_STATUSES in src/jobs/job.ts): a cancelled (interrupted) or lost
 *   run is neither a run of the job nor a failure. Its day stays the UTC calendar day of the start.
 *
 * Should those rules change, a new migration must re-create the views (never edit this one).
 */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { executionCase, failureRateOver, healthCase, recentSum } from '../health-sql.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

/** "now minus N hours" as the fixed-width ISO text every timestamp is stored in (as 0001). */
function isoNowMinusHours(dialect: Dialect, hours: number): string {
  return dialect === 'postgres'
    ? `to_char((now() at time zone 'utc') - interval '${hours} hours', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-${hours} hours')`;
}

/** The first hour bucket of the 24 h window (the current hour and the 23 before it), as hourOf writes it. */
function since24hHour(dialect: Dialect): string {
  return dialect === 'postgres'
    ? `(to_char((now() at time zone 'utc') - interval '23 hours', 'YYYY-MM-DD"T"HH24') || ':00:00.000Z')`
    : `strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-23 hours')`;
}

/**
 * The counting rule as of this migration (src/jobs/job.ts's FAILURE_STATUSES and
 * EXECUTED_STATUSES), written out: a migration is a snapshot, and storage does not import jobs.
 * test/storage/views.test.ts checks these against the live lists, so a change there asks for a
 * new migration instead of silently changing what this one created.
 */
export const FAILURE_STATUSES_0007 = ['failed', 'timeout', 'memory_limit', 'oom_killed'] as const;
export const EXECUTED_STATUSES_0007 = ['succeeded', ...FAILURE_STATUSES_0007] as const;

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(',');

async function dropViews(db: Db): Promise<void> {
  await sql`DROP VIEW IF EXISTS smart_cron_job_performance_trends`.execute(db);
  await sql`DROP VIEW IF EXISTS smart_cron_active_jobs_summary`.execute(db);
}

export async function up(db: Db, dialect: Dialect): Promise<void> {
  await dropViews(db);
  const since = since24hHour(dialect);
  await sql
    .raw(
      `CREATE VIEW smart_cron_active_jobs_summary AS
SELECT j.id, j.name, j.category, j.priority, j.enabled, j.last_executed_at, j.next_scheduled_run,
       ${recentSum('runs', since)} AS executions_24h, ${recentSum('failures', since)} AS failures_24h,
       j.consecutive_failures,
       ${healthCase(isoNowMinusHours(dialect, 24), 'j', failureRateOver(since))} AS health_status,
       ${executionCase(isoNowMinusHours(dialect, 1))} AS execution_status
FROM smart_cron_integrated_jobs j
WHERE j.enabled = 1`,
    )
    .execute(db);
  await createTrends(db, `h.status IN (${list(EXECUTED_STATUSES_0007)})`, list(FAILURE_STATUSES_0007));
}

async function createTrends(db: Db, where: string, failures: string): Promise<void> {
  const day = 'substr(COALESCE(h.started_at, h.queued_at), 1, 10)';
  await sql
    .raw(
      `CREATE VIEW smart_cron_job_performance_trends AS
SELECT h.job_id, j.name AS job_name, ${day} AS day,
       COUNT(*) AS runs,
       SUM(CASE WHEN h.status IN (${failures}) THEN 1 ELSE 0 END) AS failures,
       AVG(h.duration_ms) AS avg_duration_ms, MAX(h.duration_ms) AS max_duration_ms,
       AVG(h.peak_memory_mb) AS avg_memory_mb, MAX(h.peak_memory_mb) AS max_memory_mb
FROM smart_cron_job_history h
JOIN smart_cron_integrated_jobs j ON j.id = h.job_id
WHERE ${where}
GROUP BY h.job_id, j.name, ${day}`,
    )
    .execute(db);
}

/** Back to the views of 0001, as they were written there. */
export async function down(db: Db, dialect: Dialect): Promise<void> {
  await dropViews(db);
  await sql
    .raw(
      `CREATE VIEW smart_cron_active_jobs_summary AS
SELECT j.id, j.name, j.category, j.priority, j.enabled, j.last_executed_at, j.next_scheduled_run,
       j.executions_24h, j.failures_24h, j.consecutive_failures,
       ${healthCase(isoNowMinusHours(dialect, 24))} AS health_status,
       ${executionCase(isoNowMinusHours(dialect, 1))} AS execution_status
FROM smart_cron_integrated_jobs j
WHERE j.enabled = 1`,
    )
    .execute(db);
  await createTrends(db, `h.status NOT IN ('queued','running','skipped')`, `'failed','timeout','memory_limit','oom_killed','interrupted','lost'`);
}
