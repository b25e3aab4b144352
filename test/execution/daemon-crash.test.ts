/**
 * Crash safety with real processes: a daemon is killed with SIGKILL while a job runs; the next
 * daemon adopts the run and records its result (exit code from the shim) when it ends, no
 * reservation leaks, and no tick runs twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAlive } from '../../src/daemon/state.js';
import { startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';

test('kill -9 of the daemon mid-run: the next daemon adopts the run and records it; nothing leaks, no tick twice', { timeout: 240_000 }, async () => {
  const { home, slot, app: a } = await testHome('crash');
  const procs: ReturnType<typeof startDaemonProcess>[] = [];
  try {
    // One tick, some seconds ahead (a daemon starting late still runs it: it is within the 60 s grace).
    const at = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    const t = new Date(at);
    const schedule = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
    await a.jobs.registerJob(
      { name: 'long', schedule, timezone: 'UTC', shell: true, command: ['sleep 15; echo done; exit 7'], slot, estimated_memory_mb: 64 },
      { source: 'manual', byUser: true },
    );
    const d1 = startDaemonProcess(home);
    procs.push(d1);
    const run = await until('the run to start under daemon 1', async () => {
      const r = (await a.jobs.history.list({ limit: 5 })).find((x) => x.status === 'running' && x.pid);
      return r ?? (d1.child.exitCode !== null ? Promise.reject(new Error(`daemon 1 exited: ${d1.output()}`)) : null);
    }, 90_000);
    const slotRow = await a.database.db.selectFrom('smart_cron_execution_slots').selectAll().where('slot', '=', slot).executeTakeFirst();
    assert.equal(slotRow?.current_running_jobs, 1);
    d1.child.kill('SIGKILL');
    await d1.exited;
    assert.ok(isAlive(run.pid!), 'the job outlives its daemon');

    const d2 = startDaemonProcess(home);
    procs.push(d2);
    await until('daemon 2 to recover the run', async () => /recovery: 1 adopted/.test(d2.output()) || (d2.child.exitCode !== null && Promise.reject(new Error(d2.output()))), 90_000);
    const done = await until('the adopted run to be recorded', async () => {
      const r = await a.jobs.history.byId(run.id);
      return r && r.recorded === 1 ? r : null;
    }, 60_000, 250);
    assert.equal(done.status, 'failed', JSON.stringify(done));
    assert.equal(done.exit_code, 7, 'the exit code comes from the shim');
    assert.match(done.output_tail ?? '', /done/);
    assert.ok(done.duration_ms! >= 14_000, `duration ${done.duration_ms} ms`);
    assert.equal(done.started_at, run.started_at);

    // No reservation leaked: the slot rows go back to 0 once the run is recorded.
    await until('slot rows back to 0', async () => {
      const rows = await a.database.db.selectFrom('smart_cron_execution_slots').selectAll().where('slot', '=', slot).execute();
      return rows.length === 1 && rows[0]!.current_running_jobs === 0 && rows[0]!.current_memory_mb === 0;
    }, 10_000);
    // No tick ran twice: one row for the tick, one run in all, nothing running.
    const all = await a.jobs.history.list({ limit: 100 });
    assert.deepEqual(all.map((r) => [r.scheduled_for, r.attempt, r.status]), [[new Date(at).toISOString(), 1, 'failed']]);
    const job = await a.jobs.getJob('long');
    assert.equal(job.total_executions, 1);
    assert.equal(job.last_exit_code, 7);

    // SIGTERM once the daemon has started (its signal handlers are installed by then).
    await until('daemon 2 to have started', async () => /daemon started/.test(d2.output()), 120_000);
    d2.child.kill('SIGTERM');
    assert.equal(await d2.exited, 0, d2.output());
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await a.close();
  }
});

test('kill -9 of the daemon while a run is prepared ahead of its instant: it still starts at the instant, once, and the next daemon records it', { timeout: 240_000 }, async () => {
  // A long start lead, so that the run is prepared well before its tick even on a slow machine.
  const { home, slot, app: a } = await testHome('lead', 'execution: { start_lead_ms: 10000 }\n');
  const procs: ReturnType<typeof startDaemonProcess>[] = [];
  try {
    const at = Math.ceil((Date.now() + 40_000) / 1000) * 1000;
    const t = new Date(at);
    const schedule = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
    await a.jobs.registerJob({ name: 'on-time', schedule, timezone: 'UTC', command: ['date', '+%s%N'], slot, estimated_memory_mb: 16 }, { source: 'manual', byUser: true });
    const d1 = startDaemonProcess(home);
    procs.push(d1);
    const run = await until('the run to be prepared under daemon 1', async () => {
      const r = (await a.jobs.history.list({ limit: 5 })).find((x) => x.status === 'running' && x.pid);
      return r ?? (d1.child.exitCode !== null ? Promise.reject(new Error(`daemon 1 exited: ${d1.output()}`)) : null);
    }, 60_000);
    assert.ok(Date.now() < at - 1000, `daemon 1 prepared the run only ${at - Date.now()} ms before its tick (too slow a start to test this)`);
    assert.equal(run.started_at, new Date(at).toISOString(), 'the row says the run starts at its tick');
    d1.child.kill('SIGKILL');
    await d1.exited;
    assert.ok(isAlive(run.pid!), 'the prepared run outlives its daemon');

    const d2 = startDaemonProcess(home);
    procs.push(d2);
    const done = await until('the run to be recorded by daemon 2', async () => {
      const r = await a.jobs.history.byId(run.id);
      return r && r.recorded === 1 ? r : d2.child.exitCode !== null ? Promise.reject(new Error(d2.output())) : null;
    }, 120_000, 250);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    const began = Number(BigInt((done.output_tail ?? '').trim()) / 1_000_000n);
    assert.ok(began >= at && began < at + 2000, `the command began ${began - at} ms after its tick`);
    const all = await a.jobs.history.list({ limit: 100 });
    assert.deepEqual(all.map((r) => [r.scheduled_for, r.attempt, r.status]), [[new Date(at).toISOString(), 1, 'succeeded']], 'one run of the tick');
    // SIGTERM once the daemon has started (its signal handlers are installed by then).
    await until('daemon 2 to have started', async () => /daemon started/.test(d2.output()), 120_000);
    d2.child.kill('SIGTERM');
    assert.equal(await d2.exited, 0, d2.output());
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await a.close();
  }
});
