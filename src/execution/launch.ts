/**
 * The port between the Dispatcher (what to run, when) and the process layer (how):
 * the Dispatcher hands a LaunchSpec to a Launcher and gets back a Launched run whose
 * `done` promise always resolves with the run's outcome (spawn failures included).
 */
import type { RunOutcomeFields } from '../jobs/manager.js';

export interface LaunchSpec {
  runId: number;
  jobName: string;
  /** argv; with shell, one shell line. */
  argv: string[];
  shell: boolean;
  cwd: string | null;
  env: Record<string, string>;
  runAsUser: string | null;
  timeoutMs: number;
  memoryLimitMb: number | null;
  cpuPercent: number | null;
  slot: string;
  runDir: string;
  /** Hold the command until this instant (ms since the epoch); the process is prepared now. */
  startAt?: number;
}

export interface Launched {
  pid: number | null;
  /** Process start time from /proc, to tell a reused pid apart after a restart. */
  pidStart: string | null;
  logPath: string | null;
  /** Always resolves (never rejects) with the run's outcome. */
  done: Promise<RunOutcomeFields>;
  /**
   * When the command was released (ms), for a run held until its startAt; null when it never
   * started. Absent: the command started when launch() returned.
   */
  released?: Promise<number | null>;
  /** Stop the run: TERM to its group, a grace period, KILL, then its cgroup. */
  cancel(reason: string): void;
  /** Memory the run uses now, in MB (for the host check's "unused part of reservations"). */
  usedMb(): number;
}

export interface AdoptRecord {
  runId: number;
  pid: number;
  pidStart: string | null;
  runDir: string;
  startedAtMs: number;
  timeoutMs: number;
  memoryLimitMb: number | null;
}

export interface Launcher {
  launch(spec: LaunchSpec): Promise<Launched>;
  /**
   * After a daemon restart: follow a run that may still be going. Returns a Launched whose
   * `done` resolves when it ends (or at once with its recorded exit, or 'interrupted').
   */
  adopt(rec: AdoptRecord): Promise<Launched>;
}
