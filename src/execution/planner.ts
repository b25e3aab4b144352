/**
 * The Planner turns due jobs into queued runs: one history row per (job, tick), inserted
 * with the unique run key so a tick is planned at most once however often (or on however
 * many nodes) planning happens. It applies the misfire policy after downtime, the overlap
 * policy, and the circuit breaker; what it does not run it records as `skipped` with a reason.
 */
import { iso, type Clock } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { JobManager } from '../jobs/manager.js';
import { parseSchedule } from '../schedule/cron.js';
import { DEFAULT_ON_TIME_TOLERANCE_MS, missedTicks, planMisfire } from '../schedule/misfire.js';
import type { JobRow, NewRunRow, RunRow, RunTrigger } from '../storage/schema.js';
import { passCircuit } from './circuit.js';
import { hasRequirements, requirementsGate } from './workflow.js';

/** Why a run gave way to a newer tick of its job (overlap policy replace). */
const REPLACED = 'replaced by a newer tick (overlap policy replace)';

export interface PlannerOptions {
  jobs: JobManager;
  clock: Clock;
  /** A tick later than this is a misfire (the daemon was down or far behind). */
  misfireGraceMs?: number;
  onQueued?: (run: RunRow) => void;
  onSkipped?: (run: RunRow) => void;
  /** Cancels a running run (overlap policy replace), with the reason. */
  replace?: (run: RunRow, reason: string) => Promise<void>;
  log?: (msg: string) => void;
}

export interface PlanResult {
  queued: RunRow[];
  skipped: RunRow[];
}

export class Planner {
  private readonly grace: number;

  constructor(private readonly o: PlannerOptions) {
    this.grace = o.misfireGraceMs ?? DEFAULT_ON_TIME_TOLERANCE_MS;
  }

  /**
   * Plan every due job; returns what was queued and skipped. With a horizon past now, a job
   * whose next tick falls in (now, horizon] is planned ahead, so its run can be admitted and
   * its process prepared before the instant (the Dispatcher's start lead) — but only when
   * nothing that could change by the instant bears on the decision: its one tick in the
   * window, a closed circuit, no requirements, nothing of it running or waiting. Any other
   * job is left for the cycle at its instant.
   */
  async planDue(nowMs = this.o.clock.now(), horizonMs = nowMs): Promise<PlanResult> {
    const out: PlanResult = { queued: [], skipped: [] };
    const deferred = new Set<number>();
    for (;;) {
      const due = await this.o.jobs.getJobsDueForExecution(Math.max(nowMs, horizonMs), 500);
      let planned = 0;
      for (const job of due) {
        if (deferred.has(job.id)) continue;
        try {
          const ahead = Date.parse(job.next_scheduled_run!) > nowMs;
          if (ahead && !(await this.canPlanAhead(job, horizonMs))) {
            deferred.add(job.id);
            continue;
          }
          planned++;
          await this.planJob(job, nowMs, out, ahead ? horizonMs : nowMs);
        } catch (e) {
          // A database error aborts the cycle; the next wake plans again, and the unique run
          // key makes the ticks already inserted harmless. Only a job whose own schedule cannot
          // be read is taken off the schedule, with the reason, so it does not stop the others.
          if (!(e instanceof ValidationError)) throw e;
          this.o.log?.(`planning ${job.name} failed: ${e.message}`);
          await this.o.jobs.jobs.update(job.id, { next_scheduled_run: null, last_error_message: `scheduling failed: ${e.message}` });
        }
      }
      if (due.length < 500 || planned === 0) return out;
    }
  }

  private async canPlanAhead(job: JobRow, horizonMs: number): Promise<boolean> {
    if (job.circuit_state !== 'closed' || !job.next_scheduled_run) return false;
    const schedule = parseSchedule(job.schedule, job.timezone);
    const after = schedule.nextRun(Date.parse(job.next_scheduled_run));
    if (after !== null && after <= horizonMs) return false; // more than one tick in the window
    if (await hasRequirements(this.o.jobs, job.id)) return false;
    return (await this.o.jobs.history.active(job.id)).length === 0;
  }

  /** @reboot jobs: one run each time the daemon starts. */
  async planReboot(nowMs = this.o.clock.now()): Promise<PlanResult> {
    const out: PlanResult = { queued: [], skipped: [] };
    const jobs = await this.o.jobs.database.db
      .selectFrom('smart_cron_integrated_jobs')
      .selectAll()
      .where('enabled', '=', 1)
      .where('schedule', 'in', ['@reboot', '@REBOOT', '@Reboot'])
      .execute();
    for (const job of jobs) await this.planTick(job, nowMs, 'schedule', nowMs, out);
    return out;
  }

  /** Plan the job's ticks up to `uptoMs` (now, or a horizon past now when planned ahead). */
  private async planJob(job: JobRow, nowMs: number, out: PlanResult, uptoMs = nowMs): Promise<void> {
    const schedule = parseSchedule(job.schedule, job.timezone);
    const from = job.last_scheduled_tick ? Date.parse(job.last_scheduled_tick) : Date.parse(job.next_scheduled_run!) - 1;
    const cap = Math.max(1, job.max_catchup_runs);
    const missed = missedTicks(schedule, from, uptoMs, cap);
    const plan = planMisfire(job.misfire_policy, missed, cap, this.grace);
    const toRun = plan.run.map((at) => ({ at, trigger: (nowMs - at <= this.grace ? 'schedule' : 'catchup') as RunTrigger }));
    if (plan.skipped > 0) {
      // One row stands for all the ticks not run, at the newest of them, with the count.
      const notRun = [...missed.ticks, ...(missed.latest !== null ? [missed.latest] : [])].filter((t) => !plan.run.includes(t));
      const at = notRun.length ? Math.max(...notRun) : null;
      const reason = `missed ${missed.exact ? '' : 'about '}${plan.skipped} tick${plan.skipped === 1 ? '' : 's'} (misfire policy ${job.misfire_policy})`;
      if (at !== null) {
        const r = await this.insert(job, at, 'schedule', nowMs, { status: 'skipped', skip_reason: reason });
        if (r) out.skipped.push(r);
      } else {
        this.o.log?.(`${job.name}: ${reason}`);
      }
    }
    // Catch-up ticks planned together are one sequence: they do not overlap each other (the
    // dispatcher runs them one after another under forbid and queue), only what ran before.
    const batch = new Set<number>();
    for (const { at, trigger } of toRun) await this.planTick(job, at, trigger, nowMs, out, batch);
    const next = schedule.nextRun(uptoMs);
    await this.o.jobs.jobs.update(job.id, {
      next_scheduled_run: next === null ? null : iso(next),
      last_scheduled_tick: missed.latest !== null ? iso(missed.latest) : job.last_scheduled_tick,
    });
  }

  private async planTick(job: JobRow, at: number, trigger: RunTrigger, nowMs: number, out: PlanResult, batch: Set<number> = new Set()): Promise<void> {
    // workflow.ts: a tick whose requirements do not hold is skipped, or waits (requires_mode wait)
    const req = await requirementsGate(this.o.jobs, job, nowMs);
    if ('skip' in req) {
      const r = await this.insert(job, at, trigger, nowMs, { status: 'skipped', skip_reason: req.skip });
      if (r) out.skipped.push(r);
      return;
    }
    const gate = await passCircuit(this.o.jobs, job, nowMs);
    if (!gate.allow) {
      const r = await this.insert(job, at, trigger, nowMs, { status: 'skipped', skip_reason: gate.reason });
      if (r) out.skipped.push(r);
      return;
    }
    const active = (await this.o.jobs.history.active(job.id)).filter((r) => !batch.has(r.id));
    if (active.length > 0) {
      const policy = job.overlap_policy;
      const running = active.filter((r) => r.status === 'running');
      const waiting = active.filter((r) => r.status === 'queued');
      let reason: string | null = null;
      if (policy === 'forbid') reason = `previous run #${active[0]!.id} is still ${active[0]!.status} (overlap policy forbid)`;
      else if (policy === 'queue' && waiting.length > 0) reason = `a run is already waiting (#${waiting[0]!.id}; overlap policy queue keeps at most one)`;
      else if (policy === 'replace') {
        for (const r of waiting) {
          await this.o.jobs.history.skipQueued(r.id, REPLACED, iso(nowMs));
        }
        // The new tick is queued now and starts once the replaced run has exited (the
        // dispatcher holds it meanwhile): never both at once.
        for (const r of running) await this.o.replace?.(r, REPLACED);
      }
      if (reason) {
        const r = await this.insert(job, at, trigger, nowMs, { status: 'skipped', skip_reason: reason });
        if (r) out.skipped.push(r);
        return;
      }
    }
    const r = await this.insert(job, at, trigger, nowMs, { status: 'queued', ...req.fields });
    if (r) {
      out.queued.push(r);
      batch.add(r.id);
    }
  }

  private async insert(job: JobRow, at: number, trigger: RunTrigger, nowMs: number, extra: Partial<NewRunRow>): Promise<RunRow | null> {
    const row: NewRunRow = {
      job_id: job.id,
      scheduled_for: iso(at),
      attempt: 1,
      trigger,
      status: 'queued',
      priority: job.priority,
      queued_at: iso(nowMs),
      node: job.pinned_node,
      deadline_at: job.starting_deadline_seconds ? iso(at + job.starting_deadline_seconds * 1000) : null,
      ...extra,
    };
    if (row.status === 'skipped') row.finished_at = iso(nowMs);
    const r = await this.o.jobs.history.insertOnce(row);
    if (r) (r.status === 'skipped' ? this.o.onSkipped : this.o.onQueued)?.(r);
    return r;
  }
}
