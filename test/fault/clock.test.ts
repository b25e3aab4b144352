/**
 * Clock faults in virtual time: the wall clock steps forward (an NTP correction, a VM resumed)
 * and back. Dispatcher + Planner on a real SQLite file (ScriptedLauncher controls time only).
 * No tick runs twice; ticks missed by a forward step are handled by each job's misfire policy;
 * a backward step re-plans nothing that already ran.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness, T0, type Harness } from '../fixtures/exec-core/harness.js';
import type { RunRow } from '../../src/storage/schema.js';

const MIN = 60_000;

/** Step time, finishing every run the moment it has started (each run takes no time). */
async function stepFinishing(h: Harness, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    await h.step(Math.min(1000, left));
    for (const r of h.launcher.running) h.launcher.finish(r.spec.runId);
    await h.quiesce();
  }
}

function noTickTwice(rows: RunRow[], job: string): void {
  const seen = new Map<string, number>();
  for (const r of rows) {
    if (r.started_at === null) continue;
    const k = r.scheduled_for;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${job}: ticks run more than once`);
}

test('clock jumps forward 10 minutes, then back 5: no tick twice; missed ticks follow skip / run_once / run_all', { timeout: 120_000 }, async () => {
  const h = await harness({ start: T0 });
  try {
    await h.add({ name: 'skip', misfire_policy: 'skip' });
    await h.add({ name: 'once', misfire_policy: 'run_once' });
    // overlap allow, as the planner tests use it: with forbid or queue only the oldest missed tick
    // runs (see the todo test below).
    await h.add({ name: 'all', misfire_policy: 'run_all', max_catchup_runs: 20, overlap_policy: 'allow' });
    h.d.start();
    await h.quiesce();
    await stepFinishing(h, 2 * MIN); // ticks 12:01 and 12:02 run on time
    for (const j of ['skip', 'once', 'all']) {
      assert.deepEqual((await h.runs(j)).map((r) => [r.scheduled_for.slice(11, 16), r.trigger, r.status]), [['12:01', 'schedule', 'succeeded'], ['12:02', 'schedule', 'succeeded']], j);
    }

    // Forward: 12:02:30 -> 12:12:30. Ticks 12:03 … 12:12 are behind the clock at once.
    h.clock.jump(10 * MIN);
    await stepFinishing(h, 5000);
    const started = async (j: string) => (await h.runs(j)).filter((r) => r.started_at !== null);
    const fwd = { skip: await started('skip'), once: await started('once'), all: await started('all') };
    // skip: the missed ticks do not run (12:12, 30 s late, is within the on-time tolerance and runs).
    assert.equal(fwd.skip.filter((r) => r.trigger === 'catchup').length, 0, 'skip: no catch-up runs');
    const skippedRows = (await h.runs('skip')).filter((r) => r.status === 'skipped');
    assert.ok(skippedRows.length >= 1 && skippedRows.every((r) => r.skip_reason), `skip: the misfire is recorded with a reason: ${JSON.stringify((await h.runs('skip')).map((r) => [r.scheduled_for, r.status, r.skip_reason]))}`);
    // run_once: one run for the whole gap (the latest missed tick; 12:12 is within the on-time tolerance).
    assert.equal(fwd.once.filter((r) => r.scheduled_for.slice(11, 16) > '12:02').length, 1, `run_once: ${JSON.stringify(fwd.once.map((r) => [r.scheduled_for, r.trigger]))}`);
    // run_all: every missed tick runs once (12:03 … 12:12).
    const allTicks = fwd.all.map((r) => r.scheduled_for.slice(11, 16));
    for (let m = 3; m <= 12; m++) assert.ok(allTicks.includes(`12:${String(m).padStart(2, '0')}`), `run_all: tick 12:${m} ran: ${JSON.stringify((await h.runs('all')).map((r) => [r.scheduled_for.slice(11, 16), r.trigger, r.status]))}`);

    await stepFinishing(h, 2 * MIN); // 12:13, 12:14 on time
    const before = new Map<string, number>();
    for (const j of ['skip', 'once', 'all']) before.set(j, (await started(j)).length);

    // Backward: 12:14:35 -> 12:09:35. Ticks 12:10 … 12:14 ran already; none may run again.
    h.clock.jump(-5 * MIN);
    await stepFinishing(h, 5 * MIN + 10_000); // back to 12:14:45: nothing new is due
    for (const j of ['skip', 'once', 'all']) {
      const rows = await h.runs(j);
      noTickTwice(rows, j);
      assert.equal((await started(j)).length, before.get(j), `${j}: runs after the backward step that repeat earlier ticks: ${JSON.stringify(rows.slice(-4).map((r) => [r.scheduled_for, r.trigger, r.status]))}`);
    }
    // And the schedule carries on: 12:15 runs once for each job.
    await stepFinishing(h, MIN);
    for (const j of ['skip', 'once', 'all']) {
      const rows = await h.runs(j);
      noTickTwice(rows, j);
      assert.equal(rows.filter((r) => r.scheduled_for.slice(11, 16) === '12:15' && r.status === 'succeeded').length, 1, `${j}: 12:15 ran once`);
      assert.ok(rows.every((r) => r.status === 'succeeded' || r.status === 'skipped'), `${j}: ${JSON.stringify(rows.map((r) => r.status))}`);
    }
    assert.equal(h.launcher.running.length, 0);
  } finally {
    await h.close();
  }
});

test('a forward jump far past a per-second schedule does not replay a day of ticks (run_all caps at max_catchup_runs)', { timeout: 120_000 }, async () => {
  const h = await harness({ start: T0 });
  try {
    await h.add({ name: 'every-second', schedule: '* * * * * *', misfire_policy: 'run_all', max_catchup_runs: 5, overlap_policy: 'allow' });
    h.d.start();
    await stepFinishing(h, 3000);
    const n0 = (await h.runs('every-second')).filter((r) => r.started_at).length;
    h.clock.jump(24 * 60 * MIN);
    await stepFinishing(h, 2000);
    const rows = await h.runs('every-second');
    noTickTwice(rows, 'every-second');
    const catchup = rows.filter((r) => r.trigger === 'catchup' && r.started_at);
    assert.ok(catchup.length <= 5, `at most max_catchup_runs catch-up runs, got ${catchup.length}`);
    assert.ok(rows.filter((r) => r.started_at).length - n0 <= 5 + 3, `runs after the jump: ${rows.length - n0}`);
  } finally {
    await h.close();
  }
});

test('run_all with overlap forbid or queue runs every missed tick, one after another (found by the fault suite)', async () => {
  const h = await harness({ start: T0 });
  try {
    await h.add({ name: 'forbid', misfire_policy: 'run_all', max_catchup_runs: 20 });
    await h.add({ name: 'queue', misfire_policy: 'run_all', max_catchup_runs: 20, overlap_policy: 'queue' });
    h.d.start();
    await stepFinishing(h, 2 * MIN);
    h.clock.jump(10 * MIN);
    await stepFinishing(h, 20_000);
    for (const j of ['forbid', 'queue']) {
      const ran = (await h.runs(j)).filter((r) => r.status === 'succeeded').map((r) => r.scheduled_for.slice(11, 16));
      assert.deepEqual(ran, ['12:01', '12:02', '12:03', '12:04', '12:05', '12:06', '12:07', '12:08', '12:09', '12:10', '12:11', '12:12'], j);
    }
  } finally {
    await h.close();
  }
});
