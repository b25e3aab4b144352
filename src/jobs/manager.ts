/**
 * JobManager: the seed's IntegratedJobManager. The registry of jobs, their next runs,
 * and the one place a finished run is applied to a job's counters, 24 h stats and baselines.
 */
import { EventEmitter } from 'node:events';
import { sql, type Transaction } from 'kysely';
import { iso, type Clock } from '../clock.js';
import { closest } from '../config/explain.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseSchedule } from '../schedule/cron.js';
import type { Database } from '../storage/database.js';
import { HistoryRepo } from '../storage/repos/history.js';
import { DismissedRepo } from '../storage/repos/dismissed.js';
import { JobsRepo, type JobListFilter } from '../storage/repos/jobs.js';
import { NodesRepo } from '../storage/repos/nodes.js';
import { StatsRepo } from '../storage/repos/stats.js';
import type { DB, JobRow, JobSource, NewJobRow, PerformanceTrendsView, RunRow, RunUpdate } from '../storage/schema.js';
import { checkCommandShape, validateJobDefinition, validateJobPatch, type JobDefinition, type JobPatch } from './definition.js';
import type { HealthStatus } from './health.js';
import { crontabKey, dismissalKey, EXECUTED_STATUSES, FAILURE_STATUSES, jobArgv, scriptKey, jobOverrides, missingWhat, presentJob, type Job, type PresentedJob } from './job.js';
import { toRowValues } from './values.js';

export type RegisterChange = 'new' | 'updated' | 'unchanged';

export interface RegisterOptions {
  source: JobSource;
  /** A person said this (CLI, API, jobs.yaml): the fields become user overrides. */
  byUser?: boolean;
  /** Discovery/import: why category and priority were chosen, the root, the crontab line (kept as JSON). */
  info?: Record<string, unknown>;
}

export interface RegisterResult {
  job: Job;
  change: RegisterChange;
  /** The fields that changed (for updated jobs). */
  changed: string[];
}

/** The final fields of a run, as the runner measured them. */
export type RunOutcomeFields = Pick<
  RunUpdate,
  | 'status'
  | 'finished_at'
  | 'duration_ms'
  | 'exit_code'
  | 'signal'
  | 'peak_memory_mb'
  | 'memory_source'
  | 'cpu_time_ms'
  | 'cpu_percent'
  | 'output_tail'
  | 'output_bytes'
  | 'output_truncated'
  | 'log_path'
  | 'error_message'
  /** null: the command never ran (only then is it given). */
  | 'started_at'
  /** With status skipped: a held run let go before its start (its job was disabled meanwhile). */
  | 'skip_reason'
> & { status: NonNullable<RunUpdate['status']> };

export interface RecordResult {
  /** False when the run had already been finalised (by this or another node): nothing was changed. */
  applied: boolean;
  /** Another attempt of the same tick follows: alerts wait for the final outcome. */
  willRetry: boolean;
  run: RunRow;
  job: Job;
  baselineUpdated: boolean;
}

export interface JobManagerEvents {
  recorded: [RecordResult];
  changed: [{ job: Job | null; id: number; change: 'new' | 'updated' | 'removed' | 'enabled' | 'disabled' }];
}

const BASELINE_EVERY = 10;
const BASELINE_RUNS = 100;
const BASELINE_DAYS = 30;

export class JobManager extends EventEmitter<JobManagerEvents> {
  readonly jobs: JobsRepo;
  readonly history: HistoryRepo;
  readonly stats: StatsRepo;
  /** Found jobs a person removed: discovery and imports leave them out. */
  readonly dismissed: DismissedRepo;

  constructor(
    readonly database: Database,
    readonly clock: Clock,
    /** This node's configured slots: a slot a person names must be one of them (checkSlot). */
    private readonly opts: { slots?: readonly string[] } = {},
  ) {
    super();
    this.jobs = new JobsRepo(database.db);
    this.history = new HistoryRepo(database.db);
    this.stats = new StatsRepo(database.db);
    this.dismissed = new DismissedRepo(database.db);
  }

  private get db() {
    return this.database.db;
  }

  // ---------------------------------------------------------------- registry

  /** Whether a job may name this slot here: auto, or one this node has (any, when not told the slots). */
  knowsSlot(slot: string): boolean {
    const known = this.opts.slots;
    return !known || slot === 'auto' || known.includes(slot);
  }

  /** The configured slots of this node, when known. */
  get slotNames(): readonly string[] | undefined {
    return this.opts.slots;
  }

  /**
   * The slots the other nodes sharing this database have (their node rows, as each last
   * registered; stopped ones included: a person may set up jobs while that node is down).
   */
  async clusterSlots(): Promise<string[]> {
    return [...new Set((await new NodesRepo(this.db).slotNames()).flatMap((n) => n.slots))].sort();
  }

  /**
   * A slot a person names (CLI, API, dashboard, jobs.yaml) must be `auto`, one this node has, or
   * (several nodes on one database) one another node has — its runs then go to such a node: a
   * typo would otherwise be accepted and every run of the job skipped at admission. (Discovery
   * does not refuse an @slot annotation: it warns and uses auto, see discover.ts.)
   */
  async checkSlot(slot: string | null | undefined, where: string): Promise<void> {
    if (slot === undefined || slot === null || this.knowsSlot(slot)) return;
    const cluster = await this.clusterSlots();
    if (cluster.includes(slot)) return;
    const known = [...new Set([...this.opts.slots!, ...cluster])];
    const near = closest(slot, known);
    throw new ValidationError(
      `${where}: slot "${slot}" is not configured${near ? ` (did you mean "${near}"?)` : ''} (expected auto or one of: ${known.join(', ')}; slots are added under slots: in config.yaml)`,
      'slot',
    );
  }

  async registerJob(input: JobDefinition, opts: RegisterOptions): Promise<RegisterResult> {
    const def = validateJobDefinition(input, `job "${(input as { name?: unknown })?.name ?? '?'}"`);
    if (opts.byUser) await this.checkSlot(def.slot, `job "${def.name}"`);
    const schedule = parseSchedule(def.schedule, def.timezone ?? undefined);
    const now = this.clock.now();
    const result = await this.db.transaction().execute(async (trx) => {
      // Registered, by anyone: whatever a person removed before under this script or entry is back.
      await this.dismissed.remove([def.script_path && scriptKey(def.script_path), opts.source === 'crontab' && crontabKey(def.name)].filter((k): k is string => Boolean(k)), trx);
      let existing = await this.jobs.byName(def.name, trx);
      if (!existing && def.script_path && opts.source === 'discovered') existing = await this.jobs.byScriptPath(def.script_path, trx);
      if (!existing) {
        if (!def.command && !def.script_path) {
          throw new ValidationError(`job "${def.name}": nothing to run (expected a command, a shell line or a script path)`, 'command');
        }
        const enabled = def.enabled ?? (opts.source === 'manual' || opts.source === 'file');
        const row: NewJobRow = {
          ...toRowValues(def),
          name: def.name,
          schedule: schedule.expression,
          source: opts.source,
          enabled: enabled ? 1 : 0,
          next_scheduled_run: enabled ? this.nextRunIso(schedule.expression, def.timezone, now) : null,
          last_scheduled_tick: enabled ? iso(now) : null,
          discovery_info: opts.info ? JSON.stringify(opts.info) : null,
          user_overrides: JSON.stringify(opts.byUser ? Object.keys(def).filter((k) => k !== 'name') : []),
          created_at: iso(now),
          updated_at: iso(now),
        };
        const job = await this.jobs.insert(row, trx);
        if (def.tags) await this.jobs.setTags(job.id, def.tags, trx);
        return { id: job.id, change: 'new' as const, changed: [] as string[] };
      }
      const { name: _name, ...patch } = def;
      const changed = await this.applyPatch(existing, patch, opts, trx, now);
      // Registered again from what discovery or an import found: its script or entry is there (again).
      if (opts.info && (JSON.stringify(opts.info) !== existing.discovery_info || existing.missing)) {
        await this.jobs.update(existing.id, { discovery_info: JSON.stringify(opts.info), missing: 0 }, trx);
      }
      return { id: existing.id, change: changed.length ? ('updated' as const) : ('unchanged' as const), changed };
    });
    const job = await this.getJob(result.id);
    if (result.change !== 'unchanged') this.emit('changed', { job, id: job.id, change: result.change === 'new' ? 'new' : 'updated' });
    return { job, change: result.change, changed: result.changed };
  }

  /** Change some fields of a job, as a person (the fields become overrides that discovery keeps). */
  async updateJob(ref: string | number, input: unknown): Promise<RegisterResult> {
    const patch = validateJobPatch(input, 'job');
    const existing = await this.getJobRow(ref);
    await this.checkSlot(patch.slot, `job "${existing.name}"`);
    if (patch.schedule !== undefined || patch.timezone !== undefined) {
      parseSchedule(patch.schedule ?? existing.schedule, patch.timezone !== undefined ? patch.timezone : existing.timezone);
    }
    // The job as it will be: a shell job's command stays one shell line (a new argv list on a
    // --shell job would run its first word alone, the rest as $1...).
    const command = patch.command ?? (patch.script_path ? null : jobArgv(existing));
    checkCommandShape({ command: command ?? undefined, shell: patch.shell ?? existing.shell === 1 }, 'job');
    const now = this.clock.now();
    const changed = await this.db.transaction().execute((trx) => this.applyPatch(existing, patch, { source: existing.source, byUser: true }, trx, now));
    const job = await this.getJob(existing.id);
    if (changed.length) this.emit('changed', { job, id: job.id, change: 'updated' });
    return { job, change: changed.length ? 'updated' : 'unchanged', changed };
  }

  private async applyPatch(existing: JobRow, patch: JobPatch, opts: RegisterOptions, trx: Transaction<DB>, now: number): Promise<string[]> {
    const overrides = new Set(jobOverrides(existing));
    const p: JobPatch = { ...patch };
    if (!opts.byUser) {
      // Re-discovery and re-import never touch what a person decided.
      delete p.enabled;
      for (const f of overrides) delete (p as Record<string, unknown>)[f];
    }
    const values = toRowValues(p) as Record<string, unknown>;
    const changed: string[] = [];
    for (const [k, v] of Object.entries(values)) {
      if ((existing as Record<string, unknown>)[k] !== v) changed.push(k);
    }
    let tagsChanged = false;
    if (p.tags) {
      const current = (await this.jobs.tagsFor([existing.id], trx)).get(existing.id) ?? [];
      tagsChanged = JSON.stringify([...new Set(p.tags)].sort()) !== JSON.stringify([...current].sort());
      if (tagsChanged) {
        await this.jobs.setTags(existing.id, p.tags, trx);
        changed.push('tags');
      }
    }
    const update: Record<string, unknown> = {};
    for (const k of changed) if (k !== 'tags') update[k] = values[k];
    if (changed.length === 0) return [];
    if (opts.byUser) {
      for (const k of Object.keys(patch)) overrides.add(k);
      update.user_overrides = JSON.stringify([...overrides].sort());
    }
    const merged = { ...existing, ...update } as JobRow;
    if ('schedule' in update || 'timezone' in update || 'enabled' in update) {
      const enabledNow = merged.enabled === 1;
      update.next_scheduled_run = enabledNow ? this.nextRunIso(merged.schedule, merged.timezone, now) : null;
      // Ticks count from now when the job is switched on, and when its schedule changes: the old
      // anchor would make every tick of the new schedule since then look missed (a run_all job
      // ran them all at once).
      if (enabledNow) update.last_scheduled_tick = iso(now);
    }
    if (merged.command && merged.script_path) {
      // A job changes from script to command (or back): the new one replaces the old.
      if ('command' in update) update.script_path = null;
      else update.command = null;
    }
    update.updated_at = iso(now);
    await this.jobs.update(existing.id, update, trx);
    return changed;
  }

  async enableJob(ref: string | number): Promise<Job> {
    return this.setEnabled(ref, true);
  }

  async disableJob(ref: string | number): Promise<Job> {
    return this.setEnabled(ref, false);
  }

  private async setEnabled(ref: string | number, enabled: boolean): Promise<Job> {
    const row = await this.getJobRow(ref);
    const now = this.clock.now();
    if (enabled && row.missing) {
      throw new ConflictError(`job "${row.name}": ${missingWhat(row)}; restore it or remove the job`, 'job');
    }
    await this.jobs.update(row.id, {
      enabled: enabled ? 1 : 0,
      next_scheduled_run: enabled ? this.nextRunIso(row.schedule, row.timezone, now) : null,
      last_scheduled_tick: enabled ? iso(now) : row.last_scheduled_tick,
      updated_at: iso(now),
    });
    const job = await this.getJob(row.id);
    this.emit('changed', { job, id: job.id, change: enabled ? 'enabled' : 'disabled' });
    return job;
  }

  /**
   * Remove a job and its history. A job that discovery or an import found is remembered as
   * removed, so that the next scan does not register it again (see dismissalKey).
   */
  async removeJob(ref: string | number): Promise<Job> {
    const job = await this.getJob(ref);
    const key = dismissalKey(job);
    await this.db.transaction().execute(async (trx) => {
      await this.jobs.delete(job.id, trx);
      if (key) await this.dismissed.add({ key, job_name: job.name, dismissed_at: iso(this.clock.now()) }, trx);
    });
    this.emit('changed', { job: null, id: job.id, change: 'removed' });
    return job;
  }

  async findJob(ref: string | number): Promise<Job | undefined> {
    const row = await this.jobs.byRef(ref);
    return row && this.withTags(row);
  }

  async getJob(ref: string | number): Promise<Job> {
    return this.withTags(await this.getJobRow(ref));
  }

  /**
   * The job as shown: its tags, and its 24 h figures as of now (read from the hourly buckets:
   * the copies on the row are as of its last run, and would never roll off for a job that stopped).
   * `fresh`: the row's figures were computed just now (recordExecution).
   */
  private async withTags(row: JobRow, fresh = false): Promise<Job> {
    const recent = fresh ? {} : await this.stats.last24h(row.id, this.clock.now());
    return { ...row, ...recent, tags: (await this.jobs.tagsFor([row.id])).get(row.id) ?? [] };
  }

  /** The job's row without its tags (one query): for paths that do not show the job. */
  async getJobRow(ref: string | number): Promise<JobRow> {
    const row = await this.jobs.byRef(ref);
    if (!row) throw new NotFoundError(`${/^\d+$/.test(String(ref)) ? `no job with id ${ref} (or named "${ref}")` : `no job named "${ref}"`} (see \`smart-cron jobs list\`)`, 'job');
    return row;
  }

  async listJobs(filter: JobListFilter = {}, nowMs = this.clock.now()): Promise<{ jobs: Job[]; total: number }> {
    const { rows, total } = await this.jobs.list(filter, nowMs);
    const tags = await this.jobs.tagsFor(rows.map((r) => r.id));
    return { jobs: rows.map((r) => ({ ...r, tags: tags.get(r.id) ?? [] })), total };
  }

  // ---------------------------------------------------------------- schedule

  /** The job's next run strictly after fromMs, as stored (ISO), or null for @reboot / never. */
  calculateNextRun(job: Pick<JobRow, 'schedule' | 'timezone'>, fromMs: number): string | null {
    return this.nextRunIso(job.schedule, job.timezone, fromMs);
  }

  private nextRunIso(expression: string, timezone: string | null | undefined, fromMs: number): string | null {
    const next = parseSchedule(expression, timezone ?? undefined).nextRun(fromMs);
    return next === null ? null : iso(next);
  }

  /** The seed's getJobsDueForExecution: enabled jobs whose next_scheduled_run <= now. */
  async getJobsDueForExecution(nowMs = this.clock.now(), limit = 1000): Promise<JobRow[]> {
    return this.jobs.due(nowMs, limit);
  }

  // ---------------------------------------------------------------- recording

  /**
   * Apply a finished run: its final fields, the job's counters, 24 h stats and (every 10 runs)
   * baselines (the memory p95 also after each of the first runs), in one transaction, exactly once. A run that another party already finalised
   * (e.g. marked lost by a surviving node) is left as it is.
   */
  async recordExecution(runId: number, outcome: RunOutcomeFields, opts: { willRetry?: boolean } = {}): Promise<RecordResult> {
    const now = this.clock.now();
    // Per run on a busy daemon this is the hottest path through the database: the run and the job
    // come back from their UPDATEs (RETURNING) instead of being read again.
    const res = await this.db.transaction().execute(async (trx) => {
      const finishedAt = outcome.finished_at ?? iso(now);
      const run = await this.history.transitionReturning(runId, ['queued', 'running'], { ...outcome, finished_at: finishedAt, recorded: 1 }, trx);
      if (!run) {
        const current = await this.history.byId(runId, trx);
        if (!current) throw new NotFoundError(`no run with id ${runId}`, 'run');
        return { applied: false, run: current, baselineUpdated: false, row: undefined, counted: false };
      }
      return { applied: true, run, ...(await this.countRun(run, Boolean(opts.willRetry), now, trx)) };
    });
    const job: Job = res.row ? await this.withTags(res.row, res.applied && res.counted) : await this.getJob(res.run.job_id);
    const result: RecordResult = { applied: res.applied, run: res.run, baselineUpdated: res.baselineUpdated, job, willRetry: Boolean(opts.willRetry) && res.applied };
    if (res.applied) this.emit('recorded', result);
    return result;
  }

  /**
   * An attempt recorded as followed by a retry whose retry then did not run (skipped or
   * cancelled before it started): its outcome is the tick's final one after all. Counted now,
   * and announced as recorded (alerts). The caller makes sure this happens once per attempt.
   */
  async finalizeAttempt(run: RunRow): Promise<RecordResult> {
    const now = this.clock.now();
    const res = await this.db.transaction().execute((trx) => this.countRun(run, false, now, trx));
    const job: Job = res.row ? await this.withTags(res.row, res.counted) : await this.getJob(run.job_id);
    const result: RecordResult = { applied: true, run, baselineUpdated: res.baselineUpdated, job, willRetry: false };
    this.emit('recorded', result);
    return result;
  }

  /**
   * A recorded run on its job's counters, 24 h stats and baselines. An attempt that a retry
   * follows is not counted: a tick counts once, by its final outcome, so one failing run with
   * three retries is one failure (not four towards the circuit and the health), and a run that
   * a retry rescued is a success.
   */
  private async countRun(run: RunRow, willRetry: boolean, now: number, trx: Transaction<DB>): Promise<{ row: JobRow | undefined; baselineUpdated: boolean; counted: boolean }> {
    const finishedAt = run.finished_at ?? iso(now);
    const counted = EXECUTED_STATUSES.includes(run.status) && !willRetry;
    const failed = FAILURE_STATUSES.includes(run.status);
    const patch: Record<string, unknown> = {
      last_status: run.status,
      last_finished_at: finishedAt,
      updated_at: iso(now),
    };
    if (counted) {
      Object.assign(patch, {
        total_executions: sql`total_executions + 1`,
        successful_executions: sql`successful_executions + ${failed ? 0 : 1}`,
        failed_executions: sql`failed_executions + ${failed ? 1 : 0}`,
        consecutive_failures: failed ? sql`consecutive_failures + 1` : 0,
        last_executed_at: run.started_at ?? finishedAt,
        last_exit_code: run.exit_code,
        last_error_message: failed ? (run.error_message ?? summarizeFailure(run)) : null,
        ...(failed ? {} : { last_success_at: finishedAt }),
      });
      await this.stats.add(run.job_id, Date.parse(finishedAt), { durationMs: run.duration_ms, memoryMb: run.peak_memory_mb, failed }, trx);
      Object.assign(patch, await this.stats.last24h(run.job_id, now, trx));
    }
    let row = await this.jobs.updateReturning(run.job_id, patch, trx);
    let baselineUpdated = false;
    if (counted && row && row.total_executions % BASELINE_EVERY === 0) {
      const baselines = await this.updateBaselines(run.job_id, trx);
      if (baselines) row = { ...row, ...baselines };
      baselineUpdated = true;
    } else if (counted && row && row.total_executions < BASELINE_EVERY && !failed && run.peak_memory_mb !== null) {
      // The reservation (slots.ts) must not wait for the 10th run to learn what the job really
      // uses: until the first baselines, each measured success updates the p95 of the (at most
      // nine) runs so far. Later it moves with the baselines, every 10 runs.
      const p95 = await this.updatePeakP95(run.job_id, trx);
      row = { ...row, p95_memory_mb: p95 };
    }
    return { row, baselineUpdated, counted };
  }

  /** Averages of the last 100 successful runs of the last 30 days, and the p95 of their peaks: written, and returned (null: no such runs). */
  async updateBaselines(jobId: number, q: Transaction<DB> | undefined = undefined): Promise<Partial<JobRow> | null> {
    const now = this.clock.now();
    const runs = await this.history.recentSuccesses(jobId, iso(now - BASELINE_DAYS * 86400_000), BASELINE_RUNS, q ?? this.db);
    if (runs.length === 0) return null;
    const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    const durations = measured(runs.map((r) => r.duration_ms));
    const mems = measured(runs.map((r) => r.peak_memory_mb));
    const cpus = measured(runs.map((r) => r.cpu_percent));
    const d = avg(durations);
    const baselines = {
      baseline_duration_seconds: d === null ? null : d / 1000,
      baseline_memory_mb: avg(mems),
      baseline_cpu_percent: avg(cpus),
      p95_memory_mb: percentile(mems, 0.95),
      baseline_calculated_at: iso(now),
    };
    await this.jobs.update(jobId, baselines, q);
    return baselines;
  }

  /** The p95 of the measured peaks of the runs updateBaselines reads, alone: written, and returned. */
  private async updatePeakP95(jobId: number, q: Transaction<DB>): Promise<number | null> {
    const runs = await this.history.recentSuccesses(jobId, iso(this.clock.now() - BASELINE_DAYS * 86400_000), BASELINE_RUNS, q);
    const p95 = percentile(measured(runs.map((r) => r.peak_memory_mb)), 0.95);
    await this.jobs.update(jobId, { p95_memory_mb: p95 }, q);
    return p95;
  }

  // ---------------------------------------------------------------- views

  /** The seed's getJobHealthSummary: counts by health and the enabled jobs in dashboard order. */
  async getJobHealthSummary(nowMs = this.clock.now()): Promise<{ counts: Record<HealthStatus, number>; jobs: PresentedJob[] }> {
    // In the dashboard order already, by health at nowMs: the SQL order is compareForDashboard's
    // (test/storage/jobs-repo.test.ts).
    const { jobs } = await this.listJobs({ enabled: true, sort: 'dashboard' }, nowMs);
    const presented = jobs.map((j) => presentJob(j, nowMs));
    const counts: Record<HealthStatus, number> = { critical: 0, warning: 0, healthy: 0 };
    for (const j of presented) counts[j.health_status]++;
    return { counts, jobs: presented };
  }

  /**
   * The seed's getPerformanceTrends: per day, runs, failures, avg/max duration and memory. A day
   * is a UTC calendar day (runs are stored in UTC); `days` of them, today's included: 1 is today.
   */
  async getPerformanceTrends(ref: string | number, range: { days?: number } = {}): Promise<PerformanceTrendsView[]> {
    const job = await this.getJobRow(ref);
    const days = range.days ?? 30;
    const since = iso(this.clock.now() - (days - 1) * 86400_000).slice(0, 10);
    const rows = await this.db
      .selectFrom('smart_cron_job_performance_trends')
      .selectAll()
      .where('job_id', '=', job.id)
      .where('day', '>=', since)
      .orderBy('day')
      .execute();
    return rows.map((r) => ({ ...r, runs: Number(r.runs), failures: Number(r.failures) }));
  }
}

/** The figures that were measured: null (not measured) is left out, never counted as 0. */
function measured(xs: (number | null)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number');
}

export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

function summarizeFailure(run: RunRow): string {
  if (run.status === 'timeout') return 'timed out';
  if (run.status === 'memory_limit') return 'killed: over its memory limit';
  if (run.status === 'oom_killed') return 'killed by the OOM killer';
  if (run.signal) return `killed by ${run.signal}`;
  return `exit code ${run.exit_code}`;
}
