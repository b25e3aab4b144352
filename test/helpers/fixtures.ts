/** Rows for storage tests: a job or a run with sensible values, overridden per case. */
import { iso, VirtualClock } from '../../src/clock.js';
import { presentJob } from '../../src/jobs/job.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase, type Database } from '../../src/storage/database.js';
import type { JobRow, NewJobRow, NewRunRow, RunRow } from '../../src/storage/schema.js';

export function jobRow(name: string, over: Partial<NewJobRow> = {}, nowMs = Date.now()): NewJobRow {
  return {
    name,
    schedule: '*/5 * * * *',
    command: JSON.stringify(['true']),
    timezone: 'UTC',
    created_at: iso(nowMs),
    updated_at: iso(nowMs),
    ...over,
  };
}

export async function insertJob(database: Database, name: string, over: Partial<NewJobRow> = {}, nowMs = Date.now()): Promise<JobRow> {
  const r = await database.db.insertInto('smart_cron_integrated_jobs').values(jobRow(name, over, nowMs)).returningAll().executeTakeFirstOrThrow();
  return r;
}

export function runRow(jobId: number, over: Partial<NewRunRow> = {}, nowMs = Date.now()): NewRunRow {
  return {
    job_id: jobId,
    scheduled_for: iso(nowMs),
    attempt: 1,
    trigger: 'schedule',
    status: 'queued',
    queued_at: iso(nowMs),
    ...over,
  };
}

export async function insertRun(database: Database, jobId: number, over: Partial<NewRunRow> = {}, nowMs = Date.now()): Promise<RunRow> {
  return database.db.insertInto('smart_cron_job_history').values(runRow(jobId, over, nowMs)).returningAll().executeTakeFirstOrThrow();
}

/**
 * A job registered as the API's POST does (JobManager on a throwaway in-memory SQLite), in the
 * shape GET /api/jobs/:id answers (next_runs left empty): for tests of code that reads that shape.
 */
export async function presentedJob(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const database = await openDatabase('sqlite::memory:');
  try {
    const at = Date.UTC(2026, 0, 5, 12);
    const { job } = await new JobManager(database, new VirtualClock(at)).registerJob(body as never, { source: 'manual', byUser: true });
    return { ...presentJob(job, at), next_runs: [] };
  } finally {
    await database.close();
  }
}
