/**
 * A run as a page last knew it, updated by a newer word about it. Answers and events do not
 * arrive in the order they were made: a cancel's reply (the run still `running`, asked to stop)
 * can land after the `run.finished` event of the stop it caused. A finished run never goes back.
 */
import { FINAL_STATUSES, type Run } from './types.js';

export function updateRun(old: Run | undefined, update: Run): Run {
  if (old && FINAL_STATUSES.includes(old.status) && !FINAL_STATUSES.includes(update.status)) return old;
  return { ...old, ...update };
}
