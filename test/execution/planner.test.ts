/**
 * The Planner in virtual time on a real SQLite file: a tick runs at most once, misfire
 * policies after downtime, overlap policies, the circuit breaker gate. Runs are launched by
 * ScriptedLauncher (no processes; it exists only to control time).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { iso, VirtualClock } from '../../src/clock.js';
import { Planner } from '../../src/execution/planner.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { harness, T0 } from '../fixtures/exec-core/harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

test('a tick is planned at most once: twice in a row, and by two Planners on the same database at once', async () => {
  const h = await harness();
  try {
    const id = await h.add({ name: 'every-minute' });
    const second = await openDatabase(`sqlite:${join(h.dir, 'db.sqlite')}`);
    const clock2 = new VirtualClock(T0);
    const p1 = new Planner({ jobs: h.jobs, clock: h.clock });
    const p2 = new Planner({ jobs: new JobManager(second, clock2), clock: clock2 });
    try {
      for (let i = 1; i <= 5; i++) {
        const at = T0 + i * MIN; // 12:0i:30, 30 s after the tick
        await h.clock.advance(MIN);
        clock2.jump(MIN);
        const [a, b] = await Promise.all([p1.planDue(at), p2.planDue(at)]);
        const again = await p1.planDue(at);
        assert.equal(a.queued.length + b.queued.length, 1, `tick ${i}: one of the two planners queued it`);
        assert.equal(again.queued.length + again.skipped.length, 0, `tick ${i}: planning again adds nothing`);
        // Finish it so overlap does not get in the way of the next tick.
        const q = (a.queued[0] ?? b.queued[0])!;
        await h.jobs.history.update(q.id, { status: 'succeeded' });
      }
      const rows = await h.runs();
      assert.equal(rows.length, 5);
      assert.deepEqual(
        rows.map((r) => r.scheduled_for),
        [1, 2, 3, 4, 5].map((i) => iso(Date.UTC(2026, 5, 1, 12, i, 0))),
      );
      const keys = new Set(rows.map((r) => `${r.job_id}/${r.scheduled_for}/${r.attempt}`));
      assert.equal(keys.size, rows.length);
      assert.ok(rows.every((r) => r.job_id === id && r.trigger === 'schedule'));
    } finally {
      await second.close();
    }
  } finally {
    await h.close();
  }
});

test('misfire after downtime: skip, run_once and run_all (capped by max_catchup_runs)', async () => {
  // Every 10 minutes; the dispatcher is stopped for about an hour: 12:10 .. 13:00 are missed (6 ticks).
  // [policy, max_catchup_runs, catch-up runs (HH:MM), skipped row's reason]
  // run_all runs the oldest missed ticks first, at most max_catchup_runs (schedule/misfire.ts).
  const cases: [string, number, string[], RegExp | null][] = [
    ['skip', 100, [], /missed 6 ticks \(misfire policy skip\)/],
    ['run_once', 100, ['13:00'], /missed 5 ticks \(misfire policy run_once\)/],
    ['run_all', 100, ['12:10', '12:20', '12:30', '12:40', '12:50', '13:00'], null],
    ['run_all', 3, ['12:10', '12:20', '12:30'], /missed 3 ticks \(misfire policy run_all\)/],
  ];
  const h = await harness({ slots: { default: { max_concurrent_jobs: 50, max_memory_mb: 1e6, max_cpu_percent: 100 } } });
  try {
    for (const [policy, cap] of cases) {
      await h.add({ name: `m-${policy}-${cap}`, schedule: '*/10 * * * *', misfire_policy: policy as 'skip', max_catchup_runs: cap, overlap_policy: 'allow' });
    }
    h.d.start();
    await h.step(2000);
    assert.equal((await h.runs()).length, 0, 'nothing due at 12:00:32');
    await h.d.stop();
    await h.clock.advance(HOUR + 5 * MIN); // down until 13:05:32: no tick within the 60 s grace
    h.d.start();
    await h.quiesce();
    for (const [policy, cap, catchup, skipped] of cases) {
      const name = `m-${policy}-${cap}`;
      const rows = await h.runs(name);
      const hhmm = (s: string) => s.slice(11, 16);
      assert.deepEqual(
        rows.filter((r) => r.trigger === 'catchup').map((r) => hhmm(r.scheduled_for)).sort(),
        catchup,
        `${name}: catch-up runs`,
      );
      const sk = rows.filter((r) => r.status === 'skipped');
      if (skipped) {
        assert.equal(sk.length, 1, `${name}: one skipped row stands for all missed ticks: ${JSON.stringify(sk)}`);
        assert.match(sk[0]!.skip_reason ?? '', skipped, name);
      } else assert.equal(sk.length, 0, `${name}: nothing skipped`);
      assert.equal(rows.filter((r) => r.trigger === 'schedule' && r.status !== 'skipped').length, 0, `${name}: no scheduled run (no tick inside the grace)`);
      // Catch-up runs were admitted (started) at once.
      assert.ok(rows.filter((r) => r.trigger === 'catchup').every((r) => r.status === 'running'), name);
    }
    // The next regular tick (13:10) is planned normally, once.
    for (const r of h.launcher.running) h.launcher.finish(r.spec.runId);
    await h.quiesce();
    await h.step(5 * MIN);
    for (const [policy, cap] of cases) {
      const rows = await h.runs(`m-${policy}-${cap}`);
      assert.equal(rows.filter((r) => r.scheduled_for === iso(Date.UTC(2026, 5, 1, 13, 10))).length, 1, `${policy}/${cap}: 13:10 once`);
    }
  } finally {
    await h.close();
  }
});

test('misfire: a tick within the 60 s grace is a normal run; run_once then adds no catch-up', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'once', schedule: '*/10 * * * *', misfire_policy: 'run_once' });
    await h.clock.advance(HOUR - 30_000 + 20_000); // 13:00:20: the 13:00 tick is 20 s late, 12:10..12:50 missed
    h.d.start();
    await h.quiesce();
    const rows = await h.runs('once');
    assert.deepEqual(
      rows.map((r) => [r.scheduled_for.slice(11, 16), r.trigger, r.status]),
      [
        ['12:50', 'schedule', 'skipped'],
        ['13:00', 'schedule', 'running'],
      ],
    );
    assert.match(rows[0]!.skip_reason!, /missed 5 ticks/);
  } finally {
    await h.close();
  }
});

test('a schedule changed while the daemon runs counts from the change: no tick of the new schedule before it is missed or caught up', async () => {
  const h = await harness({ slots: { default: { max_concurrent_jobs: 50, max_memory_mb: 1e6, max_cpu_percent: 100 } } });
  try {
    for (const policy of ['skip', 'run_all'] as const) {
      await h.add({ name: `yearly-${policy}`, schedule: '0 0 1 1 *', misfire_policy: policy, overlap_policy: 'allow' });
    }
    h.d.start();
    await h.step(20 * MIN); // 12:20:30: nothing was due
    for (const policy of ['skip', 'run_all'] as const) await h.jobs.updateJob(`yearly-${policy}`, { schedule: '*/2 * * * *' });
    await h.step(4 * MIN); // 12:24:30: 12:22 and 12:24 were due after the change
    for (const policy of ['skip', 'run_all'] as const) {
      const rows = await h.runs(`yearly-${policy}`);
      assert.deepEqual(
        rows.map((r) => [r.scheduled_for.slice(11, 16), r.trigger, r.status === 'skipped' ? `skipped: ${r.skip_reason}` : 'ran']),
        [
          ['12:22', 'schedule', 'ran'],
          ['12:24', 'schedule', 'ran'],
        ],
        `${policy}: only the new schedule's ticks after the change`,
      );
    }
  } finally {
    await h.close();
  }
});

test('overlap policies: forbid skips with the reason, queue keeps at most one waiting, replace cancels the running run', async () => {
  const h = await harness({ slots: { default: { max_concurrent_jobs: 10, max_memory_mb: 1e6, max_cpu_percent: 100 } } });
  try {
    for (const p of ['forbid', 'queue', 'replace', 'allow'] as const) await h.add({ name: `o-${p}`, overlap_policy: p });
    h.d.start();
    await h.step(30_000); // 12:01:00: first runs start and never finish by themselves
    for (const p of ['forbid', 'queue', 'replace', 'allow']) {
      assert.deepEqual((await h.runs(`o-${p}`)).map((r) => r.status), ['running'], p);
    }
    await h.step(MIN); // 12:02
    await h.step(MIN); // 12:03
    const st = async (n: string) => (await h.runs(n)).map((r) => [r.scheduled_for.slice(11, 16), r.status]);

    const forbid = await h.runs('o-forbid');
    assert.deepEqual(forbid.map((r) => r.status), ['running', 'skipped', 'skipped']);
    assert.match(forbid[1]!.skip_reason!, new RegExp(`previous run #${forbid[0]!.id} is still running \\(overlap policy forbid\\)`));

    const replace = await h.runs('o-replace');
    assert.deepEqual(replace.map((r) => r.status), ['interrupted', 'interrupted', 'running']);
    assert.match(replace[0]!.error_message!, /replaced by a newer tick/);
    assert.equal(h.launcher.runs.get(replace[0]!.id)!.cancelled?.includes('replaced'), true);

    assert.deepEqual((await h.runs('o-allow')).map((r) => r.status), ['running', 'running', 'running']);
    // queue: 12:02 waits for 12:01 to end (the slot has room: only the policy holds it), 12:03 is skipped.
    const queue = await h.runs('o-queue');
    assert.deepEqual(
      queue.map((r) => r.status),
      ['running', 'queued', 'skipped'],
      `queue: ${JSON.stringify(await st('o-queue'))}`,
    );
    assert.match(queue[2]!.skip_reason!, /already waiting .*keeps at most one/);
    h.launcher.finish(queue[0]!.id);
    await h.quiesce();
    assert.deepEqual((await h.runs('o-queue')).map((r) => r.status), ['succeeded', 'running', 'skipped'], 'the waiting run starts when the previous ends');

  } finally {
    await h.close();
  }
});

test('circuit breaker in the planner: open after N failures, skipped in the cool-down, one half-open trial, success closes', async () => {
  const h = await harness({ slots: { default: { max_concurrent_jobs: 10, max_memory_mb: 1e6, max_cpu_percent: 100 } } });
  try {
    await h.add({ name: 'flaky', schedule: '*/10 * * * * *', circuit_failure_threshold: 3, circuit_cooldown_seconds: 60, overlap_policy: 'allow' });
    h.d.start();
    const failRunning = async () => {
      for (const r of h.launcher.running) h.launcher.finish(r.spec.runId, { status: 'failed', exit_code: 1 });
      await h.quiesce();
    };
    // 12:00:40, :50, 12:01:00 fail: the circuit opens at the third.
    for (let i = 0; i < 3; i++) {
      await h.step(10_000);
      await failRunning();
    }
    let job = await h.jobs.getJob('flaky');
    assert.equal(job.circuit_state, 'open');
    const openedAt = Date.parse(job.circuit_opened_at!);
    // Ticks in the next 60 s are skipped with the reason.
    await h.step(50_000);
    let rows = await h.runs('flaky');
    const skipped = rows.filter((r) => r.status === 'skipped');
    assert.equal(skipped.length, 5, JSON.stringify(rows.map((r) => [r.scheduled_for, r.status])));
    assert.ok(skipped.every((r) => /circuit open/.test(r.skip_reason!)));
    assert.equal(h.launcher.running.length, 0);
    // Cool-down over: one trial runs; the ticks while it runs are skipped (half-open).
    await h.step(openedAt + 60_000 - h.clock.now());
    assert.equal(h.launcher.running.length, 1, 'one trial run');
    assert.equal((await h.jobs.getJob('flaky')).circuit_state, 'half_open');
    await h.step(20_000);
    rows = await h.runs('flaky');
    assert.equal(h.launcher.running.length, 1);
    assert.match(rows[rows.length - 1]!.skip_reason ?? '', /half-open/);
    // The trial succeeds: closed; the next tick runs normally.
    h.launcher.finish(h.launcher.running[0]!.spec.runId);
    await h.quiesce();
    job = await h.jobs.getJob('flaky');
    assert.equal(job.circuit_state, 'closed');
    assert.equal(job.circuit_open_count, 0);
    await h.step(10_000);
    assert.equal(h.launcher.running.length, 1);
  } finally {
    await h.close();
  }
});

test('circuit breaker: a half-open trial that was skipped or interrupted does not leave the job skipped forever', async () => {
  // [how the trial tick ends]
  for (const how of ['trial tick skipped by overlap, manual run cancelled', 'trial cancelled'] as const) {
    const h = await harness({ slots: { default: { max_concurrent_jobs: 10, max_memory_mb: 1e6, max_cpu_percent: 100 } } });
    try {
      await h.add({ name: 'stuck', schedule: '* * * * *', circuit_failure_threshold: 1, circuit_cooldown_seconds: 60, overlap_policy: 'forbid' });
      h.d.start();
      await h.step(30_000); // 12:01 runs and fails: open until 12:02
      h.launcher.finish(h.launcher.running[0]!.spec.runId, { status: 'failed', exit_code: 1 });
      await h.quiesce();
      assert.equal((await h.jobs.getJob('stuck')).circuit_state, 'open');
      if (how === 'trial cancelled') {
        await h.step(MIN); // 12:02: the trial starts; a person cancels it
        assert.equal(h.launcher.running.length, 1);
        await h.d.cancelRun(h.launcher.running[0]!.spec.runId);
        await h.quiesce();
      } else {
        // A manual run (manual runs pass the circuit) runs over 12:02, the first tick after the cool-down,
        // so that tick is skipped by overlap forbid; then the manual run is cancelled.
        const manual = await h.d.requestRun({ job: 'stuck' });
        await h.quiesce();
        await h.step(MIN);
        const rows = await h.runs('stuck');
        assert.match(rows[rows.length - 1]!.skip_reason ?? '', /overlap policy forbid/);
        await h.d.cancelRun(manual.id);
        await h.quiesce();
      }
      // 12:03 .. 12:05: nothing runs any more, so some tick must be a new trial.
      await h.step(3 * MIN);
      const rows = await h.runs('stuck');
      const later = rows.filter((r) => r.trigger === 'schedule' && r.started_at && Date.parse(r.scheduled_for) > Date.UTC(2026, 5, 1, 12, 2));
      assert.ok(
        later.length >= 1,
        `${how}: circuit ${(await h.jobs.getJob('stuck')).circuit_state}; runs ${JSON.stringify(rows.map((r) => [r.scheduled_for.slice(11, 16), r.trigger, r.status, r.skip_reason]))}`,
      );
    } finally {
      await h.close();
    }
  }
});

test('start lead: a free tick is planned, admitted and prepared ahead to start at its instant; one whose overlap or requirements could change by then is decided at the instant', async () => {
  const h = await harness({ options: { startLeadMs: 1000 } });
  try {
    await h.add({ name: 'free' });
    await h.add({ name: 'busy', overlap_policy: 'forbid' });
    await h.add({ name: 'needs', overlap_policy: 'allow' });
    const { DependencyRepo } = await import('../../src/jobs/dependencies.js');
    await new DependencyRepo(h.database.db).add((await h.jobs.getJob('needs')).id, (await h.jobs.getJob('free')).id, 'requires', {}, h.clock.now());
    h.d.start();
    const at1201 = Date.UTC(2026, 5, 1, 12, 1, 0);
    await h.step(29_500); // 12:00:59.5, half a second before the tick
    for (const name of ['free', 'busy']) {
      const rows = await h.runs(name);
      assert.deepEqual(rows.map((r) => [r.scheduled_for, r.status, r.started_at]), [[iso(at1201), 'running', iso(at1201)]], `${name} is prepared ahead`);
      assert.equal(h.launcher.runs.get(rows[0]!.id)!.spec.startAt, at1201, `${name} is held until its instant`);
      assert.equal(rows[0]!.wait_ms, 0, 'a run prepared ahead did not wait');
    }
    assert.deepEqual(await h.runs('needs'), [], 'a job with requirements is not planned ahead');
    await h.step(500); // 12:01:00
    const needs = await h.runs('needs');
    assert.deepEqual(needs.map((r) => [r.scheduled_for, r.queued_at]), [[iso(at1201), iso(at1201)]], 'decided at its instant');

    // free's run ends; busy's never does (overlap forbid).
    h.launcher.finish((await h.runs('free'))[0]!.id);
    await h.step(59_500); // 12:01:59.5
    const at1202 = at1201 + MIN;
    assert.deepEqual((await h.runs('free')).map((r) => r.scheduled_for), [iso(at1201), iso(at1202)], 'free: the next tick is prepared ahead');
    assert.equal((await h.runs('busy')).length, 1, 'busy: with its run going, the next tick waits to be decided at its instant');
    await h.step(500); // 12:02:00
    const busy = await h.runs('busy');
    assert.deepEqual(busy.map((r) => r.status), ['running', 'skipped']);
    assert.equal(busy[1]!.finished_at, iso(at1202), 'skipped at the instant, not ahead');
    assert.match(busy[1]!.skip_reason!, /still running \(overlap policy forbid\)/);
  } finally {
    await h.close();
  }
});
