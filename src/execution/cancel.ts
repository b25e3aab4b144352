/**
 * Cancelling a run, from wherever a person asks: the API of any node, the dashboard, the CLI.
 *
 * - A queued run is skipped at once, with the reason. A dispatcher claims only queued rows
 *   (queued -> running in one conditional statement), so the one that would have started it
 *   finds it gone.
 * - A running run can only be stopped by the process that holds it. The request is written on
 *   the run (`cancel_requested`, the reason), so it is seen wherever that process is: this one
 *   (`stopHere`, at once), another daemon on this host or another node (Dispatcher polls its
 *   runs' requests every second), or the daemon that adopts the run after a restart. Until the
 *   run ends it reads `cancelling` (status-label.ts); it ends `interrupted` with the reason.
 * - A finished run is a ConflictError saying so.
 */
import { iso, type Clock } from '../clock.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { HistoryRepo } from '../storage/repos/history.js';
import type { RunRow } from '../storage/schema.js';

export interface CancelOptions {
  history: HistoryRepo;
  clock: Clock;
  /** Stop the run now if this process runs it (true), else leave it to the request (false). */
  stopHere?: (run: RunRow, reason: string) => boolean;
  /** A queued run was skipped. */
  onSkipped?: (run: RunRow) => void;
}

export interface Cancelled {
  run: RunRow;
  /** skipped: it had not started; stopping: this process is stopping it; requested: its node will. */
  how: 'skipped' | 'stopping' | 'requested';
}

export async function cancelRun(o: CancelOptions, runId: number, reason: string): Promise<Cancelled> {
  // A queued run can start between the read and the write: then it is cancelled as a running one.
  for (let tries = 0; tries < 3; tries++) {
    const run = await o.history.byId(runId);
    if (!run) throw new NotFoundError(`no run with id ${runId}`, 'id');
    if (run.status === 'queued') {
      const skipped = await o.history.skipQueued(run.id, reason, iso(o.clock.now()));
      if (!skipped) continue;
      o.onSkipped?.(skipped);
      return { run: skipped, how: 'skipped' };
    }
    if (run.status === 'running') {
      const requested = await o.history.requestCancel(run.id, reason);
      if (!requested) continue;
      const here = o.stopHere?.(requested, reason) ?? false;
      return { run: requested, how: here ? 'stopping' : 'requested' };
    }
    throw new ConflictError(`run #${run.id} has already finished (status ${run.status}); nothing to cancel`, 'id');
  }
  throw new ConflictError(`run #${runId} changed state while it was being cancelled; try again`, 'id');
}
