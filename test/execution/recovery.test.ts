/**
 * Recovery after a daemon died (recovery.ts), with real processes: a run whose pid never reached
 * its history row (the daemon died between spawning the shim and storing the pid) is still
 * found by its run.json and recorded with its real exit status, not marked interrupted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { hostProbe } from '../../src/daemon/engine.js';
import { Dispatcher } from '../../src/execution/dispatcher.js';
import { PortableBackend } from '../../src/execution/enforcement/portable.js';
import { LoadBalancer } from '../../src/execution/load-balancer.js';
import { ProcessLauncher } from '../../src/execution/process-launcher.js';
import { recoverRuns } from '../../src/execution/recovery.js';
import { runnerOptionsFromConfig } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { readRunFile } from '../../src/execution/shim.js';
import { SpawnHelper } from '../../src/execution/spawn-helper.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const sampler = new Sampler({ intervalMs: 50 });
const helper = SpawnHelper.create();
after(() => {
  sampler.stop();
  helper?.dispose();
});

test('a run whose pid never reached its row is found by its run.json after a restart and recorded with its exit status', async () => {
  const dir = tempDir('smart-cron-recovery-');
  const runsDir = join(dir, 'runs');
  const database = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  try {
    const jobs = new JobManager(database, systemClock);
    const slots = { default: { max_concurrent_jobs: 5, max_memory_mb: 1e6, max_cpu_percent: 100 } };
    const daemon = (spawner: SpawnHelper | null) => {
      const launcher = new ProcessLauncher(new PortableBackend(), runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 1 << 20 }, sampler, systemClock, spawner));
      const lb = new LoadBalancer({ node: 'n1', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
      return { launcher, lb, d: new Dispatcher({ node: 'n1', jobs, lb, launcher, clock: systemClock, runsDir, maxSleepMs: 1000 }) };
    };
    await jobs.registerJob({ name: 'slow-fail', schedule: '@yearly', timezone: 'UTC', command: ['sh', '-c', 'sleep 0.6; echo done; exit 3'], estimated_memory_mb: 1 }, { source: 'manual', byUser: true });

    // The first daemon starts the run, then "dies": it lets go of the run, and the pid it had
    // stored is wiped, as if it had died just before storing it.
    const first = daemon(helper);
    first.d.start();
    const queued = await first.d.requestRun({ job: 'slow-fail' });
    let row = queued;
    for (let i = 0; i < 200 && !(row.status === 'running' && row.pid); i++) {
      await new Promise((r) => setTimeout(r, 20));
      row = (await jobs.history.byId(queued.id))!;
    }
    assert.ok(row.pid, 'the run started');
    // run.json is written whole before the command may start (with the spawn helper, just after the pid).
    await waitFor(() => readRunFile(join(runsDir, String(row.id))) !== null, 'run.json is written');
    await first.d.stop();
    first.launcher.abandonAll();
    await jobs.history.update(row.id, { pid: null, pid_start: null });

    // The next daemon recovers it: adopted through run.json, its result recorded when it ends.
    const second = daemon(null);
    const report = await recoverRuns({ node: 'n1', jobs, launcher: second.launcher, dispatcher: second.d, clock: systemClock, runsDir });
    assert.deepEqual(report, { adopted: 1, interrupted: 0 });
    await second.d.idle();
    const done = (await jobs.history.byId(row.id))!;
    assert.equal(done.status, 'failed', done.error_message ?? '');
    assert.equal(done.exit_code, 3);
    assert.equal(done.pid, row.pid, 'the pid is back in the row');
    assert.match(done.output_tail ?? '', /done/);
  } finally {
    await database.close();
  }
});
