/**
 * A person changes their mind while the daemon has already committed a run, with a real daemon
 * process and real commands: a job disabled after its tick's run was prepared (the start lead)
 * does not start, and its tick is recorded as skipped; a job removed while its run goes stops
 * that run (it would have nowhere to record its result), and the daemon says so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from '../../src/daemon/state.js';
import { queueManualRun } from '../../src/execution/manual.js';
import { daemonStarted, startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';
import { tempDir } from '../helpers/tmp.js';

test('disabled within the start lead: the prepared run never starts and its tick is skipped; removed while running: the run is stopped', { timeout: 240_000 }, async () => {
  // A long start lead, so the run is prepared well before its tick even on a slow machine.
  const { home, slot, app: a } = await testHome('second', 'execution: { start_lead_ms: 10000 }\n');
  const marks = tempDir('smart-cron-second-');
  const d = startDaemonProcess(home);
  try {
    await daemonStarted(d);
    const at = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
    const t = new Date(at);
    const schedule = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
    const ran = join(marks, 'ran');
    await a.jobs.registerJob({ name: 'changed-mind', schedule, timezone: 'UTC', command: ['touch', ran], slot, estimated_memory_mb: 16 }, { source: 'manual', byUser: true });
    const run = await until('the run to be prepared ahead of its tick', async () => {
      const r = (await a.jobs.history.list({ limit: 5 })).find((x) => x.status === 'running' && x.pid);
      return r ?? (d.child.exitCode !== null ? Promise.reject(new Error(`daemon exited: ${d.output()}`)) : null);
    }, 60_000);
    assert.ok(Date.now() < at - 1000, `prepared only ${at - Date.now()} ms before its tick (too slow a machine to test this)`);
    await a.jobs.disableJob('changed-mind');
    const done = await until('the prepared run to be recorded', async () => {
      const r = await a.jobs.history.byId(run.id);
      return r && r.recorded === 1 ? r : null;
    }, at - Date.now() + 30_000, 250);
    assert.equal(done.status, 'skipped', JSON.stringify(done));
    assert.equal(done.skip_reason, 'job was disabled before the run could start');
    assert.equal(done.started_at, null, 'it never started');
    assert.deepEqual([done.duration_ms, done.exit_code, done.peak_memory_mb, done.cpu_time_ms], [null, null, null, null], 'nothing measured of a run that never ran');
    assert.equal(existsSync(ran), false, 'the command never ran');
    assert.ok(!isAlive(run.pid!), 'nothing of the prepared run is left');

    // Removed while its run goes: the run is stopped, not left to run unrecorded.
    await a.jobs.registerJob({ name: 'removed-mid-run', schedule: '@yearly', timezone: 'UTC', command: ['sleep', '60'], slot, estimated_memory_mb: 16 }, { source: 'manual', byUser: true });
    await queueManualRun(a.jobs, a.clock, { job: 'removed-mid-run' }); // as `smart-cron run` asks a running daemon
    const going = await until('the manual run to start', async () => (await a.jobs.history.list({ limit: 5 })).find((x) => x.status === 'running' && x.pid && x.id !== run.id), 60_000);
    await a.jobs.removeJob('removed-mid-run');
    await until('the daemon to stop the run of the removed job', async () => !isAlive(going.pid!), 20_000, 100);
    await until('the daemon to say so', async () => new RegExp(`run #${going.id}: its job was removed; stopping it`).test(d.output()), 10_000);

    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.output());
  } finally {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await a.close();
  }
});
