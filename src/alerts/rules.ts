/**
 * The alert rules, as pure functions of a job row, its runs and the time. The manager
 * turns their verdicts into alert rows; nothing here touches the database or a clock.
 *
 * Switches (per job, 0/1):
 * - alert_on_failure: failure, consecutive_failures, circuit_open, and the memory kills
 *   (memory_limit, oom_killed). A kill means the job's work did not get done, so it is a
 *   failure; alert_on_high_memory only silences the statistical "used more than usual" warning,
 *   which a person may well want off for a job whose input size varies.
 * - alert_on_timeout: timeout. alert_on_high_memory: high_memory. alert_on_high_duration:
 *   high_duration. alert_on_missed: missed. alert_on_hanging: hanging.
 */
import { fmtDuration } from '../durations.js';
import type { AlertSeverity, JobRow, RunRow } from '../storage/schema.js';
import { jobOverrides } from '../jobs/job.js';

export const ALERT_TYPES = [
  'failure',
  'timeout',
  'memory_limit',
  'oom_killed',
  'high_memory',
  'high_duration',
  'consecutive_failures',
  'missed',
  'hanging',
  'circuit_open',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export const SEVERITY: Record<AlertType, AlertSeverity> = {
  failure: 'error',
  timeout: 'warning',
  memory_limit: 'error',
  oom_killed: 'error',
  high_memory: 'warning',
  high_duration: 'warning',
  consecutive_failures: 'critical',
  missed: 'warning',
  hanging: 'warning',
  circuit_open: 'error',
};

/**
 * Alerts whose end deserves a "recovered" notice. The performance warnings just close quietly,
 * and so does `hanging`: it is about one run still going, and how that run ended has its own
 * alert (a timeout) or none (it finished) — "recovered" there would tell of a recovery that
 * never happened.
 */
export const RECOVERY_TYPES: readonly AlertType[] = ALERT_TYPES.filter((t) => t !== 'high_memory' && t !== 'high_duration' && t !== 'hanging');

/**
 * What only a succeeded run puts an end to: every type that sends a recovery notice ends here,
 * so a job "recovers" only by succeeding, and all it recovers from goes in one notice. (A success
 * also closes the circuit: circuitAfterRun, which the dispatcher applies after this verdict.)
 */
const CLEARED_BY_SUCCESS: readonly AlertType[] = ['failure', 'consecutive_failures', 'timeout', 'memory_limit', 'oom_killed', 'circuit_open'];

export interface Thresholds {
  highMemoryFactor: number;
  highDurationFactor: number;
  /** How far over its baseline a run must also be, so a tiny job's jitter is not "high" (0: the factor alone). */
  highMemoryMinExcessMb: number;
  highDurationMinExcessSeconds: number;
  hangingFactor: number;
  consecutiveFailureThreshold: number;
  missedGraceSeconds: number;
}

export interface Finding {
  type: AlertType;
  severity: AlertSeverity;
  message: string;
  /** The run this occurrence is about; a repeat about the same run is not a new occurrence. */
  runId: number | null;
  /**
   * 'state' findings describe a lasting condition (circuit open, job overdue): seeing it again
   * on the next check is not a repeat. 'event' findings are one occurrence each.
   */
  kind: 'event' | 'state';
}

export interface Verdict {
  jobId: number;
  raise: Finding[];
  /** Types whose condition no longer holds for this job: their open alerts resolve. */
  clear: AlertType[];
}

type AlertJob = Pick<
  JobRow,
  | 'id'
  | 'name'
  | 'enabled'
  | 'consecutive_failures'
  | 'consecutive_failure_threshold'
  | 'missed_grace_seconds'
  | 'baseline_duration_seconds'
  | 'baseline_memory_mb'
  | 'circuit_state'
  | 'next_scheduled_run'
  | 'timeout_seconds'
  | 'user_overrides'
  | 'alert_on_failure'
  | 'alert_on_timeout'
  | 'alert_on_high_memory'
  | 'alert_on_high_duration'
  | 'alert_on_missed'
  | 'alert_on_hanging'
>;

type AlertRun = Pick<
  RunRow,
  'id' | 'job_id' | 'status' | 'trigger' | 'exit_code' | 'signal' | 'duration_ms' | 'peak_memory_mb' | 'scheduled_for' | 'queued_at' | 'not_before' | 'started_at' | 'skip_reason' | 'wait_reason' | 'error_message'
>;

/**
 * The job's own threshold and grace when a person set them, else the configured defaults.
 * (consecutive_failure_threshold is never null in the row, so "set" means listed in user_overrides.)
 */
export function jobThresholds(job: Pick<AlertJob, 'consecutive_failure_threshold' | 'missed_grace_seconds' | 'user_overrides'>, t: Thresholds): Thresholds {
  const overrides = new Set(jobOverrides(job));
  return {
    ...t,
    consecutiveFailureThreshold: overrides.has('consecutive_failure_threshold') ? job.consecutive_failure_threshold : t.consecutiveFailureThreshold,
    missedGraceSeconds: job.missed_grace_seconds ?? t.missedGraceSeconds,
  };
}

const on = (flag: number) => flag !== 0;
const event = (type: AlertType, message: string, runId: number | null): Finding => ({ type, severity: SEVERITY[type], message, runId, kind: 'event' });
const state = (type: AlertType, message: string, runId: number | null = null): Finding => ({ type, severity: SEVERITY[type], message, runId, kind: 'state' });


/**
 * A skipped tick that the job did not ask for: the misfire policy's (the daemon was down), one
 * that waited past its starting deadline, one whose slot config.yaml no longer has, one larger
 * than the host's memory. Skips by the
 * job's own rules (overlap, requirements, a disabled job, an open circuit with its own alert) are
 * not misses. The words are the planner's and the dispatcher's skip reasons.
 */
const MISSED_SKIP = /misfire|missed|starting deadline|is not configured|can ever give/i;
export const missedSkip = (reason: string | null): boolean => MISSED_SKIP.test(reason ?? '');

/** Whole MB, with a tenth below 10 MB so that a small job's baseline never reads "0 MB". */
export const fmtMb = (x: number) => `${x < 9.95 ? x.toFixed(1) : Math.round(x)} MB`;

/**
 * The one "used far more than usual" test: over `factor` times the baseline and also at least
 * `minExcess` over it in absolute terms (a 20 ms job taking 60 ms is jitter, not a slow run).
 */
function overBaseline(value: number, baseline: number, factor: number, minExcess: number): boolean {
  return value > factor * baseline && (minExcess <= 0 || value - baseline >= minExcess);
}

/** How late a run started after its tick, in ms (null when it never started or was manual). */
function lateness(run: AlertRun): number | null {
  if (run.trigger !== 'schedule' && run.trigger !== 'catchup') return null;
  if (!run.started_at) return null;
  return Date.parse(run.started_at) - Date.parse(run.scheduled_for);
}

/** The rules applied to one finished run; `job` is the row after its counters were updated. */
export function evaluateRun(job: AlertJob, run: AlertRun, defaults: Thresholds): Verdict {
  const t = jobThresholds(job, defaults);
  const raise: Finding[] = [];
  const clear = new Set<AlertType>();
  const s = run.status;

  if (s === 'failed' && on(job.alert_on_failure)) {
    // A run that failed before its command started has no exit code; its error says why.
    const why = run.signal ? `killed by ${run.signal}` : run.exit_code !== null ? `exit code ${run.exit_code}` : (run.error_message || 'exit code ?');
    raise.push(event('failure', why, run.id));
  }
  if (s === 'timeout' && on(job.alert_on_timeout)) {
    const limit = job.timeout_seconds ? ` (limit ${fmtDuration(job.timeout_seconds * 1000)})` : '';
    raise.push(event('timeout', `timed out after ${fmtDuration(run.duration_ms ?? 0)}${limit}`, run.id));
  }
  if (s === 'memory_limit' && on(job.alert_on_failure)) {
    raise.push(event('memory_limit', `killed over its memory limit${run.peak_memory_mb != null ? ` at ${fmtMb(run.peak_memory_mb)}` : ''}`, run.id));
  }
  if (s === 'oom_killed' && on(job.alert_on_failure)) {
    // The run's own message says at which limit (the job's, or the slot's budget): the alert keeps it.
    raise.push(event('oom_killed', run.error_message ?? `killed by the kernel OOM killer${run.peak_memory_mb != null ? ` at ${fmtMb(run.peak_memory_mb)}` : ''}`, run.id));
  }
  if (s === 'succeeded') for (const c of CLEARED_BY_SUCCESS) clear.add(c);

  const failedRun = s === 'failed' || s === 'timeout' || s === 'memory_limit' || s === 'oom_killed';
  // With a threshold of 1 every failure is "in a row": the failure alert already says it all.
  if (failedRun && t.consecutiveFailureThreshold > 1 && job.consecutive_failures >= t.consecutiveFailureThreshold && on(job.alert_on_failure)) {
    raise.push(event('consecutive_failures', `${job.consecutive_failures} failed runs in a row (threshold ${t.consecutiveFailureThreshold})`, run.id));
  }

  // A memory kill already says "too much memory"; a warning on top would only be noise.
  const measured = failedRun || s === 'succeeded';
  if (measured && s !== 'memory_limit' && s !== 'oom_killed' && run.peak_memory_mb != null && job.baseline_memory_mb) {
    if (overBaseline(run.peak_memory_mb, job.baseline_memory_mb, t.highMemoryFactor, t.highMemoryMinExcessMb)) {
      if (on(job.alert_on_high_memory)) {
        raise.push(event('high_memory', `peak memory ${fmtMb(run.peak_memory_mb)}, ${(run.peak_memory_mb / job.baseline_memory_mb).toFixed(1)}× its baseline of ${fmtMb(job.baseline_memory_mb)}`, run.id));
      }
    } else clear.add('high_memory');
  }
  if (measured && s !== 'timeout' && run.duration_ms != null && job.baseline_duration_seconds) {
    const baseMs = job.baseline_duration_seconds * 1000;
    if (overBaseline(run.duration_ms, baseMs, t.highDurationFactor, t.highDurationMinExcessSeconds * 1000)) {
      if (on(job.alert_on_high_duration)) {
        raise.push(event('high_duration', `ran ${fmtDuration(run.duration_ms)}, ${(run.duration_ms / baseMs).toFixed(1)}× its baseline of ${fmtDuration(baseMs)}`, run.id));
      }
    } else clear.add('high_duration');
  }

  // The run is over, so it is not hanging any more (its outcome has its own alert). A skipped
  // tick says nothing about the run that may still be going.
  if (s !== 'skipped') clear.add('hanging');

  const late = lateness(run);
  const graceMs = t.missedGraceSeconds * 1000;
  if (s === 'skipped' && missedSkip(run.skip_reason) && on(job.alert_on_missed)) {
    raise.push(event('missed', `the run due at ${run.scheduled_for} was skipped: ${run.skip_reason}`, run.id));
  } else if (late !== null && late > graceMs && on(job.alert_on_missed)) {
    raise.push(event('missed', `the run due at ${run.scheduled_for} started ${fmtDuration(late)} late`, run.id));
  } else if (late !== null && late <= graceMs && s === 'succeeded') {
    // Only a good run on time ends a miss: a failed one has its own alert and recovers nothing.
    clear.add('missed');
  }

  // The row still says open when the run that closes the circuit (any success) is judged.
  if (job.circuit_state === 'open' && s !== 'succeeded' && on(job.alert_on_failure)) {
    raise.push(state('circuit_open', 'circuit breaker open: runs are paused after repeated failures'));
  }

  for (const f of raise) clear.delete(f.type);
  return { jobId: job.id, raise, clear: [...clear] };
}

/**
 * The rules that need no finished run, checked every so often: missed ticks, runs queued too
 * long, runs hanging far beyond their baseline, open circuits. `liveRuns` are the queued and
 * running runs (any job).
 */
export function evaluatePeriodic(now: number, jobs: AlertJob[], liveRuns: AlertRun[], defaults: Thresholds): Verdict[] {
  const live = new Map<number, AlertRun[]>();
  for (const r of liveRuns) live.set(r.job_id, [...(live.get(r.job_id) ?? []), r]);
  return jobs.map((job) => {
    const t = jobThresholds(job, defaults);
    const runs = live.get(job.id) ?? [];
    const raise: Finding[] = [];
    // A half-open circuit is a trial run under way, not yet a recovery: only closed ends the alert.
    const clear = new Set<AlertType>(['hanging', ...(job.circuit_state === 'closed' ? (['circuit_open'] as const) : [])]);
    const graceMs = t.missedGraceSeconds * 1000;

    if (job.enabled && on(job.alert_on_missed)) {
      const next = job.next_scheduled_run ? Date.parse(job.next_scheduled_run) : null;
      // A catch-up run's tick is long past by design (its miss is reported when it is planned):
      // it is stuck only when it has waited the grace since it was queued; a retry, since the
      // time its backoff let it start (not_before).
      const waitingSince = (r: AlertRun) => Math.max(Date.parse(r.scheduled_for), Date.parse(r.queued_at), r.not_before ? Date.parse(r.not_before) : 0);
      const stuck = runs.find((r) => r.status === 'queued' && waitingSince(r) + graceMs < now);
      if (stuck) {
        const why = stuck.wait_reason ? `: ${stuck.wait_reason}` : '';
        raise.push(state('missed', `the run due at ${stuck.scheduled_for} has been queued for ${fmtDuration(now - Date.parse(stuck.queued_at))}${why}`, stuck.id));
      } else if (next !== null && next + graceMs < now && runs.length === 0) {
        raise.push(state('missed', `did not start: it was due at ${job.next_scheduled_run} (${fmtDuration(now - next)} ago; is the daemon running?)`));
      }
    } else {
      // Off or disabled: nothing is expected of it any more. Otherwise only an on-time run clears it.
      clear.add('missed');
    }

    const baseMs = (job.baseline_duration_seconds ?? 0) * 1000;
    if (baseMs > 0 && on(job.alert_on_hanging)) {
      for (const r of runs) {
        if (r.status !== 'running' || !r.started_at) continue;
        const elapsed = now - Date.parse(r.started_at);
        const atTimeout = job.timeout_seconds > 0 && elapsed >= job.timeout_seconds * 1000;
        // The duration floor holds here too: a 20 ms job seen still going at 70 ms is not hanging.
        if (overBaseline(elapsed, baseMs, t.hangingFactor, t.highDurationMinExcessSeconds * 1000) && !atTimeout) {
          raise.push(state('hanging', `running for ${fmtDuration(elapsed)}, ${(elapsed / baseMs).toFixed(1)}× its baseline of ${fmtDuration(baseMs)}`, r.id));
          break;
        }
      }
    }

    if (job.circuit_state === 'open' && on(job.alert_on_failure)) {
      raise.push(state('circuit_open', 'circuit breaker open: runs are paused after repeated failures'));
    }
    for (const f of raise) clear.delete(f.type);
    return { jobId: job.id, raise, clear: [...clear] };
  });
}
