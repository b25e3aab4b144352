/**
 * The Dispatcher in virtual time on a real SQLite file (runs launched by ScriptedLauncher, which
 * starts no process and exists only to control time): event-driven admission, priority order,
 * a blocked head holds its slot, disabled jobs, starting deadlines, live job changes, reservations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { sql } from 'kysely';
import { iso } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import type { RunRow } from '../../src/storage/schema.js';
import { harness, T0 } from '../fixtures/exec-core/harness.js';
import { cancelRun } from '../../src/execution/cancel.js';
import { statusLabel } from '../../src/cli/status-label.js';

const MIN = 60_000;
const one = { default: { max_concurrent_jobs: 1, max_memory_mb: 1e6, max_cpu_percent: 100 } };

test('a queued run starts the moment capacity frees, not on the next poll', async () => {
  // maxSleepMs of an hour: only the end of the first run can wake the dispatcher.
  const h = await harness({ slots: one, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'a', schedule: '1 12 * * *' });
    await h.add({ name: 'b', schedule: '1 12 * * *' });
    h.d.start();
    await h.quiesce();
    await h.clock.advance(30_000); // 12:01:00
    await h.quiesce();
    assert.equal(h.launcher.running.length, 1);
    const first = h.launcher.running[0]!;
    await h.clock.advance(12_345);
    const endAt = h.clock.now();
    h.launcher.finish(first.spec.runId);
    await h.quiesce(); // no virtual time passes
    assert.equal(h.launcher.running.length, 1);
    const second = h.launcher.running[0]!;
    assert.notEqual(second.spec.runId, first.spec.runId);
    assert.equal(second.startedAt, endAt);
    const row = (await h.jobs.history.byId(second.spec.runId))!;
    assert.equal(row.started_at, iso(endAt));
    assert.equal(row.wait_ms, 12_345);
    assert.equal(row.wait_reason, null);
  } finally {
    await h.close();
  }
});

test('priority order under contention: critical, high, medium, low; older first within a class', async () => {
  const h = await harness({ slots: one, maxSleepMs: 3600_000 });
  try {
    // All due at the same tick; registration order is deliberately not the priority order.
    const names: [string, 'critical' | 'high' | 'medium' | 'low'][] = [
      ['low-1', 'low'],
      ['medium-1', 'medium'],
      ['high-1', 'high'],
      ['critical-1', 'critical'],
      ['medium-2', 'medium'],
      ['low-2', 'low'],
    ];
    for (const [name, priority] of names) await h.add({ name, priority, schedule: '1 12 * * *' });
    // A manual critical run queued earlier than the tick goes first of all.
    h.d.start();
    await h.quiesce();
    await h.d.requestRun({ job: 'low-2' }); // manual, low: queued at 12:00:30, older than the tick's runs
    await h.quiesce();
    const order: string[] = [];
    const byId = async (id: number) => (await h.jobs.jobs.byId((await h.jobs.history.byId(id))!.job_id))!.name;
    order.push(await byId(h.launcher.running[0]!.spec.runId)); // the manual run started at once (slot was free)
    h.launcher.finish(h.launcher.running[0]!.spec.runId);
    await h.quiesce();
    await h.clock.advance(30_000); // 12:01: six runs queue at once
    await h.quiesce();
    // No run could start in a full slot: the five that wait all say that, not "behind run #N".
    const waiting = (await h.runs()).filter((r) => r.status === 'queued');
    assert.deepEqual(waiting.map((r) => r.wait_reason), Array(5).fill('slot default full: 1/1 jobs running'));
    for (let i = 0; i < 6; i++) {
      assert.equal(h.launcher.running.length, 1, `one at a time (${i})`);
      const r = h.launcher.running[0]!;
      order.push(await byId(r.spec.runId));
      await h.clock.advance(1000);
      h.launcher.finish(r.spec.runId);
      await h.quiesce();
    }
    assert.deepEqual(order, ['low-2', 'critical-1', 'high-1', 'medium-1', 'medium-2', 'low-1', 'low-2']);
    // Those that waited say why while they waited (the slot was full).
    const rows = await h.runs();
    assert.ok(rows.filter((r) => r.trigger === 'schedule').every((r) => r.status === 'succeeded'));
  } finally {
    await h.close();
  }
});

test('a run that does not fit its slot holds back the slot’s later runs (no starving big jobs), other slots go on', async () => {
  const slots = {
    default: { max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100 },
    light: { max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100 },
  };
  const h = await harness({ slots, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'running-600', estimated_memory_mb: 600, slot: 'default', schedule: '1 12 * * *', priority: 'low' });
    await h.add({ name: 'big-500', estimated_memory_mb: 500, slot: 'default', schedule: '2 12 * * *', priority: 'high' });
    await h.add({ name: 'small-100', estimated_memory_mb: 100, slot: 'default', schedule: '2 12 * * *', priority: 'medium' });
    await h.add({ name: 'other-slot', estimated_memory_mb: 100, slot: 'light', schedule: '2 12 * * *', priority: 'low' });
    h.d.start();
    await h.step(30_000); // 12:01
    await h.step(MIN); // 12:02
    const status = async (n: string) => (await h.runs(n)).map((r) => r.status);
    assert.deepEqual(await status('running-600'), ['running']);
    assert.deepEqual(await status('big-500'), ['queued']);
    assert.deepEqual(await status('small-100'), ['queued'], '100 MB would fit, but the 500 MB run ahead of it waits first');
    assert.deepEqual(await status('other-slot'), ['running']);
    const big = (await h.runs('big-500'))[0]!;
    assert.match(big.wait_reason ?? '', /slot default memory: 600 MB reserved \+ 500 MB > 1000 MB budget/);
    assert.deepEqual(h.lb.usage('default'), { jobs: 1, memoryMb: 600, cpuPercent: 10 });
    // The 600 MB run ends: both start, big first.
    h.launcher.finish((await h.runs('running-600'))[0]!.id);
    await h.quiesce();
    assert.deepEqual(await status('big-500'), ['running']);
    assert.deepEqual(await status('small-100'), ['running']);
    assert.deepEqual(h.lb.usage('default'), { jobs: 2, memoryMb: 600, cpuPercent: 20 });
    // The slot rows follow the live reservations.
    const rows = await h.database.db.selectFrom('smart_cron_execution_slots').selectAll().orderBy('slot').execute();
    assert.deepEqual(rows.map((r) => [r.slot, r.current_running_jobs, r.current_memory_mb]), [
      ['default', 2, 600],
      ['light', 1, 100],
    ]);
    for (const r of h.launcher.running) h.launcher.finish(r.spec.runId, { status: 'failed', exit_code: 3, peak_memory_mb: 5000 });
    await h.quiesce();
    // Released exactly what was reserved, whatever the runs used.
    assert.deepEqual(h.lb.usage('default'), { jobs: 0, memoryMb: 0, cpuPercent: 0 });
    const after = await h.database.db.selectFrom('smart_cron_execution_slots').selectAll().execute();
    assert.ok(after.every((r) => r.current_running_jobs === 0 && r.current_memory_mb === 0 && r.current_cpu_percent === 0));
  } finally {
    await h.close();
  }
});

test('a run larger than the host could ever give is skipped saying why, and holds back nothing (before, every slot waited behind it for ever)', async () => {
  const slots = {
    heavy: { max_concurrent_jobs: 2, max_memory_mb: 64_000, max_cpu_percent: 100 },
    light: { max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100 },
  };
  const h = await harness({ slots, maxSleepMs: 3600_000, host: { memAvailableMb: () => 20_000, memoryPressure: () => null, memTotalMb: () => 24_000 } });
  try {
    await h.add({ name: 'huge', estimated_memory_mb: 30_000, slot: 'heavy', schedule: '2 12 * * *', priority: 'critical' });
    await h.add({ name: 'tick', estimated_memory_mb: 5, slot: 'light', schedule: '2 12 * * *', priority: 'low' });
    h.d.start();
    await h.step(30_000);
    await h.step(MIN); // 12:02
    const [huge] = await h.runs('huge');
    assert.equal(huge!.status, 'skipped');
    assert.match(huge!.skip_reason ?? '', /^needs 30000 MB of memory \(more than node "n1" can ever give: 24000 MB of RAM - 0 MB host reserve = 24000 MB\)$/);
    assert.deepEqual((await h.runs('tick')).map((r) => r.status), ['running'], 'the small job in another slot is not held back');
  } finally {
    await h.close();
  }
});

test('runs due at the same tick fill the room around one that does not fit, largest first; a later tick still waits behind it', async () => {
  const slots = { default: { max_concurrent_jobs: 10, max_memory_mb: 1000, max_cpu_percent: 100 } };
  const h = await harness({ slots, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'running-600', estimated_memory_mb: 600, schedule: '1 12 * * *' });
    // Registered smallest first: the queue puts the largest of the tick first whatever the order.
    await h.add({ name: 'small-100', estimated_memory_mb: 100, schedule: '2 12 * * *' });
    await h.add({ name: 'small-200', estimated_memory_mb: 200, schedule: '2 12 * * *' });
    await h.add({ name: 'big-500', estimated_memory_mb: 500, schedule: '2 12 * * *' });
    await h.add({ name: 'next-tick-50', estimated_memory_mb: 50, schedule: '3 12 * * *' });
    h.d.start();
    await h.step(30_000); // 12:01
    await h.step(MIN); // 12:02
    const status = async (n: string) => (await h.runs(n)).map((r) => r.status);
    assert.deepEqual(await status('big-500'), ['queued']);
    assert.deepEqual(await status('small-200'), ['running'], 'a peer of the blocked run uses the room it leaves');
    assert.deepEqual(await status('small-100'), ['running']);
    assert.deepEqual(h.lb.usage('default').memoryMb, 900);
    await h.step(MIN); // 12:03: 50 MB would fit, but this run is younger than the one waiting
    assert.deepEqual(await status('next-tick-50'), ['queued']);
    const big = (await h.runs('big-500'))[0]!;
    assert.match((await h.runs('next-tick-50'))[0]!.wait_reason ?? '', new RegExp(`waits its turn behind run #${big.id} \\(big-500\\), which does not fit: slot default memory`));
    // The small ones end first: still no room for 500 MB beside the 600 MB run; nothing else starts.
    for (const n of ['small-100', 'small-200']) h.launcher.finish((await h.runs(n))[0]!.id);
    await h.quiesce();
    assert.deepEqual(await status('next-tick-50'), ['queued']);
    // The 600 MB run ends: the big run starts, then the younger one behind it.
    h.launcher.finish((await h.runs('running-600'))[0]!.id);
    await h.quiesce();
    assert.deepEqual(await status('big-500'), ['running']);
    assert.deepEqual(await status('next-tick-50'), ['running']);
    const order = h.launcher.order.map((id) => id);
    assert.ok(order.indexOf(big.id) < order.indexOf((await h.runs('next-tick-50'))[0]!.id));
  } finally {
    await h.close();
  }
});

test('among runs due at the same tick, the one with the most memory × duration goes first: learned, else stated', async () => {
  const h = await harness({ slots: one, maxSleepMs: 3600_000 });
  try {
    // Same reservation; durations differ. A measured job's learned duration wins over what its
    // definition states; a job never measured counts with its stated duration, and one with
    // neither as the average of its peers still waiting whose duration is known.
    const jobs = [
      ['short', 10, undefined],
      ['unmeasured', null, undefined],
      ['stated-long', null, 550],
      ['long', 600, undefined],
      ['measured-short', 5, 10_000],
      ['longish', 500, undefined],
    ] as const;
    for (const [name, learned, stated] of jobs) {
      await h.add({ name, estimated_memory_mb: 100, schedule: '1 12 * * *', ...(stated ? { estimated_duration_seconds: stated } : {}) });
      if (learned !== null) await h.jobs.jobs.update((await h.jobs.jobs.byName(name))!.id, { baseline_duration_seconds: learned });
    }
    h.d.start();
    await h.step(30_000); // 12:01: one at a time
    const nameOf = async (runId: number) => (await h.jobs.jobs.byId((await h.jobs.history.byId(runId))!.job_id))!.name;
    assert.equal(await nameOf(h.launcher.running[0]!.spec.runId), 'long');
    // What waits, in the order it will start (the API's and CLI's queue): 550 s stated, 500 s,
    // (550 + 10 + 5 + 500) / 4, 10 s, 5 s (its stated 10,000 s is overruled by its runs).
    const waiting = await Promise.all((await h.d.queued()).map((r) => nameOf(r.id)));
    assert.deepEqual(waiting, ['stated-long', 'longish', 'unmeasured', 'short', 'measured-short']);
  } finally {
    await h.close();
  }
});

test('a disabled job’s queued scheduled run is skipped; a manual run of a disabled job still runs', async () => {
  const h = await harness({ slots: one, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'blocker', schedule: '1 12 * * *', priority: 'critical' });
    await h.add({ name: 'later', schedule: '1 12 * * *' });
    h.d.start();
    await h.step(30_000);
    assert.deepEqual((await h.runs('later')).map((r) => r.status), ['queued']);
    await h.jobs.disableJob('later');
    const manual = await h.d.requestRun({ job: 'later' });
    await h.quiesce();
    h.launcher.finish(h.launcher.running[0]!.spec.runId);
    await h.quiesce();
    const rows = await h.runs('later');
    const sched = rows.find((r) => r.trigger === 'schedule')!;
    assert.equal(sched.status, 'skipped');
    assert.match(sched.skip_reason!, /disabled/);
    assert.equal((await h.jobs.history.byId(manual.id))!.status, 'running');
  } finally {
    await h.close();
  }
});

test('a run starts (and its row says so) when it is admitted, not when the admission cycle began', async () => {
  const two = { default: { max_concurrent_jobs: 2, max_memory_mb: 1e6, max_cpu_percent: 100 } };
  const h = await harness({ slots: two, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'a', schedule: '1 12 * * *' });
    await h.add({ name: 'b', schedule: '1 12 * * *' });
    // Each claim takes 40 ms (a database round trip under load), as the clock sees it.
    const claim = h.jobs.history.transitionReturning.bind(h.jobs.history);
    h.jobs.history.transitionReturning = (async (...a: Parameters<typeof claim>) => {
      const r = await claim(...a);
      h.clock.jump(40);
      return r;
    }) as typeof claim;
    h.d.start();
    await h.quiesce();
    await h.clock.advance(30_000); // 12:01:00, both due
    await h.quiesce();
    const tick = T0 + 30_000;
    assert.equal(h.launcher.running.length, 2);
    const rows = [...(await h.runs('a')), ...(await h.runs('b'))].sort((x, y) => Date.parse(x.started_at!) - Date.parse(y.started_at!));
    assert.deepEqual(rows.map((r) => [r.started_at, r.wait_ms]), [[iso(tick), 0], [iso(tick + 40), 40]]);
  } finally {
    await h.close();
  }
});

test('manual runs asked for in the same millisecond each get their own key and all start at once, none held to its key', async () => {
  const five = { default: { max_concurrent_jobs: 5, max_memory_mb: 1e6, max_cpu_percent: 100 } };
  const h = await harness({ slots: five, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'm', schedule: '@yearly', overlap_policy: 'allow' });
    h.d.start();
    await h.quiesce();
    const at = h.clock.now();
    // The clock does not move: every request lands in the same millisecond.
    const rows = [];
    for (let i = 0; i < 5; i++) rows.push(await h.d.requestRun({ job: 'm' }));
    assert.deepEqual(rows.map((r) => r.scheduled_for), [0, 1, 2, 3, 4].map((k) => iso(at + k)), 'keys follow one another');
    await h.quiesce();
    assert.equal(h.launcher.running.length, 5);
    assert.deepEqual(h.launcher.running.map((r) => r.startedAt), Array(5).fill(at), 'each started when it was asked for, not at its key');
    const stored = await h.runs('m');
    assert.deepEqual(stored.map((r) => [r.status, r.started_at, r.wait_ms]), Array(5).fill(['running', iso(at), 0]));
    // Another burst a second later starts from its own millisecond again.
    await h.clock.advance(1000);
    const later = await h.d.requestRun({ job: 'm' });
    assert.equal(later.scheduled_for, iso(at + 1000));
  } finally {
    await h.close();
  }
});

test('starting deadline: a run still waiting past it is skipped with the reason it waited', async () => {
  const h = await harness({ slots: one });
  try {
    await h.add({ name: 'long', schedule: '1 12 * * *', priority: 'critical' });
    await h.add({ name: 'deadline', schedule: '1 12 * * *', starting_deadline_seconds: 30 });
    h.d.start();
    await h.step(30_000); // 12:01:00
    await h.step(30_000); // 12:01:30: deadline exactly: still waiting
    assert.deepEqual((await h.runs('deadline')).map((r) => r.status), ['queued']);
    await h.step(1000); // past it: skipped on the next wake (maxSleepMs 1 s)
    const r = (await h.runs('deadline'))[0]!;
    assert.equal(r.status, 'skipped');
    assert.match(r.skip_reason!, /starting deadline \(2026-06-01T12:01:30.000Z\): slot default full: 1\/1 jobs running/);
    assert.equal(r.deadline_at, iso(Date.UTC(2026, 5, 1, 12, 1, 30)));
  } finally {
    await h.close();
  }
});

test('a job changed through JobManager while the dispatcher runs takes effect at once', async () => {
  // maxSleepMs of an hour: a change must wake the dispatcher, not a poll.
  const h = await harness({ slots: { default: { max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100 } }, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'hourly', schedule: '0 * * * *' });
    h.d.start();
    await h.quiesce();
    // 12:00:30 -> every minute: the 12:01 tick runs at 12:01:00 sharp.
    await h.jobs.updateJob('hourly', { schedule: '* * * * *' });
    await h.quiesce();
    await h.clock.advance(30_000);
    await h.quiesce();
    assert.equal(h.launcher.running.length, 1);
    assert.equal(h.launcher.running[0]!.startedAt, Date.UTC(2026, 5, 1, 12, 1));
    // A bigger estimate changes what the next run reserves.
    h.launcher.finish(h.launcher.running[0]!.spec.runId);
    await h.quiesce();
    await h.jobs.updateJob('hourly', { estimated_memory_mb: 700 });
    await h.clock.advance(MIN);
    await h.quiesce();
    assert.equal(h.lb.usage('default').memoryMb, 700);
    h.launcher.finish(h.launcher.running[0]!.spec.runId);
    await h.quiesce();
    // Disabled: no more runs; enabled again: the next tick runs.
    await h.jobs.disableJob('hourly');
    await h.clock.advance(MIN);
    await h.quiesce();
    assert.equal(h.launcher.running.length, 0);
    await h.jobs.enableJob('hourly');
    await h.clock.advance(MIN);
    await h.quiesce();
    assert.equal(h.launcher.running.length, 1);
    assert.equal(h.launcher.running[0]!.startedAt, Date.UTC(2026, 5, 1, 12, 4));
    assert.equal((await h.runs('hourly')).length, 3);
  } finally {
    await h.close();
  }
});

test('a cancel asked for elsewhere (CLI, another node) stops the run within a second; it ends interrupted with the reason, not retried', async () => {
  const bus = new EventBus();
  const cancelling: RunRow[] = [];
  bus.on('run.cancelling', (r) => cancelling.push(r));
  const h = await harness({ slots: { default: { max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100 } }, maxSleepMs: 3600_000, options: { bus } });
  try {
    await h.add({ name: 'long', schedule: '* * * * *', retries: 2 });
    h.d.start();
    await h.quiesce();
    await h.clock.advance(30_000); // 12:01
    await h.quiesce();
    const run = h.launcher.running[0]!;
    // What `smart-cron cancel` does from another process: no dispatcher of its own holds the run.
    const asked = await cancelRun({ history: h.jobs.history, clock: h.clock }, run.spec.runId, 'stop it, from the CLI');
    assert.equal(asked.how, 'requested');
    assert.equal(statusLabel(asked.run, h.clock.now()), 'cancelling');
    await h.clock.advance(1000);
    await h.quiesce();
    assert.equal(run.cancelled, 'stop it, from the CLI', 'stopped within a second, by the dispatcher that runs it');
    // The daemon's dashboards hear of it (as run.cancelling) when the daemon acts on it, once.
    assert.deepEqual(cancelling.map((r) => [r.id, r.status, r.cancel_requested]), [[run.spec.runId, 'running', 'stop it, from the CLI']]);
    const [row] = await h.runs('long');
    assert.equal(row!.status, 'interrupted');
    assert.equal(row!.error_message, 'stop it, from the CLI');
    assert.equal((await h.runs('long')).filter((r) => r.trigger === 'retry').length, 0, 'a cancelled run is not retried');
    // Nothing runs: the dispatcher stops looking (no timer kept for it).
    await h.clock.advance(1000);
    await h.quiesce();
    const pending = h.clock.pending;
    await h.clock.advance(1000);
    assert.equal(h.clock.pending, pending);
    await assert.rejects(cancelRun({ history: h.jobs.history, clock: h.clock }, run.spec.runId, 'again'), /run #\d+ has already finished \(status interrupted\); nothing to cancel/);
    await assert.rejects(cancelRun({ history: h.jobs.history, clock: h.clock }, 9999, 'x'), /no run with id 9999/);
  } finally {
    await h.close();
  }
});

test('every started run is recorded exactly once and its reservation released, including failures to launch', async () => {
  const h = await harness({ slots: { default: { max_concurrent_jobs: 3, max_memory_mb: 1000, max_cpu_percent: 100 } } });
  try {
    for (let i = 0; i < 8; i++) await h.add({ name: `j${i}`, schedule: '*/10 * * * * *', estimated_memory_mb: 300, overlap_policy: 'allow' });
    await h.add({ name: 'no-cmd', schedule: '*/10 * * * * *', shell: true, command: ['exit 0'] });
    // Break no-cmd's command after registration: launching it fails, it must still be recorded.
    await h.database.db.updateTable('smart_cron_integrated_jobs').set({ command: '[]' }).where('name', '=', 'no-cmd').execute();
    h.d.start();
    let maxMem = 0;
    for (let t = 0; t < 60; t++) {
      await h.step(1000);
      maxMem = Math.max(maxMem, h.lb.usage('default').memoryMb);
      assert.ok(h.lb.usage('default').jobs <= 3);
      // Finish the oldest running run each second.
      const r = h.launcher.running[0];
      if (r) h.launcher.finish(r.spec.runId, { status: t % 3 ? 'succeeded' : 'failed' });
    }
    await h.d.stop();
    for (const r of h.launcher.running) h.launcher.finish(r.spec.runId);
    await h.d.idle();
    assert.ok(maxMem <= 1000, `reserved ${maxMem} MB of 1000`);
    const rows = await h.runs();
    assert.ok(rows.every((r) => !['running'].includes(r.status)), 'nothing left running');
    const ran = rows.filter((r) => r.started_at);
    assert.ok(ran.length >= 30, `${ran.length} runs started`);
    assert.ok(ran.every((r) => r.recorded === 1 && r.finished_at), 'every started run recorded');
    const noCmd = rows.filter((r) => r.job_id === rows.find((x) => x.error_message?.includes('has no command'))?.job_id);
    assert.ok(noCmd.length > 0 && noCmd.every((r) => r.status === 'failed' || r.status === 'skipped' || r.status === 'queued'));
    const jobs = await h.jobs.listJobs();
    const total = jobs.jobs.reduce((s, j) => s + j.total_executions, 0);
    assert.equal(total, ran.filter((r) => ['succeeded', 'failed'].includes(r.status)).length, 'counters applied once per run');
    assert.deepEqual(h.lb.usage('default'), { jobs: 0, memoryMb: 0, cpuPercent: 0 });
    assert.equal(h.d.runningCount, 0);
  } finally {
    await h.close();
  }
});

test('a dispatcher that does not plan (one-shot run, node without the lease) does not spin on an overdue job', { timeout: 30_000 }, async () => {
  const h = await harness({ options: { canPlan: async () => false } });
  try {
    await h.add({ name: 'overdue' });
    // Nobody plans it: its next run stays in the past, as when no daemon runs.
    await h.database.db.updateTable('smart_cron_integrated_jobs').set({ next_scheduled_run: iso(T0 - 3600_000) }).execute();
    let cycles = 0;
    const cycle = h.d.cycle.bind(h.d);
    h.d.cycle = async () => {
      cycles++;
      return cycle();
    };
    h.d.start();
    await h.step(5000);
    assert.ok(cycles <= 8, `${cycles} cycles in 5 s of virtual time (maxSleepMs 1 s)`);
    // A manual run still starts at once.
    const r = await h.d.requestRun({ job: 'overdue' });
    await h.quiesce();
    assert.equal((await h.jobs.history.byId(r.id))!.status, 'running');
  } finally {
    await h.close();
  }
});

test('a result that cannot be recorded is retried while the daemon runs; a stopping daemon stops retrying and leaves the run to the next one', async () => {
  const h = await harness();
  const logs: string[] = [];
  (h.d as unknown as { o: { log: (m: string) => void } }).o.log = (m) => logs.push(m);
  const record = h.jobs.recordExecution.bind(h.jobs);
  let failing = true;
  h.jobs.recordExecution = async (...a: Parameters<typeof record>) => {
    if (failing) throw new Error('database or disk is full');
    return record(...a);
  };
  try {
    await h.add({ name: 'once' });
    h.d.start();
    await h.step(30_000); // 12:01:00
    const [run] = await h.runs('once');
    assert.equal(run!.status, 'running');
    h.launcher.finish(run!.id);
    // (not h.step: it waits for the recording, which does not end here)
    for (let i = 0; i < 5; i++) {
      for (let k = 0; k < 20; k++) await new Promise<void>((r) => setImmediate(r));
      await h.clock.advance(1000);
    }
    assert.ok(logs.filter((l) => l.includes(`recording run #${run!.id} failed (database or disk is full); retrying`)).length >= 2, logs.join('\n'));
    await h.d.stop();
    await h.quiesce();
    assert.ok(logs.some((l) => l.includes('the daemon is stopping: the next one records it')), logs.join('\n'));
    const row = (await h.jobs.history.byId(run!.id))!;
    assert.equal(row.status, 'running', 'left for the next daemon, which records it from the exit file');
    assert.ok(row.pid, 'with its pid, so the next daemon finds it');
    failing = false;
  } finally {
    await h.close();
  }
});

test('a failed run queues its retry after the backoff; a stopped dispatcher keeps no timer for it, and the retry waits for the next start', async () => {
  const h = await harness({ slots: one, maxSleepMs: 3600_000 });
  try {
    await h.add({ name: 'flaky', schedule: '1 12 * * *', retries: 1, retry_backoff_seconds: 600 });
    h.d.start();
    await h.quiesce();
    await h.clock.advance(30_000); // 12:01
    await h.quiesce();
    const first = h.launcher.running[0]!;
    const before = h.clock.pending;
    h.launcher.finish(first.spec.runId, { status: 'failed', exit_code: 1 });
    await h.quiesce();
    const retry = (await h.runs()).find((r) => r.trigger === 'retry')!;
    assert.equal(retry.status, 'queued');
    const wait = Date.parse(retry.not_before!) - h.clock.now();
    assert.ok(wait >= 480_000 && wait <= 720_000, `after the backoff (600 s ± 20 %): ${wait} ms`);
    assert.equal(h.clock.pending, before + 1, 'one wake-up for the retry');
    await h.d.stop();
    assert.equal(h.clock.pending, 0, 'nothing left to fire after stop (it would only hold the process open)');
    // Started again after the backoff, the dispatcher runs the waiting retry.
    await h.clock.advance(wait);
    h.d.start();
    await h.quiesce();
    assert.equal(h.launcher.running.length, 1);
    const started = (await h.jobs.history.byId(h.launcher.running[0]!.spec.runId))!;
    assert.equal(started.trigger, 'retry');
    assert.equal(started.wait_ms, 0, 'started as its backoff ended: the backoff is not time spent waiting for room');
  } finally {
    await h.close();
  }
});

test('a run this node may not run says why it waits (pinned elsewhere, node_selector unmatched), written once', async () => {
  const h = await harness({ node: 'vm', maxSleepMs: 3600_000, options: { labels: { region: 'us' } } });
  try {
    await h.add({ name: 'pin', schedule: '@yearly', pinned_node: 'elsewhere' });
    await h.add({ name: 'eu', schedule: '@yearly', node_selector: { region: 'eu' } });
    await h.add({ name: 'here', schedule: '@yearly', pinned_node: 'vm', node_selector: { region: 'us' } });
    h.d.start();
    for (const job of ['pin', 'eu', 'here']) await h.d.requestRun({ job });
    await h.quiesce();
    const reason = async (job: string) => (await h.runs(job))[0]!.wait_reason;
    assert.equal(await reason('pin'), 'pinned to node "elsewhere" (this node is "vm")');
    assert.equal(await reason('eu'), 'node_selector region=eu does not match this node ("vm", labels region=us)');
    assert.deepEqual((await h.runs('here')).map((r) => [r.status, r.wait_reason]), [['running', null]]);
    // Once: later cycles do not write the row again while nothing changes (a trigger counts the writes).
    await sql`create table wait_writes (run_id integer, reason text)`.execute(h.database.db);
    await sql`create trigger wait_written after update of wait_reason on smart_cron_job_history begin insert into wait_writes values (new.id, new.wait_reason); end`.execute(h.database.db);
    await h.step(5000);
    const writes = async () => (await sql<{ reason: string }>`select reason from wait_writes`.execute(h.database.db)).rows.map((r) => r.reason);
    assert.deepEqual(await writes(), []);
    // Re-pinned: the reason follows the job.
    await h.jobs.updateJob('pin', { pinned_node: 'other' });
    await h.quiesce();
    assert.equal(await reason('pin'), 'pinned to node "other" (this node is "vm")');
    assert.deepEqual(await writes(), ['pinned to node "other" (this node is "vm")']);
    // Pinned here again: it runs, and the reason goes.
    await h.jobs.updateJob('pin', { pinned_node: 'vm' });
    await h.quiesce();
    assert.deepEqual((await h.runs('pin')).map((r) => [r.status, r.wait_reason]), [['running', null]]);
  } finally {
    await h.close();
  }
});

test('two nodes on one database: the reason a node gives is not overwritten by the other, nor a node that can run it', async () => {
  const n2 = await harness({ node: 'n2', maxSleepMs: 3600_000, slots: one });
  const n1 = await harness({ node: 'n1', maxSleepMs: 3600_000, slots: one, dbPath: join(n2.dir, 'db.sqlite'), start: n2.clock.now() });
  try {
    await n2.add({ name: 'blocker', schedule: '@yearly', pinned_node: 'n2' });
    await n2.add({ name: 'on-n2', schedule: '@yearly', pinned_node: 'n2' });
    await n2.add({ name: 'on-n3', schedule: '@yearly', pinned_node: 'n3' });
    n1.d.start();
    n2.d.start();
    await n2.d.requestRun({ job: 'blocker' });
    await n2.quiesce();
    assert.equal(n2.launcher.running.length, 1);
    await n2.d.requestRun({ job: 'on-n2' });
    await n2.quiesce();
    await n1.d.requestRun({ job: 'on-n3' });
    await n1.quiesce();
    await sql`create table wait_writes (run_id integer, reason text)`.execute(n2.database.db);
    await sql`create trigger wait_written after update of wait_reason on smart_cron_job_history begin insert into wait_writes values (new.id, new.wait_reason); end`.execute(n2.database.db);
    for (let i = 0; i < 5; i++) {
      n1.d.kick();
      n2.d.kick();
      await n1.step(1000);
      await n2.step(1000);
    }
    const reasons = Object.fromEntries((await n2.runs()).filter((r) => r.status === 'queued').map((r) => [r.job_id, r.wait_reason]));
    const id = async (name: string) => (await n2.jobs.getJob(name)).id;
    // n2 can run it and says why it waits there; n1, which cannot, leaves that alone.
    assert.equal(reasons[await id('on-n2')], 'slot default full: 1/1 jobs running');
    // Neither node can: the first one's words stay; the other does not answer with its own every cycle.
    assert.equal(reasons[await id('on-n3')], 'pinned to node "n3" (this node is "n1")');
    assert.deepEqual((await sql<{ reason: string }>`select reason from wait_writes`.execute(n2.database.db)).rows, []);
  } finally {
    await n1.close();
    await n2.close();
  }
});
