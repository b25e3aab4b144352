/**
 * `smart-cron run NAME` when no daemon runs for the home: a one-shot engine in this process
 * admits and runs only that run, through the same admission path, and records it.
 */
import { UnavailableError } from '../errors.js';
import type { RunRow } from '../storage/schema.js';
import type { App } from './app.js';
import { buildEngine, type Engine } from './engine.js';
import { runningDaemon, type DaemonState } from './state.js';

/** How long no daemon may run for the home before a wait on it gives up (a restart takes a moment). */
const DAEMON_GONE_MS = 2000;
/** The least time between two waiting lines: the reason's figures move at every admission cycle. */
const WAIT_LINE_MS = 5000;

/** An engine for the one run this process runs; `runId` says which (set once it is queued). */
export interface EngineHere {
  engine: Engine;
  runId: number;
}

/**
 * Built before the run is queued: a host that cannot run it here (execution.enforcement names a
 * backend it lacks) fails the command with nothing queued that a later daemon would start.
 */
export function engineHere(app: App): EngineHere {
  const here = { runId: -1 } as EngineHere;
  // reapDelayMs 0: this process ends with the run, so the run's memory cgroup is emptied and
  // removed now (waiting for writeback if need be), not left for a daemon's sweep.
  here.engine = buildEngine(app, { canPlan: async () => false, runFilter: (r) => r.id === here.runId, reapDelayMs: 0 });
  return here;
}

export async function runHere(app: App, runId: number, onWait?: (reason: string) => void, here: EngineHere = engineHere(app)): Promise<RunRow> {
  const { engine } = here;
  here.runId = runId;
  const finished = new Promise<void>((resolve) => {
    app.jobs.on('recorded', (r) => {
      if (r.run.id === runId) resolve();
    });
  });
  engine.dispatcher.start();
  const poll = setInterval(() => engine.dispatcher.kick(), 200);
  try {
    await Promise.race([finished, waitFinal(app, runId, { onWait })]);
  } finally {
    clearInterval(poll);
    await engine.dispatcher.stop({ drain: true });
    engine.release();
  }
  return (await app.jobs.history.byId(runId))!;
}

/**
 * Poll a run's row until it has a final status (used when another process runs it). onWait hears
 * why the run still waits when the reason changes in substance (a full slot, host memory, a pin;
 * not its figures alone), at most every few seconds. With `daemon`, the wait ends with an
 * UnavailableError when no daemon runs for the home any more: nothing would record the run.
 */
export async function waitFinal(app: App, runId: number, o: { pollMs?: number; onWait?: (reason: string) => void; daemon?: DaemonState } = {}): Promise<RunRow> {
  let said: string | null = null;
  let saidAt = -Infinity;
  let goneSince: number | null = null;
  for (;;) {
    const r = await app.jobs.history.byId(runId);
    if (r && r.status !== 'queued' && r.status !== 'running') return r;
    const now = app.clock.now();
    if (r?.status === 'queued' && r.wait_reason && gist(r.wait_reason) !== said && now - saidAt >= WAIT_LINE_MS) {
      said = gist(r.wait_reason);
      saidAt = now;
      o.onWait?.(r.wait_reason);
    }
    if (o.daemon && r) {
      goneSince = runningDaemon(app.config.home) ? null : (goneSince ?? now);
      if (goneSince !== null && now - goneSince >= DAEMON_GONE_MS) throw new UnavailableError(daemonGone(r, o.daemon), 'daemon');
    }
    await new Promise((res) => setTimeout(res, o.pollMs ?? 200));
  }
}

/** A waiting reason without its figures (MB available, jobs running): what it is about. */
function gist(reason: string): string {
  return reason.replace(/\d+(\.\d+)?/g, '#');
}

function daemonGone(r: RunRow, d: DaemonState): string {
  const gone = `the daemon (pid ${d.pid}) stopped and none runs for this home now`;
  if (r.status === 'queued') return `run #${r.id} is still queued: ${gone}; the next daemon starts it (\`smart-cron daemon\`)`;
  return `run #${r.id} is still running, unwatched: ${gone}; its process goes on, and the next daemon adopts it and records its end (\`smart-cron daemon\`, then \`smart-cron history\`)`;
}
