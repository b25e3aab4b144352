/**
 * The Dispatcher with real processes (issue #3's acceptance, in-process): the seed's story —
 * a burst of memory-hungry jobs due at one tick into a slot with a memory budget — never
 * reserves past the budget, loses no run and measures each run's peak; a run past its
 * memory limit is killed and recorded while another job carries on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../src/clock.js';
import type { SlotBudget } from '../../src/config/schema.js';
import { Dispatcher } from '../../src/execution/dispatcher.js';
import { createBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import type { EnforcementBackend } from '../../src/execution/enforcement/types.js';
import { LoadBalancer } from '../../src/execution/load-balancer.js';
import { ProcessLauncher } from '../../src/execution/process-launcher.js';
import { runnerOptionsFromConfig } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { hostProbe, kernelSlotLimits } from '../../src/daemon/engine.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase, type Database } from '../../src/storage/database.js';
import type { RunRow } from '../../src/storage/schema.js';
import { tempDir } from '../helpers/tmp.js';
import { testCgroup } from '../helpers/cgroups.js';

const HOLD = fileURLToPath(new URL('../fixtures/exec-core/hold-mb.sh', import.meta.url));
const probe = probeHost();
const backends: EnforcementBackend[] = [];
const sampler = new Sampler({ intervalMs: 20 });
after(() => {
  sampler.stop();
  for (const b of backends) b.dispose();
});

/** cgroup v1/v2 under a group of our own (never the daemon's "smart-cron"), else portable. */
function backend(): EnforcementBackend {
  const name = probe.cgroup2.ok ? 'cgroup2' : probe.cgroup1.ok ? 'cgroup1' : 'portable';
  const b = createBackend(name, { groupName: testCgroup(`exec-${backends.length}`) }, probe);
  backends.push(b);
  return b;
}

async function engine(slots: Record<string, SlotBudget>) {
  const dir = tempDir('smart-cron-real-');
  const database: Database = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  const jobs = new JobManager(database, systemClock);
  const b = backend();
  b.configureSlots(kernelSlotLimits(slots)); // as the daemon does: the kernel limit sits above the admission budget
  const launcher = new ProcessLauncher(b, runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 8192, log_max_bytes: 1 << 20 }, sampler));
  const lb = new LoadBalancer({ node: 'n1', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
  const d = new Dispatcher({ node: 'n1', jobs, lb, launcher, clock: systemClock, runsDir: join(dir, 'runs'), maxSleepMs: 1000 });
  jobs.on('changed', () => d.kick());
  return { dir, database, jobs, lb, d, backend: b };
}

/** A 6-field cron line for one second, `aheadMs` from now (UTC). */
function onceAt(aheadMs: number): { schedule: string; at: number } {
  const at = Math.ceil((Date.now() + aheadMs) / 1000) * 1000;
  const t = new Date(at);
  return { schedule: `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`, at };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("the seed's story: a burst of memory-hungry jobs due at one tick stays inside the slot's memory budget; none lost", async () => {
  const BUDGET = 600;
  const e = await engine({ default: { max_concurrent_jobs: 5, max_memory_mb: BUDGET, max_cpu_percent: 100 } });
  const sizes = [150, 200, 250, 300, 150, 200, 250, 100]; // 1600 MB in all: plain cron would start all of it at once
  const { schedule, at } = onceAt(2500);
  for (const [i, mb] of sizes.entries()) {
    await e.jobs.registerJob(
      { name: `hungry-${i}`, schedule, timezone: 'UTC', command: [HOLD, String(mb), '1'], estimated_memory_mb: mb, estimated_cpu_percent: 5, timeout_seconds: 60 },
      { source: 'manual', byUser: true },
    );
  }
  e.d.start();
  let maxReserved = 0;
  let maxRows = 0;
  let maxJobs = 0;
  let sampling = true;
  const sampleLoop = (async () => {
    while (sampling) {
      const u = e.lb.usage('default');
      maxReserved = Math.max(maxReserved, u.memoryMb);
      maxJobs = Math.max(maxJobs, u.jobs);
      const row = await e.database.db.selectFrom('smart_cron_execution_slots').selectAll().where('slot', '=', 'default').executeTakeFirst();
      if (row) maxRows = Math.max(maxRows, row.current_memory_mb);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const rows = await until(
      'all 8 runs recorded',
      async () => {
        const r = await e.database.db.selectFrom('smart_cron_job_history').selectAll().execute();
        return r.length === sizes.length && r.every((x) => x.recorded === 1) ? r : null;
      },
      90_000,
    );
    sampling = false;
    await sampleLoop;
    const started = rows.map((r) => Date.parse(r.started_at!));
    const finished = rows.map((r) => Date.parse(r.finished_at!));
    assert.ok(Math.min(...started) >= at, 'nothing started before its tick');
    assert.ok(maxReserved <= BUDGET, `reservations peaked at ${maxReserved} MB > ${BUDGET} MB`);
    assert.ok(maxRows <= BUDGET, `slot rows showed ${maxRows} MB > ${BUDGET} MB`);
    assert.ok(maxReserved >= 450, `the budget was used (${maxReserved} MB at most): runs did go side by side`);
    // Reservations as recorded: at any instant, the sum over runs running then is within the budget.
    for (const r of rows) {
      const t = Date.parse(r.started_at!);
      const inflight = rows.filter((x) => Date.parse(x.started_at!) <= t && Date.parse(x.finished_at!) > t);
      const sum = inflight.reduce((s, x) => s + (x.reservation_mb ?? 0), 0);
      assert.ok(sum <= BUDGET, `at ${r.started_at}: ${sum} MB reserved by ${inflight.length} runs`);
    }
    const byName = new Map<string, RunRow>();
    for (const r of rows) byName.set((await e.jobs.jobs.byId(r.job_id))!.name, r);
    for (const [i, mb] of sizes.entries()) {
      const r = byName.get(`hungry-${i}`)!;
      assert.equal(r.status, 'succeeded', `hungry-${i}: ${r.status} ${r.error_message ?? ''} ${r.output_tail ?? ''}`);
      assert.equal(r.reservation_mb, mb);
      assert.ok(r.peak_memory_mb !== null, `hungry-${i}: a peak was measured`);
      // cgroup peaks are exact (N MB plus the shell, dd and sleep); sampled ones may miss a little.
      const lo = r.memory_source === 'cgroup' ? mb : mb * 0.8;
      assert.ok(r.peak_memory_mb! >= lo && r.peak_memory_mb! <= mb + 25, `hungry-${i}: peak ${r.peak_memory_mb} MB (${r.memory_source}) for ${mb} MB`);
    }
    const makespan = Math.max(...finished) - Math.min(...started);
    for (const r of rows) console.log(`# run ${r.id}: ${r.reservation_mb} MB start +${Date.parse(r.started_at!) - at} ms dur ${r.duration_ms} ms peak ${r.peak_memory_mb} (${r.memory_source})`);
    console.log(`# burst: ${sizes.length} runs, reservations peaked at ${maxReserved} MB of ${BUDGET}, ${maxJobs} at once, makespan ${makespan} ms`);
    // Slot rows back to zero.
    await until('slot rows back to 0', async () => {
      const r = await e.database.db.selectFrom('smart_cron_execution_slots').selectAll().execute();
      return r.length > 0 && r.every((x) => x.current_running_jobs === 0 && x.current_memory_mb === 0);
    }, 5000);
  } finally {
    sampling = false;
    await sampleLoop;
    await e.d.stop({ drain: true });
    await e.database.close();
  }
});

test('a job past its memory_limit_mb is killed and recorded as memory_limit/oom_killed; another job carries on', async () => {
  const e = await engine({ default: { max_concurrent_jobs: 5, max_memory_mb: 4096, max_cpu_percent: 100 } });
  try {
    await e.jobs.registerJob(
      { name: 'greedy', schedule: '@yearly', timezone: 'UTC', command: [HOLD, '300', '3'], estimated_memory_mb: 50, memory_limit_mb: 100, timeout_seconds: 60 },
      { source: 'manual', byUser: true },
    );
    await e.jobs.registerJob(
      { name: 'steady', schedule: '@yearly', timezone: 'UTC', command: [HOLD, '50', '3'], estimated_memory_mb: 60, timeout_seconds: 60 },
      { source: 'manual', byUser: true },
    );
    e.d.start();
    const greedy = await e.d.requestRun({ job: 'greedy' });
    const steady = await e.d.requestRun({ job: 'steady' });
    const done = async (id: number) => until(`run #${id}`, async () => {
      const r = await e.jobs.history.byId(id);
      return r && r.recorded === 1 ? r : null;
    }, 60_000);
    const g = await done(greedy.id);
    const s = await done(steady.id);
    assert.ok(['memory_limit', 'oom_killed'].includes(g.status), `greedy: ${g.status} (${g.error_message})`);
    assert.ok(g.duration_ms! < 2900, `killed early, not after its 3 s hold (${g.duration_ms} ms)`);
    assert.equal(s.status, 'succeeded', `steady: ${s.status} ${s.error_message ?? ''}`);
    assert.ok(s.duration_ms! >= 2900);
    const job = await e.jobs.getJob('greedy');
    assert.equal(job.failed_executions, 1);
    assert.equal(job.last_status, g.status);
  } finally {
    await e.d.stop({ drain: true });
    await e.database.close();
  }
});

test('a scheduled tick prepared ahead that cannot start (its working directory is gone) is failed with no start time, never "started" after it finished', async () => {
  const e = await engine({ default: { max_concurrent_jobs: 2, max_memory_mb: 1024, max_cpu_percent: 100 } });
  try {
    const { schedule, at } = onceAt(2500);
    const { job } = await e.jobs.registerJob({ name: 'nowhere', schedule, timezone: 'UTC', command: ['true'], working_dir: join(e.dir, 'gone'), timeout_seconds: 10 }, { source: 'manual', byUser: true });
    e.d.start();
    const run = await until('the tick recorded', async () => (await e.jobs.history.list({ jobId: job.id })).find((r) => r.recorded === 1), 15_000);
    assert.equal(run.status, 'failed');
    assert.match(run.error_message ?? '', /working directory .*gone: does not exist/);
    assert.equal(run.scheduled_for, new Date(at).toISOString());
    assert.equal(run.started_at, null, `never started (started_at ${run.started_at}, finished_at ${run.finished_at})`);
    assert.ok(run.finished_at);
  } finally {
    await e.d.stop({ drain: true });
    await e.database.close();
  }
});
