/**
 * The circuit breaker: after N consecutive failures (default 5) scheduled runs are skipped
 * for a cool-down (default 30 min, doubling each time the circuit opens again), then one
 * trial run (half-open); its success closes the circuit. Manual runs are always allowed.
 */
import { iso } from '../clock.js';
import type { JobRow, JobUpdate } from '../storage/schema.js';

export type CircuitGate = { allow: true; trial: boolean } | { allow: false; reason: string; until: number };

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
