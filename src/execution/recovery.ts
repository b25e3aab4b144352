/**
 * After a restart (clean or kill -9): every run this node had running is either still going
 * and adopted (its result still recorded when it ends, through the shim's exit file), or has
 * ended meanwhile and is recorded from that file, or is marked interrupted with the reason.
 * Reservations are rebuilt from the adopted runs, so nothing leaks.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iso, type Clock } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import type { Dispatcher } from './dispatcher.js';
import type { AdoptRecord, Launcher } from './launch.js';
import type { JobRow, RunRow } from '../storage/schema.js';
import { isSameProcess } from './procfs.js';
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
    const launched = await o.launcher.adopt(adoptRecord(run, run.pid, job, runDir));
    o.dispatcher.adoptActive(run, job, launched);
    report.adopted++;
  }
  if (running.length) o.log?.(`recovered ${report.adopted} run(s) still running or finished while the daemon was away, ${report.interrupted} interrupted`);
  await settleLostRuns(o, report);
  return report;
}

/** What the launcher needs to follow a run that may still be going. */
function adoptRecord(run: RunRow, pid: number, job: JobRow, runDir: string): AdoptRecord {
  return {
    runId: run.id,
    pid,
    pidStart: run.pid_start,
    runDir,
    startedAtMs: Date.parse(run.started_at ?? run.queued_at),
    timeoutMs: job.timeout_seconds * 1000,
    memoryLimitMb: job.memory_limit_mb,
  };
}

/** Written in a lost run's folder once its process is accounted for (settleLostRuns). */
const SETTLED = 'settled-after-lost';

/**
 * Runs another node marked lost while this node was away (its heartbeats stopped: killed,
 * frozen, cut off from the database), whose processes went on here. A run whose tick nobody
 * took over is ours again: back to running, adopted, and recorded when it ends, as if nothing
 * had happened. A run whose tick was retried elsewhere is stopped if it still runs, so the tick
 * does not run twice any longer; what it did is added to its row (status stays lost).
 */
async function settleLostRuns(o: Parameters<typeof recoverRuns>[0], report: RecoveryReport): Promise<void> {
  const db = o.jobs.database.db;
  const lost = await db.selectFrom('smart_cron_job_history').selectAll().where('status', '=', 'lost').where('node', '=', o.node).where('pid', 'is not', null).execute();
  for (const run of lost) {
    const runDir = join(o.runsDir, String(run.id));
    if (!existsSync(runDir) || existsSync(join(runDir, SETTLED))) continue;
    const job = await o.jobs.jobs.byId(run.job_id);
    if (!job || !run.pid) continue;
    const rec = adoptRecord(run, run.pid, job, runDir);
    const next = await db
      .selectFrom('smart_cron_job_history')
      .select('id')
      .where('job_id', '=', run.job_id)
      .where('scheduled_for', '=', run.scheduled_for)
      .where('attempt', '>', run.attempt)
      .orderBy('attempt')
      .executeTakeFirst();
    if (!next) {
      const back = await db
        .updateTable('smart_cron_job_history')
        .set({ status: 'running', finished_at: null, error_message: null })
        .where('id', '=', run.id)
        .where('status', '=', 'lost')
        .executeTakeFirst();
      if (Number(back.numUpdatedRows) === 0) continue;
      o.log?.(`run #${run.id} (${job.name}) was marked lost while this node was away; its process went on here and nobody took over its tick: adopted again`);
      const launched = await o.launcher.adopt(rec);
      o.dispatcher.adoptActive({ ...run, status: 'running', finished_at: null, error_message: null }, job, launched);
      report.adopted++;
      writeFileSync(join(runDir, SETTLED), '');
      continue;
    }
    const alive = run.pid_start !== null && isSameProcess(run.pid, run.pid_start);
    const launched = await o.launcher.adopt(rec);
    if (alive) launched.cancel(`run #${next.id} took over its tick`);
    const out = await launched.done;
    const what = alive
      ? `its process went on on ${o.node} until this node came back at ${iso(o.clock.now())}, and was stopped then: run #${next.id} took over its tick`
      : `its process went on on ${o.node} and ended (${out.exit_code !== null && out.exit_code !== undefined ? `exit ${out.exit_code}` : out.signal ?? out.status}) at ${out.finished_at ?? '?'}; run #${next.id} took over its tick`;
    await db
      .updateTable('smart_cron_job_history')
      .set({
        error_message: `${run.error_message ?? 'lost'}; ${what}`,
        exit_code: out.exit_code ?? null,
        signal: out.signal ?? null,
        duration_ms: out.duration_ms ?? null,
        peak_memory_mb: out.peak_memory_mb ?? null,
        memory_source: out.memory_source ?? null,
        cpu_time_ms: out.cpu_time_ms ?? null,
        output_tail: out.output_tail ?? null,
        output_bytes: out.output_bytes ?? null,
      })
      .where('id', '=', run.id)
      .where('status', '=', 'lost')
      .execute();
    o.log?.(`run #${run.id} (${job.name}): ${what}`);
    writeFileSync(join(runDir, SETTLED), '');
  }
}
