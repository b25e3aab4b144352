/**
 * The real Launcher: runs go through the Runner under the chosen enforcement backend.
 * Translates between the Dispatcher's port (launch.ts) and the Runner's API (runner.ts).
 */
import { iso } from '../clock.js';
import type { RunOutcomeFields } from '../jobs/manager.js';
import type { EnforcementBackend } from './enforcement/types.js';
import type { AdoptRecord, Launched, Launcher, LaunchSpec } from './launch.js';
import { adoptRun, collectFinishedRun, startRun, type RunHandle, type RunnerOptions, type RunOutcome } from './runner.js';

export function outcomeFields(o: RunOutcome): RunOutcomeFields {
  return {
    status: o.status,
    finished_at: iso(o.finishedAt),
    duration_ms: o.durationMs,
    exit_code: o.exitCode,
    signal: o.signal,
    peak_memory_mb: o.peakMemoryMb,
    memory_source: o.memorySource,
    cpu_time_ms: o.cpuTimeMs,
    cpu_percent: o.cpuPercent,
    output_tail: o.outputTail,
    output_bytes: o.outputBytes,
    output_truncated: o.outputTruncated ? 1 : 0,
    log_path: o.logPath,
    error_message: o.errorMessage,
    ...(o.started ? {} : { started_at: null }),
  };
}

export class ProcessLauncher implements Launcher {
  private readonly handles = new Set<RunHandle>();

  constructor(
    private readonly backend: EnforcementBackend,
    private readonly opts: RunnerOptions,
  ) {}

  async launch(spec: LaunchSpec): Promise<Launched> {
    const h = startRun(
      {
        runId: spec.runId,
        jobName: spec.jobName,
        argv: spec.argv,
        shell: spec.shell,
        cwd: spec.cwd ?? undefined,
        env: spec.env,
        runAsUser: spec.runAsUser,
        timeoutMs: spec.timeoutMs,
        memoryLimitMb: spec.memoryLimitMb,
        cpuPercent: spec.cpuPercent,
        slot: spec.slot,
        runDir: spec.runDir,
        startAt: spec.startAt,
      },
      this.backend,
      this.opts,
    );
    await h.ready;
    return this.wrap(h);
  }

  async adopt(rec: AdoptRecord): Promise<Launched> {
    const record = { runId: rec.runId, pid: rec.pid, pidStart: rec.pidStart ?? '', runDir: rec.runDir };
    const h = rec.pidStart ? adoptRun(record, this.backend, this.opts) : null;
    if (h) return this.wrap(h);
    const outcome = collectFinishedRun(record, this.opts).then(outcomeFields, (e: Error) => ({
      status: 'interrupted' as const,
      error_message: `the run's result could not be read after a restart: ${e.message}`,
    }));
    return { pid: rec.pid, pidStart: rec.pidStart, logPath: null, done: outcome, cancel: () => {}, usedMb: () => 0 };
  }

  private wrap(h: RunHandle): Launched {
    this.handles.add(h);
    const done = h.done.then(outcomeFields).finally(() => this.handles.delete(h));
    return {
      pid: h.pid,
      pidStart: h.pidStart,
      logPath: h.logPath,
      done,
      released: h.released,
      cancel: (reason) => h.cancel(reason),
      usedMb: () => h.currentUsage().memoryMb,
    };
  }

  /** Stop supervising every run without touching its processes: the next daemon adopts them. */
  abandonAll(): void {
    for (const h of this.handles) h.abandon();
    this.handles.clear();
  }
}
