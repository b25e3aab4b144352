/**
 * A daemon stopped (SIGTERM's path: stop with a grace period) while a run goes on: the run keeps
 * its slot cgroup and its own, the next daemon adopts and records it, and the slot cgroups nothing
 * runs in are removed. Two real daemons in this process, one after the other, on one home.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon } from '../../src/daemon/daemon.js';
import { queueManualRun } from '../../src/execution/manual.js';
import { cgroupRoots, until, writeHome } from '../fixtures/exec-core/daemon-proc.js';
import { tempDir } from '../helpers/tmp.js';

test('stopped while a run goes on: the run keeps its cgroups, the next daemon records it; empty slot cgroups are removed', { timeout: 120_000 }, async () => {
  const home = join(tempDir('smart-cron-stop-'), 'home');
  mkdirSync(home);
  const slot = `stop${process.pid}`;
  writeHome(home, slot);
  const logs1: string[] = [];
  const d1 = await startDaemon({ home, api: false, log: (m) => logs1.push(m) });
  let d2: Awaited<ReturnType<typeof startDaemon>> | null = null;
  try {
    const roots = cgroupRoots(logs1.join('\n'));
    if (!logs1.some((l) => l.includes('enforcement portable'))) assert.ok(roots.length > 0, `no cgroup paths in: ${logs1.join('\n')}`);
    await d1.app.jobs.registerJob({ name: 'long', schedule: '@yearly', timezone: 'UTC', command: ['sleep', '2'], slot }, { source: 'manual', byUser: true });
    const queued = await queueManualRun(d1.app.jobs, d1.app.clock, { job: 'long' });
    d1.dispatcher.kick();
    await until('the run to start', async () => (await d1.app.jobs.history.byId(queued.id))?.pid, 30_000);

    await d1.stop(100); // the run (2 s) outlives the grace period
    assert.ok(logs1.some((l) => /1 run\(s\) still running: the next daemon adopts them/.test(l)), logs1.join('\n'));
    for (const root of roots) {
      assert.ok(existsSync(join(root, slot)), `${join(root, slot)} (a run is in it) was removed`);
      assert.equal(existsSync(join(root, 'default')), false, `${join(root, 'default')} (nothing runs in it) is left`);
    }

    const logs2: string[] = [];
    d2 = await startDaemon({ home, api: false, log: (m) => logs2.push(m) });
    const done = await until(
      'the adopted run to be recorded',
      async () => {
        const r = await d2!.app.jobs.history.byId(queued.id);
        return r && r.status !== 'running' && r.recorded ? r : null;
      },
      30_000,
    );
    assert.equal(done.status, 'succeeded', done.error_message ?? '');
    assert.equal(done.exit_code, 0);
    assert.ok(logs2.some((l) => /recovery: 1 adopted/.test(l)), logs2.join('\n'));
    await d2.stop();
    d2 = null;
    for (const root of roots) assert.equal(existsSync(root), false, `${root} is left after the second daemon stopped`);
  } finally {
    await d2?.stop();
    await d1.stop();
  }
});
