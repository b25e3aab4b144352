/**
 * Indexes for the API's listings (bench/api.ts: 10,000 jobs, 1,000,000 runs).
 *
 * - idx_jobs_health covers every column of the health rule, the dashboard order and the list
 *   filters, so counting and ranking jobs reads this index instead of the wide job rows.
 * - idx_jobs_last_executed_* let `sort=last_executed_at` / `-last_executed_at` read 50 rows in
 *   order instead of sorting all jobs (the DESC one keeps the id tie-break ascending).
 * - idx_history_status_id lets `/api/runs?status=failed` walk one status newest first instead of
 *   sorting every failed run.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;
const JOBS = 'smart_cron_integrated_jobs';

export async function up(db: Db): Promise<void> {
  await db.schema
    .createIndex('idx_jobs_health')
    .on(JOBS)
    .columns(['consecutive_failures', 'failures_24h', 'executions_24h', 'last_executed_at', 'priority', 'next_scheduled_run', 'name', 'enabled', 'category', 'source', 'missing'])
    .execute();
  await db.schema.createIndex('idx_jobs_last_executed_asc').on(JOBS).columns(['last_executed_at', 'id']).execute();
  await db.schema.createIndex('idx_jobs_last_executed_desc').on(JOBS).columns(['last_executed_at desc', 'id']).execute();
  await db.schema.createIndex('idx_history_status_id').on('smart_cron_job_history').columns(['status', 'id']).execute();
}

export async function down(db: Db): Promise<void> {
  for (const name of ['idx_jobs_health', 'idx_jobs_last_executed_asc', 'idx_jobs_last_executed_desc', 'idx_history_status_id']) {
    await db.schema.dropIndex(name).ifExists().execute();
  }
}
