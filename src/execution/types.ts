/**
 * What the execution engine offers the layers above it (API, CLI through the daemon).
 * The Dispatcher implements Executor; the API is given one by the daemon.
 */
import type { SlotUsage } from '../events.js';
import type { RunRow } from '../storage/schema.js';

export interface RunRequest {
  /** Job name or id. */
  job: string | number;
  /** Extra arguments appended to the job's argv (manual runs). */
  args?: string[];
  /** Extra environment for this run only. */
  env?: Record<string, string>;
}

export interface Executor {
  /** Queue a manual run now; it goes through the same admission as scheduled runs. Returns the queued row. */
  requestRun(req: RunRequest): Promise<RunRow>;
  /** Stop a queued or running run (a running one gets TERM, grace, KILL); returns its row after. */
  cancelRun(runId: number, reason?: string): Promise<RunRow>;
  /** Live usage of this node's slots against their budgets. */
  slots(): Promise<SlotUsage[]>;
  /** Runs waiting for capacity, in the order they will start. */
  queued(): Promise<RunRow[]>;
}
