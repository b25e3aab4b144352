/**
 * The seed's slot rules: which slot a job runs in, and what it reserves there.
 */
import type { JobRow } from '../storage/schema.js';

/** Seed rule, exactly: cpu_weight < 0.5 or memory_weight < 0.5 -> light; > 1.5 -> heavy; else default. */
export function chooseSlot(job: Pick<JobRow, 'slot' | 'cpu_weight' | 'memory_weight'>): string {
  if (job.slot && job.slot !== 'auto') return job.slot;
  if (job.cpu_weight < 0.5 || job.memory_weight < 0.5) return 'light';
  if (job.cpu_weight > 1.5 || job.memory_weight > 1.5) return 'heavy';
  return 'default';
}

export interface Reservation {
  memoryMb: number;
  cpuPercent: number;
}

/**
 * R = max(estimate, 1.2 x p95 of recent measured peaks): a job that has shown it needs more
 * than its estimate reserves what it really uses, with headroom.
 */
export function reservationFor(
  job: Pick<JobRow, 'estimated_memory_mb' | 'p95_memory_mb' | 'estimated_cpu_percent' | 'baseline_cpu_percent' | 'memory_limit_mb'>,
): Reservation {
  const measured = job.p95_memory_mb !== null ? 1.2 * job.p95_memory_mb : 0;
  let memoryMb = Math.max(job.estimated_memory_mb, measured);
  // A hard limit is the most it can ever use: reserving more would only hold others back.
  if (job.memory_limit_mb !== null && job.memory_limit_mb > 0) memoryMb = Math.min(memoryMb, job.memory_limit_mb);
  const cpuPercent = Math.max(0, job.baseline_cpu_percent ?? job.estimated_cpu_percent);
  return { memoryMb: Math.round(memoryMb * 100) / 100, cpuPercent: Math.round(cpuPercent * 100) / 100 };
}
