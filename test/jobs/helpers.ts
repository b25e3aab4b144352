/** JobManager on a test database in virtual time, and a way to make runs to record. */
import { iso, VirtualClock } from '../../src/clock.js';
import { JobManager, type RunOutcomeFields } from '../../src/jobs/manager.js';
import type { Database } from '../../src/storage/database.js';
import type { RunRow } from '../../src/storage/schema.js';

export const START = Date.UTC(2026, 5, 1, 12, 7, 0); // a Monday, 12:07 UTC

export function manager(database: Database, start = START): { mgr: JobManager; clock: VirtualClock } {
  const clock = new VirtualClock(start);
  return { mgr: new JobManager(database, clock), clock };
}

let seq = 0;

/** A run of the job that started now (status running), ready for recordExecution. */
export async function startRun(mgr: JobManager, jobId: number): Promise<RunRow> {
  const now = mgr.clock.now();
  const run = await mgr.history.insertOnce({
    job_id: jobId,
    scheduled_for: iso(now + (seq++ % 1000)),
    trigger: 'schedule',
    status: 'running',
    queued_at: iso(now),
    started_at: iso(now),
  });
  if (!run) throw new Error('run key collision in test helper');
  return run;
}

export interface RunSpec {
  status?: RunOutcomeFields['status'];
  durationMs?: number;
  memoryMb?: number | null;
  cpuPercent?: number | null;
}

/** Start a run now, finish it after its duration (clock advanced), and record it. */
export async function recordRun(mgr: JobManager, clock: VirtualClock, jobId: number, spec: RunSpec = {}) {
  const run = await startRun(mgr, jobId);
  const d = spec.durationMs ?? 1000;
  await clock.advance(d);
  const status = spec.status ?? 'succeeded';
  return mgr.recordExecution(run.id, {
    status,
    duration_ms: d,
    exit_code: status === 'succeeded' ? 0 : status === 'failed' ? 1 : null,
    peak_memory_mb: spec.memoryMb === undefined ? 100 : spec.memoryMb,
    cpu_percent: spec.cpuPercent === undefined ? 10 : spec.cpuPercent,
  });
}
