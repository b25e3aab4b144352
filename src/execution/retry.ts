/**
 * Retries: a failed run is tried again as another attempt of the same tick (attempt is part of
 * the run key), after an exponential backoff with jitter. Timeouts and memory kills are retried
 * only when the job says so. Alerts see only the final outcome.
 */
import { iso } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobRow, RunRow, RunStatus } from '../storage/schema.js';

export function shouldRetry(
  job: Pick<JobRow, 'retries' | 'retry_on_timeout' | 'retry_on_memory'>,
  run: Pick<RunRow, 'attempt'>,
  status: RunStatus,
): boolean {
  if (run.attempt > job.retries) return false;
  if (status === 'failed' || status === 'lost') return true;
  if (status === 'timeout') return Boolean(job.retry_on_timeout);
  if (status === 'memory_limit' || status === 'oom_killed') return Boolean(job.retry_on_memory);
  return false;
}

/** Delay before attempt n+1: backoff × 2^(n-1), with ±20 % jitter so retries of many jobs spread out. */
export function retryDelayMs(job: Pick<JobRow, 'retry_backoff_seconds'>, attempt: number, random: () => number = Math.random): number {
  const base = job.retry_backoff_seconds * 1000 * 2 ** Math.min(attempt - 1, 16);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The attempt statuses a retry follows (shouldRetry): what a skipped retry leaves final. */
const RETRIED: readonly RunStatus[] = ['failed', 'lost', 'timeout', 'memory_limit', 'oom_killed'];

/** How far back the first look (at a daemon's start) goes for retries skipped while none ran. */
const FIRST_LOOK_MS = 3600_000;

/**
 * A retry skipped or cancelled before it ran (by a person, from any process; by its deadline;
 * by an open circuit; replaced by a newer tick) leaves the attempt before it as the tick's final
 * outcome. That attempt was recorded with willRetry, so nothing judged it: `onFinal` does now
 * (dependents, alerts). Each skipped retry is settled once, by whichever process first flips its
 * `recorded` flag (recordExecution's flag; a skipped row is never recorded otherwise).
 *
 * `floor`: the lowest run id that can still be an unsettled skipped retry (null the first time:
 * those skipped within the last hour). Returns the floor for the next call: the oldest retry still
 * queued now, or the next id, so that the call reads the status index from there, not every
 * skipped run ever.
 */
export async function settleSkippedRetries(
  jobs: JobManager,
  nowMs: number,
  floor: number | null,
  onFinal: (attempt: RunRow) => Promise<void>,
): Promise<number> {
  const db = jobs.database.db;
  // Read before the skipped ones: a retry skipped after this read has an id at or above it.
  const oldestQueued = await db.selectFrom('smart_cron_job_history').select((eb) => eb.fn.min('id').as('id')).where('status', '=', 'queued').where('trigger', '=', 'retry').executeTakeFirst();
  const newest = await db.selectFrom('smart_cron_job_history').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  const next = oldestQueued?.id != null ? Number(oldestQueued.id) : Number(newest?.id ?? 0) + 1;
  let q = db.selectFrom('smart_cron_job_history').selectAll().where('status', '=', 'skipped').where('trigger', '=', 'retry').where('recorded', '=', 0);
  q = floor === null ? q.where('finished_at', '>=', iso(nowMs - FIRST_LOOK_MS)) : q.where('id', '>=', floor);
  const found = await q.orderBy('id').limit(500).execute();
  for (const skipped of found) {
    const claim = await db.updateTable('smart_cron_job_history').set({ recorded: 1 }).where('id', '=', skipped.id).where('status', '=', 'skipped').where('recorded', '=', 0).executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) continue; // another process settled it
    const before = await db
      .selectFrom('smart_cron_job_history')
      .selectAll()
      .where('job_id', '=', skipped.job_id)
      .where('scheduled_for', '=', skipped.scheduled_for)
      .where('attempt', '=', skipped.attempt - 1)
      .executeTakeFirst();
    if (before && RETRIED.includes(before.status)) await onFinal(before);
  }
  // A full page: the rest next time, from after the last one read.
  return found.length === 500 ? Math.min(next, found[found.length - 1]!.id + 1) : next;
}
