/**
 * Retries: a failed run is tried again as another attempt of the same tick (attempt is part of
 * the run key), after an exponential backoff with jitter. Timeouts and memory kills are retried
 * only when the job says so. Alerts see only the final outcome.
 */
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
