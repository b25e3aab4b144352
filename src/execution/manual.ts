import { iso, type Clock } from '../clock.js';
import { ConflictError } from '../errors.js';
import type { JobManager } from '../jobs/manager.js';
import type { RunRow } from '../storage/schema.js';
import type { RunRequest } from './types.js';

/**
 * Queue a manual run: a history row with trigger 'manual' that goes through the same
 * admission as scheduled runs. Its run key is the request time (bumped by a millisecond
 * if two requests land in the same one).
 */
export async function queueManualRun(jobs: JobManager, clock: Clock, req: RunRequest): Promise<RunRow> {
  const job = await jobs.getJob(req.job);
  if (job.manual_respects_overlap && job.overlap_policy === 'forbid') {
    const act = await jobs.history.active(job.id);
    if (act.length) throw new ConflictError(`job ${job.name} is already ${act[0]!.status} (run #${act[0]!.id}) and its overlap policy is forbid`, 'job');
  }
  for (let bump = 0; bump < 1000; bump++) {
    const now = clock.now();
    const row = await jobs.history.insertOnce({
      job_id: job.id,
      scheduled_for: iso(now + bump),
      attempt: 1,
      trigger: 'manual',
      status: 'queued',
      priority: job.priority,
      queued_at: iso(now),
      args: req.args?.length ? JSON.stringify(req.args) : null,
      env_extra: req.env && Object.keys(req.env).length ? JSON.stringify(req.env) : null,
    });
    if (row) return row;
  }
  throw new ConflictError(`could not queue a run of ${job.name}`, 'job');
}
