/**
 * `smart-cron run NAME` when no daemon runs for the home: a one-shot engine in this process
 * admits and runs only that run, through the same admission path, and records it.
 */
import type { RunRow } from '../storage/schema.js';
import type { App } from './app.js';
import { buildEngine } from './engine.js';

export async function runHere(app: App, runId: number, onWait?: (reason: string) => void): Promise<RunRow> {
  // reapDelayMs 0: this process ends with the run, so the run's memory cgroup is emptied and
  // removed now (waiting for writeback if need be), not left for a daemon's sweep.
  const engine = buildEngine(app, { canPlan: async () => false, runFilter: (r) => r.id === runId, reapDelayMs: 0 });
  const finished = new Promise<void>((resolve) => {
    app.jobs.on('recorded', (r) => {
      if (r.run.id === runId) resolve();
    });
  });
  engine.dispatcher.start();
  const poll = setInterval(() => engine.dispatcher.kick(), 200);
  try {
    await Promise.race([finished, waitFinal(app, runId, 200, onWait)]);
  } finally {
    clearInterval(poll);
    await engine.dispatcher.stop({ drain: true });
    engine.release();
  }
  return (await app.jobs.history.byId(runId))!;
}

/**
 * Poll a run's row until it has a final status (used when another process runs it). onWait hears
 * why the run still waits, each time the reason changes (a full slot, host memory, a pin).
 */
export async function waitFinal(app: App, runId: number, pollMs = 200, onWait?: (reason: string) => void): Promise<RunRow> {
  let said: string | null = null;
  for (;;) {
    const r = await app.jobs.history.byId(runId);
    if (r && r.status !== 'queued' && r.status !== 'running') return r;
    if (r?.status === 'queued' && r.wait_reason && r.wait_reason !== said) onWait?.((said = r.wait_reason));
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
