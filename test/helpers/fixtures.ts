/** Rows for storage tests: a job or a run with sensible values, overridden per case. */
import { iso } from '../../src/clock.js';
import type { Database } from '../../src/storage/database.js';
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
