import { iso, type Clock } from '../clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { ENV_NAME, ENV_NAME_PATTERN } from '../jobs/definition.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobRow, RunRow } from '../storage/schema.js';
import { cancelRun, type CancelOptions } from './cancel.js';
import type { RunRequest } from './types.js';

/** The last manual run key (ms) each job got from this process, per database (JobManager). */
const lastKeys = new WeakMap<JobManager, Map<number, number>>();

/**
 * Queue a manual run: a history row with trigger 'manual' that goes through the same
 * admission as scheduled runs. Its run key is the request time, bumped by a millisecond while
 * another run of the job has it. A burst of requests (hundreds a second through the API) starts
 * after the key this process gave last, instead of trying every key it already took; another
 * process's keys are still found by the insert's conflict. The key only names the run: a manual
 * run starts as soon as it is admitted, not at its key (Dispatcher).
 *
 * A job with manual_respects_overlap has its manual runs follow its overlap policy as a tick
 * would: forbid refuses one while a run is queued or running; queue refuses one while a run
 * already waits, and the Dispatcher holds it while a run is going; replace cancels the job's
 * queued and running runs (`stop`: how this process stops its own at once), and the Dispatcher
 * starts it once the replaced run has exited; allow runs it alongside.
 */
export async function queueManualRun(
  jobs: JobManager,
  clock: Clock,
  req: RunRequest,
  stop: Pick<CancelOptions, 'stopHere' | 'onSkipped'> = {},
): Promise<RunRow> {
  const badName = Object.keys(req.env ?? {}).find((k) => !new RegExp(ENV_NAME_PATTERN).test(k));
  if (badName !== undefined) throw new ValidationError(`env: ${JSON.stringify(badName)} is not a valid key (expected ${ENV_NAME})`, 'env');
  const job = await jobs.getJobRow(req.job);
  const respects = Boolean(job.manual_respects_overlap) && job.overlap_policy !== 'allow';
  const act = respects ? await jobs.history.active(job.id) : [];
  if (respects && job.overlap_policy === 'forbid' && act.length) {
    throw new ConflictError(`job ${job.name} is already ${act[0]!.status} (run #${act[0]!.id}) and its overlap policy is forbid`, 'job');
  }
  const waiting = act.find((r) => r.status === 'queued');
  if (respects && job.overlap_policy === 'queue' && waiting) {
    throw new ConflictError(`job ${job.name} already has run #${waiting.id} waiting and its overlap policy is queue (it keeps at most one)`, 'job');
  }
  const row = await insertManualRun(jobs, clock, job, req);
  if (respects && job.overlap_policy === 'replace') {
    for (const r of act) {
      // One that ended meanwhile is no conflict.
      await cancelRun({ history: jobs.history, clock, ...stop }, r.id, `replaced by manual run #${row.id} (overlap policy replace)`).catch((e: unknown) => {
        if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
      });
    }
  }
  return row;
}

async function insertManualRun(jobs: JobManager, clock: Clock, job: JobRow, req: RunRequest): Promise<RunRow> {
  let keys = lastKeys.get(jobs);
  if (!keys) lastKeys.set(jobs, (keys = new Map()));
  for (let bump = 0; bump < 1000; bump++) {
    const now = clock.now();
    const last = keys.get(job.id);
    // A key taken within the last minute ahead of now (a burst): go on after it.
    const from = last !== undefined && last >= now && last - now < 60_000 ? last + 1 : now;
    const key = from + bump;
    const row = await jobs.history.insertOnce({
      job_id: job.id,
      scheduled_for: iso(key),
      attempt: 1,
      trigger: 'manual',
      status: 'queued',
      priority: job.priority,
      queued_at: iso(now),
      args: req.args?.length ? JSON.stringify(req.args) : null,
      env_extra: req.env && Object.keys(req.env).length ? JSON.stringify(req.env) : null,
    });
    if (row) {
      keys.set(job.id, key);
      return row;
    }
  }
  throw new ConflictError(`could not queue a run of ${job.name}`, 'job');
}
