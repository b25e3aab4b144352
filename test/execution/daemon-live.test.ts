/** A job changed with `smart-cron jobs set` (another process) while the daemon runs takes effect within about a second. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, runCli } from '../helpers/cli.js';
import { daemonStarted, startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';

test('jobs set while the daemon runs: a new schedule, then disabling, take effect within about a second', { timeout: 240_000 }, async () => {
  const { home, slot, app: a } = await testHome('live');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  try {
    const job = (await a.jobs.registerJob({ name: 'tick', schedule: '@yearly', timezone: 'UTC', command: ['true'], slot }, { source: 'manual', byUser: true })).job;
    d = startDaemonProcess(home);
    await daemonStarted(d);

    const set = await runCli(['--home', home, 'jobs', 'set', 'tick', 'schedule=*/2 * * * * *'], { timeoutMs: 120_000 });
    assert.equal(set.code, 0, describe(set));
    const changedAt = Date.parse((await a.jobs.getJob('tick')).updated_at);
    const first = await until('a run on the new schedule', async () => (await a.jobs.history.list({ jobId: job.id, limit: 100 })).filter((r) => r.started_at).pop(), 15_000);
    const tickAt = Date.parse(first.scheduled_for);
    assert.ok(tickAt > changedAt && tickAt <= changedAt + 2000, `first tick ${first.scheduled_for}, change at ${new Date(changedAt).toISOString()}`);
    const late = Date.parse(first.started_at!) - tickAt;
    assert.ok(late <= 1500, `started ${late} ms after its tick (the daemon re-reads jobs at least every second)`);

    const off = await runCli(['--home', home, 'jobs', 'set', 'tick', 'enabled=false'], { timeoutMs: 120_000 });
    assert.equal(off.code, 0, describe(off));
    const offAt = Date.parse((await a.jobs.getJob('tick')).updated_at);
    await new Promise((r) => setTimeout(r, 4000));
    const after = (await a.jobs.history.list({ jobId: job.id, limit: 100 })).filter((r) => r.started_at && Date.parse(r.started_at) > offAt + 1500);
    assert.deepEqual(after, [], 'no run started more than 1.5 s after the job was disabled');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.output());
  } finally {
    if (d && d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await a.close();
  }
});
