/**
 * Workflows through the real Planner and Dispatcher in virtual time, on a real SQLite file
 * (runs are ScriptedLauncher's, so a test decides when and how each one ends): requires met,
 * not met, waiting then met, waiting then timed out; chains on success and failure; fan-out;
 * fan-in; retries and triggers; mutex groups on one node.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { DependencyRepo } from '../../src/jobs/dependencies.js';
import type { RunRow } from '../../src/storage/schema.js';
import { harness, T0, type Harness } from '../fixtures/exec-core/harness.js';

const NEVER = '0 0 1 1 *'; // Jan 1st: never due in these tests (T0 is in June)
const AT_1201 = '1 12 * * *'; // due 30 s after T0
const EVERY_MIN = '* * * * *'; // 12:01, 12:02, ...

async function link(h: Harness, job: string, other: string, kind: 'requires' | 'triggers', o: { window_seconds?: number; on?: 'success' | 'failure' | 'always' } = {}) {
  const a = await h.jobs.getJob(job);
  const b = await h.jobs.getJob(other);
  await new DependencyRepo(h.database.db).add(a.id, b.id, kind, o, h.clock.now());
}

/** Start a manual run of `name` and return its (running) row. */
async function startManual(h: Harness, name: string): Promise<RunRow> {
  const row = await h.d.requestRun({ job: name });
  await h.quiesce();
  const r = (await h.jobs.history.byId(row.id))!;
  assert.equal(r.status, 'running', `${name} should be running: ${r.wait_reason ?? r.skip_reason ?? ''}`);
  return r;
}

async function runOnce(h: Harness, name: string, status: 'succeeded' | 'failed' = 'succeeded'): Promise<RunRow> {
  const r = await startManual(h, name);
  await h.clock.advance(1000);
  h.launcher.finish(r.id, { status });
  await h.quiesce();
  return (await h.jobs.history.byId(r.id))!;
}

const statuses = async (h: Harness, name: string) => (await h.runs(name)).map((r) => `${r.trigger}:${r.status}`);

test('requires: met, so the tick runs; the other job failed, so the tick is skipped saying why', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'extract', schedule: NEVER });
    await h.add({ name: 'report', schedule: EVERY_MIN });
    await link(h, 'report', 'extract', 'requires', { window_seconds: 6 * 3600 });
    h.d.start();
    await runOnce(h, 'extract');
    await h.step(30_000); // 12:01: report's tick
    assert.deepEqual(await statuses(h, 'report'), ['schedule:running']);
    h.launcher.finish((await h.runs('report'))[0]!.id);
    await h.quiesce();

    const failed = await runOnce(h, 'extract', 'failed');
    await h.step(60_000); // 12:02
    const rows = await h.runs('report');
    assert.deepEqual(rows.map((r) => r.status), ['succeeded', 'skipped']);
    assert.match(rows[1]!.skip_reason!, new RegExp(`^requirement not met: requires a success of extract within 6h, but its last run #${failed.id} failed at ${failed.finished_at!.replace(/[.]/g, '\\.')} \\(last succeeded 2026-`));
  } finally {
    await h.close();
  }
});

test('requires: never ran, or succeeded outside the window -> skipped; several requirements combine with AND', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'a', schedule: NEVER });
    await h.add({ name: 'b', schedule: NEVER });
    await h.add({ name: 'report', schedule: EVERY_MIN });
    await link(h, 'report', 'a', 'requires', { window_seconds: 3600 });
    await link(h, 'report', 'b', 'requires');
    // a succeeded 2 h ago (outside its 1 h window); b never ran.
    const aId = (await h.jobs.getJob('a')).id;
    const old = iso(T0 - 2 * 3600_000);
    await h.jobs.history.insertOnce({ job_id: aId, scheduled_for: old, attempt: 1, trigger: 'manual', status: 'succeeded', queued_at: old, started_at: old, finished_at: old });
    await h.jobs.jobs.update(aId, { last_success_at: old });
    h.d.start();
    await h.step(30_000);
    const [skipped] = await h.runs('report');
    assert.equal(skipped!.status, 'skipped');
    assert.equal(skipped!.skip_reason, `requirement not met: requires a success of a within 1h, but it last succeeded at ${old}; requires a success of b, but it has never run`);
    // Only a fresh success of both lets the next tick run.
    await runOnce(h, 'a');
    await h.step(60_000);
    assert.equal((await h.runs('report'))[1]!.status, 'skipped');
    assert.match((await h.runs('report'))[1]!.skip_reason!, /requires a success of b, but it has never run$/);
    await runOnce(h, 'b');
    await h.step(60_000);
    assert.equal((await h.runs('report')).at(-1)!.status, 'running');
  } finally {
    await h.close();
  }
});

test('requires_mode wait: the run waits (queued, wait_reason) and starts the moment the required job succeeds', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'extract', schedule: NEVER });
    await h.add({ name: 'report', schedule: AT_1201, requires_mode: 'wait', requires_wait_seconds: 600 });
    await link(h, 'report', 'extract', 'requires', { window_seconds: 3600 });
    h.d.start();
    await h.step(30_000);
    let [r] = await h.runs('report');
    assert.equal(r!.status, 'queued');
    assert.equal(r!.wait_reason, 'waiting for requirements: requires a success of extract within 1h, but it has never run');
    assert.ok(r!.not_before && Date.parse(r!.not_before) <= h.clock.now() + 5000, 're-checked every few seconds');
    await h.step(20_000); // re-checks find nothing new
    assert.equal((await h.runs('report'))[0]!.status, 'queued');
    // A failed run of extract does not satisfy it; the run keeps waiting and says so.
    const failed = await runOnce(h, 'extract', 'failed');
    [r] = await h.runs('report');
    assert.equal(r!.status, 'queued');
    assert.match(r!.wait_reason!, new RegExp(`last run #${failed.id} failed`));
    const ok = await startManual(h, 'extract');
    await h.clock.advance(700);
    h.launcher.finish(ok.id);
    const endAt = h.clock.now();
    await h.quiesce(); // no virtual time passes: its end wakes the waiting run
    [r] = await h.runs('report');
    assert.equal(r!.status, 'running');
    assert.equal(r!.started_at, iso(endAt));
    assert.equal(r!.wait_reason, null);
  } finally {
    await h.close();
  }
});

test('requires_mode wait: skipped once requires_wait_seconds have passed, with the requirement that failed', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'extract', schedule: NEVER });
    await h.add({ name: 'report', schedule: AT_1201, requires_mode: 'wait', requires_wait_seconds: 45 });
    await link(h, 'report', 'extract', 'requires');
    h.d.start();
    await h.step(30_000);
    const queuedAt = Date.parse((await h.runs('report'))[0]!.queued_at);
    await h.step(40_000);
    assert.equal((await h.runs('report'))[0]!.status, 'queued');
    await h.step(8_000);
    const [r] = await h.runs('report');
    assert.equal(r!.status, 'skipped');
    assert.equal(r!.skip_reason, 'requirement not met after waiting 45s: requires a success of extract, but it has never run');
    assert.ok(Date.parse(r!.finished_at!) >= queuedAt + 45_000 && Date.parse(r!.finished_at!) <= queuedAt + 47_000, r!.finished_at!);
    assert.equal(h.launcher.order.length, 0, 'nothing ran');
  } finally {
    await h.close();
  }
});

test('a manual run ignores requirements', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'extract', schedule: NEVER });
    await h.add({ name: 'report', schedule: NEVER });
    await link(h, 'report', 'extract', 'requires');
    h.d.start();
    await startManual(h, 'report');
  } finally {
    await h.close();
  }
});

test('chains: a -> b -> c on success; a failure handler runs on failure only', async () => {
  const h = await harness();
  try {
    for (const n of ['a', 'b', 'c', 'on-fail']) await h.add({ name: n, schedule: NEVER });
    await link(h, 'b', 'a', 'triggers');
    await link(h, 'c', 'b', 'triggers', { on: 'success' });
    await link(h, 'on-fail', 'a', 'triggers', { on: 'failure' });
    h.d.start();
    const a1 = await runOnce(h, 'a');
    const [b] = await h.runs('b');
    assert.equal(b!.trigger, 'dependency');
    assert.equal(b!.status, 'running');
    assert.equal(b!.scheduled_for, a1.finished_at, 'keyed by the parent run it follows');
    assert.deepEqual(await statuses(h, 'c'), []);
    await h.clock.advance(1000);
    h.launcher.finish(b!.id);
    await h.quiesce();
    assert.deepEqual(await statuses(h, 'c'), ['dependency:running']);
    assert.deepEqual(await statuses(h, 'on-fail'), []);
    h.launcher.finish((await h.runs('c'))[0]!.id);
    await h.quiesce();

    await runOnce(h, 'a', 'failed');
    assert.deepEqual(await statuses(h, 'on-fail'), ['dependency:running']);
    assert.deepEqual(await statuses(h, 'b'), ['dependency:succeeded'], 'b runs after a success only');
  } finally {
    await h.close();
  }
});

test('fan-out: every job after b runs once per run of b', async () => {
  const h = await harness();
  try {
    for (const n of ['b', 'x', 'y', 'z']) await h.add({ name: n, schedule: NEVER });
    for (const n of ['x', 'y', 'z']) await link(h, n, 'b', 'triggers');
    h.d.start();
    await runOnce(h, 'b');
    for (const n of ['x', 'y', 'z']) assert.deepEqual(await statuses(h, n), ['dependency:running'], n);
    for (const r of h.launcher.running) h.launcher.finish(r.spec.runId);
    await h.quiesce();
    await runOnce(h, 'b');
    for (const n of ['x', 'y', 'z']) assert.deepEqual(await statuses(h, n), ['dependency:succeeded', 'dependency:running'], n);
  } finally {
    await h.close();
  }
});

test('fan-in: a job after two parents runs once both have succeeded since its last run, not once per parent', async () => {
  const h = await harness();
  try {
    for (const n of ['p1', 'p2', 'join']) await h.add({ name: n, schedule: NEVER });
    await link(h, 'join', 'p1', 'triggers');
    await link(h, 'join', 'p2', 'triggers');
    h.d.start();
    await runOnce(h, 'p1');
    assert.deepEqual(await statuses(h, 'join'), [], 'p2 has not succeeded yet');
    await runOnce(h, 'p2', 'failed');
    assert.deepEqual(await statuses(h, 'join'), [], 'a failure does not count');
    const p2 = await runOnce(h, 'p2');
    assert.deepEqual(await statuses(h, 'join'), ['dependency:running']);
    assert.equal((await h.runs('join'))[0]!.scheduled_for, p2.finished_at);
    h.launcher.finish((await h.runs('join'))[0]!.id);
    await h.quiesce();
    // Another p1 alone is not enough again.
    await runOnce(h, 'p1');
    assert.deepEqual(await statuses(h, 'join'), ['dependency:succeeded']);

    // Both parents ending in the same millisecond: one run, whichever record sees the set complete.
    await runOnce(h, 'p2'); // completes the set from the p1 above
    h.launcher.finish((await h.runs('join'))[1]!.id);
    await h.quiesce();
    const r1 = await startManual(h, 'p1');
    const r2 = await startManual(h, 'p2');
    await h.clock.advance(1000);
    h.launcher.finish(r1.id);
    h.launcher.finish(r2.id);
    await h.quiesce();
    const rows = await h.runs('join');
    assert.equal(rows.length, 3, rows.map((r) => `${r.scheduled_for} ${r.status}`).join('\n'));
    assert.equal(rows[2]!.status, 'running');
  } finally {
    await h.close();
  }
});

test('triggers wait for the final outcome: a failure followed by a retry triggers nothing; the retry’s success does, once', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'flaky', schedule: NEVER, retries: 1, retry_backoff_seconds: 2 });
    await h.add({ name: 'after-ok', schedule: NEVER });
    await h.add({ name: 'after-fail', schedule: NEVER });
    await h.add({ name: 'after-any', schedule: NEVER });
    await link(h, 'after-ok', 'flaky', 'triggers', { on: 'success' });
    await link(h, 'after-fail', 'flaky', 'triggers', { on: 'failure' });
    await link(h, 'after-any', 'flaky', 'triggers', { on: 'always' });
    h.d.start();
    await runOnce(h, 'flaky', 'failed');
    for (const n of ['after-ok', 'after-fail', 'after-any']) assert.deepEqual(await statuses(h, n), [], n);
    await h.step(3000);
    const retry = (await h.runs('flaky'))[1]!;
    assert.equal(retry.trigger, 'retry');
    assert.equal(retry.status, 'running');
    h.launcher.finish(retry.id);
    await h.quiesce();
    assert.deepEqual(await statuses(h, 'after-ok'), ['dependency:running']);
    assert.deepEqual(await statuses(h, 'after-any'), ['dependency:running']);
    assert.deepEqual(await statuses(h, 'after-fail'), []);
  } finally {
    await h.close();
  }
});

test('a triggered job with requirements still needs them; a disabled one is not triggered', async () => {
  const h = await harness();
  try {
    for (const n of ['a', 'gate', 'child', 'off']) await h.add({ name: n, schedule: NEVER });
    await link(h, 'child', 'a', 'triggers');
    await link(h, 'child', 'gate', 'requires');
    await link(h, 'off', 'a', 'triggers');
    await h.jobs.disableJob('off');
    h.d.start();
    await runOnce(h, 'a');
    const [c] = await h.runs('child');
    assert.equal(c!.status, 'skipped');
    assert.equal(c!.skip_reason, 'requirement not met: requires a success of gate, but it has never run');
    assert.deepEqual(await statuses(h, 'off'), []);
  } finally {
    await h.close();
  }
});

test('mutex group on one node: jobs of a group due together run one at a time, the waiting one says who holds it', async () => {
  const h = await harness();
  try {
    for (const n of ['m1', 'm2', 'm3']) await h.add({ name: n, schedule: AT_1201, mutex_group: 'db' });
    await h.add({ name: 'free', schedule: AT_1201 });
    h.d.start();
    await h.step(30_000);
    assert.equal(h.launcher.running.length, 2, 'one of the group and the job outside it');
    const holder = (await h.jobs.history.byId(h.launcher.running.find((r) => r.spec.jobName !== 'free')!.spec.runId))!;
    const waiting = (await h.runs()).filter((r) => r.status === 'queued');
    assert.equal(waiting.length, 2);
    for (const w of waiting) assert.equal(w.wait_reason, `mutex group db held by job ${(await h.jobs.jobs.byId(holder.job_id))!.name} run #${holder.id}`);
    for (let i = 0; i < 3; i++) {
      const group = h.launcher.running.filter((r) => r.spec.jobName !== 'free');
      assert.equal(group.length, 1, `round ${i}`);
      await h.clock.advance(1000);
      h.launcher.finish(group[0]!.spec.runId);
      await h.quiesce();
    }
    assert.deepEqual((await h.runs()).map((r) => r.status).sort(), ['running', 'succeeded', 'succeeded', 'succeeded'], 'free still running, the group done');
    const leases = await h.database.db.selectFrom('smart_cron_leases').selectAll().where('name', 'like', 'mutex:%').execute();
    assert.deepEqual(leases, [], 'each run gave the group back');
  } finally {
    await h.close();
  }
});
