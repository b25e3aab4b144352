/**
 * The Planner turns due jobs into queued runs: one history row per (job, tick), inserted
 * with the unique run key so a tick is planned at most once however often (or on however
 * many nodes) planning happens. It applies the misfire policy after downtime, the overlap
 * policy, and the circuit breaker; what it does not run it records as `skipped` with a reason.
 */
import { iso, type Clock } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import { parseSchedule, type Schedule } from '../schedule/cron.js';
import type { JobRow, NewRunRow, RunRow, RunTrigger } from '../storage/schema.js';
import { circuitGate } from './circuit.js';

export interface PlannerOptions {
  jobs: JobManager;
  clock: Clock;
  /** A tick later than this is a misfire (the daemon was down or far behind). */
  misfireGraceMs?: number;
  onQueued?: (run: RunRow) => void;
  onSkipped?: (run: RunRow) => void;
  /** Cancels a running run (overlap policy replace). */
  replace?: (run: RunRow) => Promise<void>;
  log?: (msg: string) => void;
}

export interface PlanResult {
  queued: RunRow[];
  skipped: RunRow[];
}

const DEFAULT_GRACE_MS = 60_000;

/** Every tick of the schedule in (afterMs, untilMs], at most cap of them (the latest ones), and how many there were. */
export function ticksBetween(schedule: Schedule, afterMs: number, untilMs: number, cap: number): { ticks: number[]; total: number } {
  const ticks: number[] = [];
  let total = 0;
  let t = schedule.nextRun(afterMs);
  while (t !== null && t <= untilMs) {
    total++;
    ticks.push(t);
    if (ticks.length > cap) ticks.shift();
    // Counting a week of per-second ticks one by one is wasteful; beyond a million, stop counting.
    if (total >= 1_000_000) break;
    t = schedule.nextRun(t);
  }
  return { ticks, total };
}

export class Planner {
  private readonly grace: number;

  constructor(private readonly o: PlannerOptions) {
    this.grace = o.misfireGraceMs ?? DEFAULT_GRACE_MS;
  }

  /** Plan every due job; returns what was queued and skipped. */
  async planDue(nowMs = this.o.clock.now()): Promise<PlanResult> {
    const out: PlanResult = { queued: [], skipped: [] };
    for (;;) {
      const due = await this.o.jobs.getJobsDueForExecution(nowMs, 500);
      for (const job of due) {
        try {
          await this.planJob(job, nowMs, out);
        } catch (e) {
          // One broken job must not stop the others: push its next run on and say why.
          this.o.log?.(`planning ${job.name} failed: ${(e as Error).message}`);
          await this.o.jobs.jobs.update(job.id, { next_scheduled_run: null, last_error_message: `scheduling failed: ${(e as Error).message}` });
        }
      }
      if (due.length < 500) return out;
    }
  }

  private async planJob(job: JobRow, nowMs: number, out: PlanResult): Promise<void> {
    const schedule = parseSchedule(job.schedule, job.timezone);
    const from = job.last_scheduled_tick ? Date.parse(job.last_scheduled_tick) : Date.parse(job.next_scheduled_run!) - 1;
    const { ticks, total } = ticksBetween(schedule, from, nowMs, Math.max(1, job.max_catchup_runs));
    const current = ticks.filter((t) => nowMs - t <= this.grace);
    const missed = ticks.filter((t) => nowMs - t > this.grace);
    const missedTotal = total - current.length;
    const toRun: { at: number; trigger: RunTrigger }[] = current.map((at) => ({ at, trigger: 'schedule' }));
    if (missedTotal > 0) {
      const latestMissed = missed[missed.length - 1];
      const policy = job.misfire_policy;
      let run: number[] = [];
      if (policy === 'run_all') run = missed;
      else if (policy === 'run_once' && current.length === 0 && latestMissed !== undefined) run = [latestMissed];
      for (const at of run) toRun.push({ at, trigger: 'catchup' });
      const notRun = missedTotal - run.length;
      // One row stands for all the ticks not run, at the latest of them, with the count.
      const skippedAt = missed.filter((t) => !run.includes(t)).pop();
      if (notRun > 0 && skippedAt !== undefined) {
        const r = await this.insert(job, skippedAt, 'schedule', nowMs, {
          status: 'skipped',
          skip_reason: `missed ${notRun} tick${notRun === 1 ? '' : 's'} (misfire policy ${policy}${policy === 'run_all' ? `, catch-up capped at ${job.max_catchup_runs}` : ''})`,
        });
        if (r) out.skipped.push(r);
      } else if (notRun > 0) {
        this.o.log?.(`${job.name}: ${notRun} missed ticks not run (misfire policy ${policy}, cap ${job.max_catchup_runs})`);
      }
      toRun.sort((a, b) => a.at - b.at);
    }
    for (const { at, trigger } of toRun) await this.planTick(job, at, trigger, nowMs, out);
    const next = schedule.nextRun(nowMs);
    await this.o.jobs.jobs.update(job.id, {
      next_scheduled_run: next === null ? null : iso(next),
      last_scheduled_tick: ticks.length ? iso(ticks[ticks.length - 1]!) : job.last_scheduled_tick,
    });
  }

  private async planTick(job: JobRow, at: number, trigger: RunTrigger, nowMs: number, out: PlanResult): Promise<void> {
    const gate = circuitGate(job, nowMs);
    if (!gate.allow) {
      const r = await this.insert(job, at, trigger, nowMs, { status: 'skipped', skip_reason: gate.reason });
      if (r) out.skipped.push(r);
      return;
    }
    if (gate.trial) {
      await this.o.jobs.jobs.update(job.id, { circuit_state: 'half_open' });
      job.circuit_state = 'half_open';
    }
    const active = await this.o.jobs.history.active(job.id);
    if (active.length > 0) {
      const policy = job.overlap_policy;
      const running = active.filter((r) => r.status === 'running');
      const waiting = active.filter((r) => r.status === 'queued');
      let reason: string | null = null;
      if (policy === 'forbid') reason = `previous run #${active[0]!.id} is still ${active[0]!.status} (overlap policy forbid)`;
      else if (policy === 'queue' && waiting.length > 0) reason = `a run is already waiting (#${waiting[0]!.id}; overlap policy queue keeps at most one)`;
      else if (policy === 'replace') {
        for (const r of waiting) {
          await this.o.jobs.history.transition(r.id, ['queued'], { status: 'skipped', skip_reason: 'replaced by a newer tick (overlap policy replace)', finished_at: iso(nowMs) });
        }
        for (const r of running) await this.o.replace?.(r);
      }
      if (reason) {
        const r = await this.insert(job, at, trigger, nowMs, { status: 'skipped', skip_reason: reason });
        if (r) out.skipped.push(r);
        return;
      }
    }
    const r = await this.insert(job, at, trigger, nowMs, { status: 'queued' });
    if (r) out.queued.push(r);
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
