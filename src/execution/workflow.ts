/**
 * Workflows: the rules for dependencies between jobs and for exclusive (mutex) groups. The
 * Planner and the Dispatcher call in at a few points; every rule lives here.
 *
 * - requires: a scheduled (or catch-up, or dependency-triggered) run needs, for every `requires`
 *   link (AND), the other job's last finished run to have succeeded, within the link's window
 *   when it has one. Checked when the tick is planned. Not met: the run is skipped with the
 *   reason, or (requires_mode wait) queued with a wait_reason and re-checked every few seconds
 *   and whenever a required job finishes, until requires_wait_seconds after it was queued.
 *   Manual runs and retries ignore requirements: a person asked for the run, and a retry's
 *   first attempt already passed the check.
 * - triggers: when a run ends with its final outcome (not when a retry follows; a failure whose
 *   retry is then skipped or cancelled before it ran is final from then on, retry.ts
 *   settleSkippedRetries) matching the link's `on`, the dependent job gets a run with trigger
 *   'dependency', through the same overlap, requirement and circuit gates as a tick. A job with several
 *   triggering parents runs once all of them have had a matching final run since its last
 *   dependency run (fan-in). The run key is the newest of those parents' finish times, so every
 *   node and every parent that sees the set complete computes the same key and the unique
 *   (job_id, scheduled_for, attempt) lets exactly one insert win. Two runs of one parent that
 *   finish in the same millisecond therefore trigger the child once.
 * - mutex groups: a run whose job's mutex_group has a running run anywhere waits. See takeMutex
 *   for how the claim is made safe between nodes.
 */
import { formatSeconds } from '../durations.js';
import { iso, type Clock } from '../clock.js';
import { DependencyRepo, type DependencyOn } from '../jobs/dependencies.js';
import { FAILURE_STATUSES } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { NodesRepo } from '../storage/repos/nodes.js';
import type { JobRow, NewRunRow, RunRow, RunStatus } from '../storage/schema.js';
import type { QueuedRun } from './queue.js';
import { passCircuit } from './circuit.js';
import { shouldRetry } from './retry.js';

/** Marks a queued run that waits for its requirements (the dispatcher re-checks those). */
export const REQUIRES_WAIT_PREFIX = 'waiting for requirements: ';
/** How often a waiting run re-checks its requirements when no required job finishes meanwhile. */
export const REQUIRES_RECHECK_MS = 5000;
/**
 * The mutex lease only has to cover the moment between a node's check and its claim; after that
 * the running history row holds the group. Short, so a node that dies in between frees it soon.
 */
export const MUTEX_LEASE_MS = 120_000;

const LIVE: RunStatus[] = ['queued', 'running'];
const ON_STATUSES: Record<DependencyOn, RunStatus[]> = {
  success: ['succeeded'],
  // A person cancelling a run (interrupted) is not the job failing.
  failure: [...FAILURE_STATUSES, 'lost'],
  always: ['succeeded', ...FAILURE_STATUSES, 'lost', 'interrupted'],
};

export function matchesOn(on: DependencyOn, status: RunStatus): boolean {
  return ON_STATUSES[on].includes(status);
}


/** Why the job's requirements do not hold now, or null when they all do. */
/** Does the job require other jobs' results (its ticks depend on their state at the instant)? */
export async function hasRequirements(jm: JobManager, jobId: number): Promise<boolean> {
  return (await new DependencyRepo(jm.database.db).upstream(jobId, 'requires')).length > 0;
}

export async function unmetRequirements(jm: JobManager, jobId: number, nowMs: number): Promise<string | null> {
  const links = await new DependencyRepo(jm.database.db).upstream(jobId, 'requires');
  const unmet: string[] = [];
  for (const l of links) {
    const parent = await jm.jobs.byId(l.depends_on_job_id);
    if (!parent) continue;
    const last = await jm.database.db
      .selectFrom('smart_cron_job_history')
      .select(['id', 'status', 'finished_at'])
      .where('job_id', '=', parent.id)
      .where('status', 'not in', [...LIVE, 'skipped'])
      .where('finished_at', 'is not', null)
      .orderBy('finished_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const lastOk = parent.last_success_at ? `last succeeded ${parent.last_success_at}` : 'it has never succeeded';
    const within = l.window_seconds ? ` within ${formatSeconds(l.window_seconds)}` : '';
    if (!last) unmet.push(`requires a success of ${parent.name}${within}, but it has never run`);
    else if (last.status !== 'succeeded') unmet.push(`requires a success of ${parent.name}${within}, but its last run #${last.id} ${last.status} at ${last.finished_at} (${lastOk})`);
    else if (l.window_seconds && Date.parse(last.finished_at!) < nowMs - l.window_seconds * 1000) {
      unmet.push(`requires a success of ${parent.name}${within}, but it last succeeded at ${last.finished_at}`);
    }
  }
  return unmet.length ? unmet.join('; ') : null;
}

/**
 * The planner's check for a run about to be queued: fields for the row (nothing, or the wait
 * markers), or a skip reason.
 */
export async function requirementsGate(jm: JobManager, job: JobRow, nowMs: number): Promise<{ skip: string } | { fields: Partial<NewRunRow> }> {
  const unmet = await unmetRequirements(jm, job.id, nowMs);
  if (!unmet) return { fields: {} };
  if (job.requires_mode === 'wait' && job.requires_wait_seconds > 0) {
    return { fields: { wait_reason: REQUIRES_WAIT_PREFIX + unmet, not_before: iso(nowMs + Math.min(REQUIRES_RECHECK_MS, job.requires_wait_seconds * 1000)) } };
  }
  return { skip: `requirement not met: ${unmet}` };
}

export interface WorkflowOptions {
  jobs: JobManager;
  clock: Clock;
  log?: (msg: string) => void;
  /** A run was queued here (a dependency-triggered one): tell the bus and wake the dispatcher. */
  onQueued?: (run: RunRow) => void;
}

export type GateResult = { skip: string } | { wait: string } | null;

/** The dispatcher's side: admission gates, the mutex claim, and what follows a finished run. */
export class Workflow {
  private readonly deps: DependencyRepo;
  private readonly leases: NodesRepo;
  /** Runs of this process that hold a group's lease (others need no DELETE when they end). */
  private readonly holding = new Set<number>();

  constructor(private readonly o: WorkflowOptions) {
    this.deps = new DependencyRepo(o.jobs.database.db);
    this.leases = new NodesRepo(o.jobs.database.db);
  }

  private get db() {
    return this.o.jobs.database.db;
  }

  /**
   * Before slot checks: a run waiting for requirements is re-checked (and skipped once it has
   * waited requires_wait_seconds); a run whose mutex group is held waits without holding back
   * the rest of its slot's queue.
   */
  async gate(run: QueuedRun, job: JobRow, nowMs: number): Promise<GateResult> {
    if (run.wait_reason?.startsWith(REQUIRES_WAIT_PREFIX) && run.trigger !== 'manual' && run.trigger !== 'retry') {
      const unmet = await unmetRequirements(this.o.jobs, job.id, nowMs);
      if (unmet) {
        const deadline = Date.parse(run.queued_at) + job.requires_wait_seconds * 1000;
        if (nowMs >= deadline) return { skip: `requirement not met after waiting ${formatSeconds(job.requires_wait_seconds)}: ${unmet}` };
        const reason = REQUIRES_WAIT_PREFIX + unmet;
        await this.o.jobs.history.update(run.id, { wait_reason: reason, not_before: iso(Math.min(deadline, nowMs + REQUIRES_RECHECK_MS)) });
        return { wait: reason };
      }
    }
    if (job.mutex_group) {
      const holder = await this.groupHolder(job.mutex_group, run.id);
      if (holder) return { wait: await this.setWait(run, `mutex group ${job.mutex_group} held by job ${holder.name} run #${holder.id}`) };
    }
    return null;
  }

  /**
   * Right before the claim: take the group's lease, then check the history again. On one node
   * admission is sequential and a claimed run is `running` before the next run is considered, so
   * the history check alone suffices there. Between nodes, the lease row (one conditional
   * UPDATE or INSERT) makes two simultaneous claimers take turns, and the re-check after it sees
   * any run another node claimed before. What remains: a node that stalls longer than
   * MUTEX_LEASE_MS between taking the lease and committing its claim can overlap one run.
   * Returns false (the run waits) when the group is taken.
   */
  async takeMutex(run: QueuedRun, job: JobRow, nowMs: number): Promise<boolean> {
    const group = job.mutex_group;
    if (!group) return true;
    const name = `mutex:${group}`;
    const holder = `run:${run.id}`;
    let ok = await this.leases.acquireLease(name, holder, nowMs, MUTEX_LEASE_MS);
    if (!ok) {
      // A holder whose run has ended (its node died before releasing) must not keep the group.
      const lease = await this.db.selectFrom('smart_cron_leases').selectAll().where('name', '=', name).executeTakeFirst();
      const other = lease ? Number(/^run:(\d+)$/.exec(lease.holder)?.[1]) : NaN;
      const otherRun = Number.isInteger(other) ? await this.o.jobs.history.byId(other) : undefined;
      if (lease && Number.isInteger(other) && (!otherRun || !LIVE.includes(otherRun.status))) {
        await this.leases.releaseLease(name, lease.holder);
        ok = await this.leases.acquireLease(name, holder, nowMs, MUTEX_LEASE_MS);
      }
      if (!ok) {
        await this.setWait(run, `mutex group ${group} is being claimed by ${lease?.holder.replace('run:', 'run #') ?? 'another node'}`);
        return false;
      }
    }
    this.holding.add(run.id);
    const running = await this.groupHolder(group, run.id);
    if (running) {
      await this.releaseMutex(run.id);
      await this.setWait(run, `mutex group ${group} held by job ${running.name} run #${running.id}`);
      return false;
    }
    return true;
  }

  /** Give the group back (the run ended, or its claim failed). Harmless for runs without a group. */
  async releaseMutex(runId: number): Promise<void> {
    if (!this.holding.delete(runId)) return;
    await this.db.deleteFrom('smart_cron_leases').where('holder', '=', `run:${runId}`).where('name', 'like', 'mutex:%').execute();
  }

  /**
   * After a run was recorded: wake runs waiting for this job's success, and queue the runs it
   * triggers. Nothing is triggered while another attempt of the same tick follows.
   */
  async afterRun(run: RunRow, willRetry: boolean): Promise<RunRow[]> {
    if (willRetry || LIVE.includes(run.status)) return [];
    // One query for both kinds (most jobs have no dependents: then nothing more is asked).
    const links = await this.deps.downstream(run.job_id);
    const requiredBy = links.filter((l) => l.kind === 'requires').map((l) => l.job_id);
    if (requiredBy.length > 0) {
      await this.db
        .updateTable('smart_cron_job_history')
        .set({ not_before: null })
        .where('status', '=', 'queued')
        .where('wait_reason', 'like', `${REQUIRES_WAIT_PREFIX}%`)
        .where('job_id', 'in', requiredBy)
        .execute();
    }
    const queued: RunRow[] = [];
    for (const link of links) {
      if (link.kind !== 'triggers' || !matchesOn(link.on, run.status)) continue;
      try {
        const r = await this.fire(link.job_id);
        if (r) queued.push(r);
      } catch (e) {
        this.o.log?.(`queueing the dependent run of job #${link.job_id} failed: ${(e as Error).message}`);
      }
    }
    return queued;
  }

  /** Queue a dependency run of the child if every triggering parent has a matching final run since its last one. */
  private async fire(childId: number): Promise<RunRow | null> {
    const child = await this.o.jobs.jobs.byId(childId);
    if (!child || !child.enabled) return null;
    const last = await this.db
      .selectFrom('smart_cron_job_history')
      .select('scheduled_for')
      .where('job_id', '=', childId)
      .where('trigger', '=', 'dependency')
      .orderBy('scheduled_for', 'desc')
      .limit(1)
      .executeTakeFirst();
    const since = last?.scheduled_for ?? '';
    let key = '';
    for (const p of await this.deps.upstream(childId, 'triggers')) {
      const done = await this.lastFinal(p.depends_on_job_id, p.on, since);
      if (!done) return null; // fan-in: still waiting for this parent
      if (done > key) key = done;
    }
    if (!key) return null;
    const nowMs = this.o.clock.now();
    const row: NewRunRow = {
      job_id: child.id,
      scheduled_for: key,
      attempt: 1,
      trigger: 'dependency',
      status: 'queued',
      priority: child.priority,
      queued_at: iso(nowMs),
      node: child.pinned_node,
      deadline_at: child.starting_deadline_seconds ? iso(nowMs + child.starting_deadline_seconds * 1000) : null,
    };
    const skip = await this.overlapReason(child);
    let req = skip ? { skip } : await requirementsGate(this.o.jobs, child, nowMs);
    // The circuit last: a run it lets through as the trial is one that is queued.
    if (!('skip' in req)) {
      const gate = await passCircuit(this.o.jobs, child, nowMs);
      if (!gate.allow) req = { skip: gate.reason };
    }
    if ('skip' in req) Object.assign(row, { status: 'skipped', skip_reason: req.skip, finished_at: iso(nowMs) });
    else Object.assign(row, req.fields);
    const inserted = await this.o.jobs.history.insertOnce(row);
    if (inserted?.status === 'queued') this.o.onQueued?.(inserted);
    return inserted;
  }

  /** The finish time of the parent's newest final run matching `on` after `since`, or null. */
  private async lastFinal(parentId: number, on: DependencyOn, since: string): Promise<string | null> {
    const parent = await this.o.jobs.jobs.byId(parentId);
    if (!parent) return null;
    const runs = await this.db
      .selectFrom('smart_cron_job_history')
      .select(['attempt', 'status', 'finished_at', 'scheduled_for'])
      .where('job_id', '=', parentId)
      .where('status', 'in', ON_STATUSES[on])
      .where('finished_at', '>', since)
      .orderBy('finished_at', 'desc')
      .limit(20)
      .execute();
    // A failed attempt that another attempt follows is not the run's outcome, unless that
    // attempt was skipped or cancelled before it ran: then this one's failure is final.
    for (const r of runs) {
      if (!shouldRetry(parent, r, r.status) || (await this.nextAttemptSkipped(parentId, r))) return r.finished_at;
    }
    return null;
  }

  private async nextAttemptSkipped(jobId: number, run: Pick<RunRow, 'scheduled_for' | 'attempt'>): Promise<boolean> {
    const next = await this.db
      .selectFrom('smart_cron_job_history')
      .select('status')
      .where('job_id', '=', jobId)
      .where('scheduled_for', '=', run.scheduled_for)
      .where('attempt', '=', run.attempt + 1)
      .executeTakeFirst();
    return next?.status === 'skipped';
  }

  /** The same overlap rules the planner applies to a tick (forbid: none live; queue: none waiting). */
  private async overlapReason(child: JobRow): Promise<string | null> {
    if (child.overlap_policy !== 'forbid' && child.overlap_policy !== 'queue') return null;
    const active = await this.o.jobs.history.active(child.id);
    if (child.overlap_policy === 'forbid' && active.length) return `previous run #${active[0]!.id} is still ${active[0]!.status} (overlap policy forbid)`;
    const waiting = active.find((r) => r.status === 'queued');
    if (child.overlap_policy === 'queue' && waiting) return `a run is already waiting (#${waiting.id}; overlap policy queue keeps at most one)`;
    return null;
  }

  private async groupHolder(group: string, exceptRunId: number): Promise<{ id: number; name: string } | undefined> {
    return this.db
      .selectFrom('smart_cron_job_history as h')
      .innerJoin('smart_cron_integrated_jobs as j', 'j.id', 'h.job_id')
      .select(['h.id as id', 'j.name as name'])
      .where('h.status', '=', 'running')
      .where('j.mutex_group', '=', group)
      .where('h.id', '!=', exceptRunId)
      .orderBy('h.id')
      .limit(1)
      .executeTakeFirst();
  }

  private async setWait(run: QueuedRun, reason: string): Promise<string> {
    if (run.wait_reason !== reason) await this.o.jobs.history.update(run.id, { wait_reason: reason });
    run.wait_reason = reason;
    return reason;
  }
}
