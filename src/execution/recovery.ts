/**
 * After a restart (clean or kill -9): every run this node had running is either still going
 * and adopted (its result still recorded when it ends, through the shim's exit file), or has
 * ended meanwhile and is recorded from that file, or is marked interrupted with the reason.
 * Reservations are rebuilt from the adopted runs, so nothing leaks.
 */
import { join } from 'node:path';
import { iso, type Clock } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import type { Dispatcher } from './dispatcher.js';
import type { Launcher } from './launch.js';
import { readRunFile } from './shim.js';

export interface RecoveryReport {
  adopted: number;
  interrupted: number;
}

export async function recoverRuns(o: {
  node: string;
  jobs: JobManager;
  launcher: Launcher;
  dispatcher: Dispatcher;
  clock: Clock;
  runsDir: string;
  log?: (msg: string) => void;
}): Promise<RecoveryReport> {
  const report: RecoveryReport = { adopted: 0, interrupted: 0 };
  const running = await o.jobs.database.db
    .selectFrom('smart_cron_job_history')
    .selectAll()
    .where('status', '=', 'running')
    .where('node', '=', o.node)
    .execute();
  for (const run of running) {
    const job = await o.jobs.jobs.byId(run.job_id);
    if (!job) continue;
    const runDir = join(o.runsDir, String(run.id));
    if (!run.pid) {
      // The daemon died after its shim existed but before the pid reached the row: run.json,
      // written before the command may start, names it.
      const rf = readRunFile(runDir);
      if (rf && rf.runId === String(run.id) && Number.isInteger(rf.pid) && rf.pid > 0) {
        Object.assign(run, { pid: rf.pid, pid_start: rf.pidStart });
        await o.jobs.history.update(run.id, { pid: rf.pid, pid_start: rf.pidStart });
      }
    }
    if (!run.pid) {
      await o.jobs.recordExecution(run.id, {
        status: 'interrupted',
        error_message: 'the daemon stopped before the run was started',
        finished_at: iso(o.clock.now()),
      });
      report.interrupted++;
      continue;
    }
    const launched = await o.launcher.adopt({
      runId: run.id,
      pid: run.pid,
      pidStart: run.pid_start,
      runDir,
      startedAtMs: Date.parse(run.started_at ?? run.queued_at),
      timeoutMs: job.timeout_seconds * 1000,
      memoryLimitMb: job.memory_limit_mb,
    });
    o.dispatcher.adoptActive(run, job, launched);
    report.adopted++;
  }
  if (running.length) o.log?.(`recovered ${report.adopted} run(s) still running or finished while the daemon was away, ${report.interrupted} interrupted`);
  return report;
}
