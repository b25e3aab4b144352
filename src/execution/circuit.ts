/**
 * The circuit breaker: after N consecutive failures (default 5) scheduled runs are skipped
 * for a cool-down (default 30 min, doubling each time the circuit opens again), then one
 * trial run (half-open); its success closes the circuit. Manual runs are always allowed;
 * every other run (scheduled, catch-up, dependency-triggered, retry) passes passCircuit.
 */
import { iso } from '../clock.js';
import { FAILURE_STATUSES } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobRow, JobUpdate, RunStatus } from '../storage/schema.js';

export type CircuitGate = { allow: true; trial: boolean } | { allow: false; reason: string; until: number };

/** The outcomes that decide a circuit (a skip, a cancel or a lost run says nothing of the job). */
const DECIDING: readonly RunStatus[] = ['succeeded', ...FAILURE_STATUSES];

function cooldownMs(job: Pick<JobRow, 'circuit_cooldown_seconds' | 'circuit_open_count'>): number {
  const doublings = Math.max(0, job.circuit_open_count - 1);
  return job.circuit_cooldown_seconds * 1000 * 2 ** Math.min(doublings, 10);
}

/** May a scheduled run of this job start now? */
export function circuitGate(
  job: Pick<JobRow, 'circuit_state' | 'circuit_opened_at' | 'circuit_cooldown_seconds' | 'circuit_open_count'>,
  nowMs: number,
): CircuitGate {
  if (job.circuit_state === 'closed') return { allow: true, trial: false };
  if (job.circuit_state === 'half_open') return { allow: false, reason: 'circuit half-open: a trial run is under way', until: nowMs };
  const until = Date.parse(job.circuit_opened_at ?? iso(nowMs)) + cooldownMs(job);
  if (nowMs < until) return { allow: false, reason: `circuit open after repeated failures, until ${iso(until)}`, until };
  return { allow: true, trial: true };
}

/**
 * The gate for a run about to be queued or started (`self`: that run, when it is already in the
 * queue). A half-open circuit whose trial was skipped, cancelled or interrupted (no outcome closed
 * or reopened it) lets this run be the trial when nothing else of the job runs or waits, or the
 * job would never run again. A trial is taken here: the job is half-open from now on.
 */
export async function passCircuit(jobs: JobManager, job: JobRow, nowMs: number, self?: number): Promise<CircuitGate> {
  let gate = circuitGate(job, nowMs);
  if (!gate.allow && job.circuit_state === 'half_open' && (await jobs.history.active(job.id)).every((r) => r.id === self)) {
    gate = { allow: true, trial: true };
  }
  if (gate.allow && gate.trial) {
    await jobs.jobs.update(job.id, { circuit_state: 'half_open' });
    job.circuit_state = 'half_open';
  }
  return gate;
}

/** The job's circuit after a run was recorded (job = the row after its counters were updated). */
export function circuitAfterRun(
  job: Pick<JobRow, 'circuit_state' | 'consecutive_failures' | 'circuit_failure_threshold' | 'circuit_open_count'>,
  succeeded: boolean,
  nowMs: number,
): JobUpdate | null {
  if (succeeded) {
    return job.circuit_state === 'closed' && job.circuit_open_count === 0 ? null : { circuit_state: 'closed', circuit_opened_at: null, circuit_open_count: 0 };
  }
  if (job.circuit_state === 'half_open' || (job.circuit_state === 'closed' && job.consecutive_failures >= job.circuit_failure_threshold)) {
    return { circuit_state: 'open', circuit_opened_at: iso(nowMs), circuit_open_count: job.circuit_open_count + 1 };
  }
  return null;
}

/**
 * The circuit an outcome about to be recorded leads to (job = the row before it is recorded).
 * Decided before the run is recorded, so that whatever judges the recorded run (the alert rules)
 * sees the circuit it left: a failed trial keeps it open, a success closes it at once.
 */
export function circuitForOutcome(
  job: Pick<JobRow, 'circuit_state' | 'consecutive_failures' | 'circuit_failure_threshold' | 'circuit_open_count'>,
  status: RunStatus,
  nowMs: number,
): JobUpdate | null {
  if (!DECIDING.includes(status)) return null;
  const succeeded = status === 'succeeded';
  return circuitAfterRun({ ...job, consecutive_failures: succeeded ? 0 : job.consecutive_failures + 1 }, succeeded, nowMs);
}
