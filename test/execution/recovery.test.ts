/**
 * Recovery after a daemon died (recovery.ts), with real processes: a run whose pid never reached
 * its history row (the daemon died between spawning the shim and storing the pid) is still
 * found by its run.json and recorded with its real exit status, not marked interrupted; a run
 * someone asked to cancel while no daemon ran is stopped by the daemon that adopts it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { hostProbe } from '../../src/daemon/engine.js';
import { cancelRun } from '../../src/execution/cancel.js';
import { Dispatcher } from '../../src/execution/dispatcher.js';
import { PortableBackend } from '../../src/execution/enforcement/portable.js';
import { LoadBalancer } from '../../src/execution/load-balancer.js';
import { ProcessLauncher } from '../../src/execution/process-launcher.js';
import { recoverRuns } from '../../src/execution/recovery.js';
import { runnerOptionsFromConfig } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { isSameProcess } from '../../src/execution/procfs.js';
import { readRunFile } from '../../src/execution/shim.js';
import { SpawnHelper } from '../../src/execution/spawn-helper.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { insertRun } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const sampler = new Sampler({ intervalMs: 50 });
const helper = SpawnHelper.create();
after(() => {
  sampler.stop();
  helper?.dispose();
});

/** A database and a runs directory, and "a daemon": a dispatcher with its launcher, made again after each "death". */
async function home() {
  const dir = tempDir('smart-cron-recovery-');
  const runsDir = join(dir, 'runs');
  const database = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  const jobs = new JobManager(database, systemClock);
  const slots = { default: { max_concurrent_jobs: 5, max_memory_mb: 1e6, max_cpu_percent: 100 } };
  const daemon = (spawner: SpawnHelper | null = helper) => {
    const launcher = new ProcessLauncher(new PortableBackend(), runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 1 << 20 }, sampler, systemClock, spawner));
    const lb = new LoadBalancer({ node: 'n1', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
    return { launcher, lb, d: new Dispatcher({ node: 'n1', jobs, lb, launcher, clock: systemClock, runsDir, maxSleepMs: 1000 }) };
  };
  return { database, jobs, runsDir, daemon };
}

test('a run whose pid never reached its row is found by its run.json after a restart and recorded with its exit status', async () => {
  const { database, jobs, runsDir, daemon } = await home();
  try {
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

test('a cancel asked for while no daemon ran, or of a run adopted since, is honoured by the daemon that adopted it', async () => {
  const { database, jobs, runsDir, daemon } = await home();
  try {
    for (const name of ['before', 'after']) {
      await jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', command: ['sh', '-c', 'echo started; sleep 60'], estimated_memory_mb: 1 }, { source: 'manual', byUser: true });
    }
    const first = daemon();
    first.d.start();
    const queued = [await first.d.requestRun({ job: 'before' }), await first.d.requestRun({ job: 'after' })];
    const rows = async () => Promise.all(queued.map(async (q) => (await jobs.history.byId(q.id))!));
    for (let i = 0; i < 250 && !(await rows()).every((r) => r.status === 'running' && r.pid); i++) await new Promise((r) => setTimeout(r, 20));
    const [early, late] = await rows();
    assert.ok(early!.pid && late!.pid, 'both runs started');
    await first.d.stop();
    first.launcher.abandonAll();

    // No daemon holds the runs now: the request waits on the run.
    const asked = await cancelRun({ history: jobs.history, clock: systemClock }, early!.id, 'not while we migrate');
    assert.equal(asked.how, 'requested');
    assert.equal((await jobs.history.byId(early!.id))!.status, 'running');

    // The next daemon, as daemon.ts starts one: recovery first, then the dispatcher.
    const second = daemon();
    const t0 = Date.now();
    assert.deepEqual(await recoverRuns({ node: 'n1', jobs, launcher: second.launcher, dispatcher: second.d, clock: systemClock, runsDir }), { adopted: 2, interrupted: 0 });
    second.d.start();
    await waitFor(() => second.d.runningCount === 1, 'the run asked to stop before the adoption is stopped on it', 20_000);
    // A request for the other adopted run, made from elsewhere (the CLI): seen within a second.
    await cancelRun({ history: jobs.history, clock: systemClock }, late!.id, 'and this one too');
    await second.d.idle();
    const [a, b] = await rows();
    assert.deepEqual([a!.status, a!.error_message], ['interrupted', 'not while we migrate']);
    assert.deepEqual([b!.status, b!.error_message], ['interrupted', 'and this one too']);
    assert.ok(Date.now() - t0 < 30_000, `stopped, not left to their minute: ${Date.now() - t0} ms`);
    await second.d.stop();
  } finally {
    await database.close();
  }
});

test('runs another node marked lost while this node was away: one nobody took over is adopted again and recorded; one whose tick was retried elsewhere is stopped, and what it did is kept', async () => {
  const { database, jobs, runsDir, daemon } = await home();
  try {
    await jobs.registerJob({ name: 'kept', schedule: '@yearly', timezone: 'UTC', command: ['sh', '-c', 'sleep 0.8; echo finished; exit 0'], estimated_memory_mb: 1 }, { source: 'manual', byUser: true });
    await jobs.registerJob({ name: 'taken', schedule: '@yearly', timezone: 'UTC', command: ['sh', '-c', 'echo started; sleep 60'], estimated_memory_mb: 1 }, { source: 'manual', byUser: true });
    const first = daemon();
    first.d.start();
    const queued = [await first.d.requestRun({ job: 'kept' }), await first.d.requestRun({ job: 'taken' })];
    const rows = async () => Promise.all(queued.map(async (q) => (await jobs.history.byId(q.id))!));
    for (let i = 0; i < 250 && !(await rows()).every((r) => r.status === 'running' && r.pid); i++) await new Promise((r) => setTimeout(r, 20));
    const [kept, taken] = await rows();
    assert.ok(kept!.pid && taken!.pid, 'both runs started');
    await waitFor(() => queued.every((q) => readRunFile(join(runsDir, String(q.id))) !== null), 'run.json is written');
    // This node "stops answering": another node marks both runs lost, and retries the second.
    await first.d.stop();
    first.launcher.abandonAll();
    for (const r of [kept!, taken!]) {
      const res = await jobs.recordExecution(r.id, { status: 'lost', error_message: 'node n1 stopped sending heartbeats', finished_at: new Date().toISOString() });
      assert.ok(res.applied);
    }
    const retry = await insertRun(database, taken!.job_id, { status: 'succeeded', node: 'n2', attempt: 2, trigger: 'retry', scheduled_for: taken!.scheduled_for });

    // n1 comes back.
    const second = daemon();
    const report = await recoverRuns({ node: 'n1', jobs, launcher: second.launcher, dispatcher: second.d, clock: systemClock, runsDir });
    assert.equal(report.adopted, 1, 'the run nobody took over is ours again');
    assert.ok(!isSameProcess(taken!.pid!, taken!.pid_start!), 'the run whose tick went to another is stopped: the tick no longer runs twice');
    const stopped = (await jobs.history.byId(taken!.id))!;
    assert.equal(stopped.status, 'lost');
    assert.match(stopped.error_message ?? '', new RegExp(`^node n1 stopped sending heartbeats; its process went on on n1 until this node came back at .*, and was stopped then: run #${retry.id} took over its tick$`));
    assert.match(stopped.output_tail ?? '', /started/, 'its output is kept');
    await second.d.idle();
    const done = (await jobs.history.byId(kept!.id))!;
    assert.deepEqual([done.status, done.exit_code, done.error_message], ['succeeded', 0, null], 'recorded as it really ended');
    assert.match(done.output_tail ?? '', /finished/);
    assert.equal((await jobs.getJob('kept')).total_executions, 1);
    // A later restart does not settle them again.
    const third = daemon();
    assert.deepEqual(await recoverRuns({ node: 'n1', jobs, launcher: third.launcher, dispatcher: third.d, clock: systemClock, runsDir }), { adopted: 0, interrupted: 0 });
    assert.equal((await jobs.history.byId(taken!.id))!.error_message, stopped.error_message);
  } finally {
    await database.close();
  }
});
