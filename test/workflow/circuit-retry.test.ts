/**
 * The circuit breaker, retries and overlap policies where they meet, through the real Planner and
 * Dispatcher in virtual time on a real SQLite file (ScriptedLauncher decides how each run ends),
 * with the real AlertManager judging what is recorded:
 * - an open circuit stops dependency-triggered runs and retries (skipped, saying why), not manual
 *   ones; after the cool-down one trial runs;
 * - a retry skipped or cancelled before it ran makes the failure before it final: `on failure`
 *   dependents run and the failure alert is raised;
 * - the circuit_open alert follows the circuit at once: raised when it opens, kept through a
 *   failed trial (no recovery notice), resolved by a successful one;
 * - manual_respects_overlap follows queue and replace, not only forbid.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertManager } from '../../src/alerts/manager.js';
import { validateConfig } from '../../src/config/load.js';
import { cancelRun } from '../../src/execution/cancel.js';
import { DependencyRepo } from '../../src/jobs/dependencies.js';
import { presentJob } from '../../src/jobs/job.js';
import type { AlertRow, RunRow } from '../../src/storage/schema.js';
import { harness, type Harness } from '../fixtures/exec-core/harness.js';

const NEVER = '0 0 1 1 *';
const EVERY_MIN = '* * * * *';

async function link(h: Harness, job: string, parent: string, on: 'success' | 'failure') {
  await new DependencyRepo(h.database.db).add((await h.jobs.getJob(job)).id, (await h.jobs.getJob(parent)).id, 'triggers', { on }, h.clock.now());
}

/** The real alert manager on this harness's 'recorded' event, as the daemon wires it; `rows()` waits for its writes. */
function withAlerts(h: Harness) {
  const alerts = new AlertManager({ db: h.database.db, clock: h.clock, config: validateConfig({}, 'test config'), logger: { warn() {}, info() {}, error() {} } });
  h.jobs.on('recorded', (r) => void alerts.onRecorded(r));
  return {
    alerts,
    async rows(job: string): Promise<AlertRow[]> {
      await alerts.idle();
      return h.database.db.selectFrom('smart_cron_performance_alerts').selectAll().where('job_id', '=', (await h.jobs.getJob(job)).id).orderBy('id').execute();
    },
  };
}

async function manual(h: Harness, name: string): Promise<RunRow> {
  const row = await h.d.requestRun({ job: name });
  await h.quiesce();
  return (await h.jobs.history.byId(row.id))!;
}

async function finish(h: Harness, run: RunRow, status: 'succeeded' | 'failed'): Promise<void> {
  await h.clock.advance(500);
  h.launcher.finish(run.id, { status });
  await h.quiesce();
}

const rows = async (h: Harness, name: string) => (await h.runs(name)).map((r) => `${r.trigger}:${r.status}`);

test('an open circuit skips dependency-triggered runs, saying why; manual runs still run; after the cool-down one trial closes it', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'cp', schedule: NEVER });
    await h.add({ name: 'cf', schedule: NEVER, circuit_failure_threshold: 2, circuit_cooldown_seconds: 600 });
    await link(h, 'cf', 'cp', 'success');
    h.d.start();
    for (let i = 0; i < 2; i++) {
      await finish(h, await manual(h, 'cp'), 'succeeded');
      const child = (await h.runs('cf')).at(-1)!;
      assert.equal(`${child.trigger}:${child.status}`, 'dependency:running');
      await finish(h, child, 'failed');
    }
    assert.equal((await h.jobs.getJob('cf')).circuit_state, 'open');
    await finish(h, await manual(h, 'cp'), 'succeeded');
    const skipped = (await h.runs('cf')).at(-1)!;
    assert.equal(`${skipped.trigger}:${skipped.status}`, 'dependency:skipped');
    assert.match(skipped.skip_reason!, /^circuit open after repeated failures, until /);
    assert.equal(h.launcher.running.length, 0, 'nothing of cf started');

    const byHand = await manual(h, 'cf');
    assert.equal(byHand.status, 'running', 'a manual run is always allowed');
    await finish(h, byHand, 'failed');
    assert.equal((await h.jobs.getJob('cf')).circuit_state, 'open', 'a failed manual run leaves it open');

    await h.clock.advance(601_000);
    await finish(h, await manual(h, 'cp'), 'succeeded');
    const trial = (await h.runs('cf')).at(-1)!;
    assert.equal(`${trial.trigger}:${trial.status}`, 'dependency:running', 'after the cool-down, the triggered run is the trial');
    assert.equal((await h.jobs.getJob('cf')).circuit_state, 'half_open');
    await finish(h, trial, 'succeeded');
    assert.equal((await h.jobs.getJob('cf')).circuit_state, 'closed');
  } finally {
    await h.close();
  }
});

test('a tick counts once, by its final outcome: a failing run with two retries is one failure (the circuit opens on the last attempt, one alert); a run its retry rescues is a success', async () => {
  const h = await harness();
  const a = withAlerts(h);
  try {
    await h.add({ name: 'r', schedule: NEVER, retries: 2, retry_backoff_seconds: 2, circuit_failure_threshold: 1, circuit_cooldown_seconds: 600 });
    await h.add({ name: 'flaky', schedule: NEVER, retries: 1, retry_backoff_seconds: 2 });
    h.d.start();
    await finish(h, await manual(h, 'r'), 'failed');
    assert.deepEqual(await rows(h, 'r'), ['manual:failed', 'retry:queued']);
    let job = await h.jobs.getJob('r');
    assert.deepEqual([job.circuit_state, job.consecutive_failures, job.failed_executions], ['closed', 0, 0], 'an attempt a retry follows decides nothing yet');
    for (let attempt = 2; attempt <= 3; attempt++) {
      for (let i = 0; i < 30 && !h.launcher.running.length; i++) await h.step(1000); // its backoff
      const run = (await h.runs('r')).at(-1)!;
      assert.equal(`${run.trigger}:${run.status}:${run.attempt}`, `retry:running:${attempt}`, 'the circuit stays closed: the retry runs');
      await finish(h, run, 'failed');
    }
    job = await h.jobs.getJob('r');
    assert.deepEqual(
      [job.circuit_state, job.consecutive_failures, job.failed_executions, job.total_executions, job.executions_24h, job.failures_24h],
      ['open', 1, 1, 1, 1, 1],
      'one run, one failure: the final attempt opened the circuit',
    );
    assert.deepEqual(await rows(h, 'r'), ['manual:failed', 'retry:failed', 'retry:failed'], 'every attempt stays in the history');
    assert.equal((await a.rows('r')).filter((x) => x.alert_type === 'failure').length, 1);

    await finish(h, await manual(h, 'flaky'), 'failed');
    for (let i = 0; i < 30 && !h.launcher.running.length; i++) await h.step(1000);
    await finish(h, (await h.runs('flaky')).at(-1)!, 'succeeded');
    const flaky = await h.jobs.getJob('flaky');
    assert.deepEqual([flaky.total_executions, flaky.successful_executions, flaky.failed_executions, flaky.consecutive_failures, flaky.failures_24h], [1, 1, 0, 0, 0]);
    assert.equal(presentJob(flaky, h.clock.now()).health_status, 'healthy', 'a job its retry rescued never failed');
  } finally {
    await a.alerts.close();
    await h.close();
  }
});

test('a retry pending when the circuit opens (another tick failed for good meanwhile) is skipped saying why; the failure before it becomes final and is counted then', async () => {
  const h = await harness();
  const a = withAlerts(h);
  try {
    // Two overlapping ticks; a retry each, 90 s after its failure. Tick 1's retry fails for good
    // (opening the circuit, threshold 1) while tick 2's retry still waits.
    await h.add({ name: 'r', schedule: EVERY_MIN, overlap_policy: 'allow', retries: 1, retry_backoff_seconds: 90, circuit_failure_threshold: 1, circuit_cooldown_seconds: 3600 });
    await h.add({ name: 'on-fail', schedule: NEVER });
    await link(h, 'on-fail', 'r', 'failure');
    h.d.start();
    const failNext = async (what: string) => {
      for (let i = 0; i < 200 && !h.launcher.running.length; i++) await h.step(1000);
      const run = (await h.runs('r')).find((x) => x.status === 'running');
      assert.ok(run, `${what} started`);
      await finish(h, run!, 'failed');
      return run!;
    };
    const tick1 = await failNext('tick 1');
    const tick2 = await failNext('tick 2');
    assert.notEqual(tick1.scheduled_for, tick2.scheduled_for);
    await h.jobs.updateJob('r', { schedule: NEVER }); // no third tick
    const retry1 = await failNext("tick 1's retry");
    assert.equal(`${retry1.trigger}:${retry1.scheduled_for}`, `retry:${tick1.scheduled_for}`);
    assert.equal((await h.jobs.getJob('r')).circuit_state, 'open');
    const dependent = (await h.runs('on-fail'))[0]!;
    assert.equal(`${dependent.trigger}:${dependent.status}`, 'dependency:running', "tick 1's failure is final: its dependent runs");
    await finish(h, dependent, 'succeeded');
    await h.step(90_000); // past tick 2's retry time
    const retry2 = (await h.runs('r')).find((x) => x.trigger === 'retry' && x.scheduled_for === tick2.scheduled_for)!;
    assert.equal(retry2.status, 'skipped');
    assert.match(retry2.skip_reason!, /^circuit open after repeated failures, until /);
    assert.equal((await h.runs('r')).length, 4, 'nothing more of r ran');
    await h.step(1000);
    const job = await h.jobs.getJob('r');
    assert.deepEqual([job.failed_executions, job.consecutive_failures], [2, 2], "tick 2's failure counted once it became final");
    const failure = (await a.rows('r')).filter((x) => x.alert_type === 'failure');
    assert.equal(failure.length, 1);
    assert.equal(failure[0]!.resolved_at, null);
  } finally {
    await a.alerts.close();
    await h.close();
  }
});

test('cancelling a pending retry (through the dispatcher, or from another process as the CLI does) makes the failure before it final, once', async () => {
  const h = await harness();
  const a = withAlerts(h);
  try {
    await h.add({ name: 'rc', schedule: NEVER, retries: 1, retry_backoff_seconds: 60 });
    await h.add({ name: 'rc2', schedule: NEVER, retries: 1, retry_backoff_seconds: 60 });
    await h.add({ name: 'rc-onfail', schedule: NEVER });
    await h.add({ name: 'rc2-onfail', schedule: NEVER });
    await link(h, 'rc-onfail', 'rc', 'failure');
    await link(h, 'rc2-onfail', 'rc2', 'failure');
    h.d.start();
    const first = await manual(h, 'rc');
    await finish(h, first, 'failed');
    const retry = (await h.runs('rc'))[1]!;
    assert.equal(`${retry.trigger}:${retry.status}`, 'retry:queued');
    await h.d.cancelRun(retry.id, 'not now');
    await h.quiesce();
    await h.step(1000);
    assert.deepEqual(await rows(h, 'rc-onfail'), ['dependency:running']);
    const alert = (await a.rows('rc')).filter((x) => x.alert_type === 'failure');
    assert.deepEqual(alert.map((x) => [x.run_id, x.resolved_at]), [[first.id, null]]);

    // The CLI cancels in its own process: the daemon (this dispatcher) notices within a second.
    const first2 = await manual(h, 'rc2');
    await finish(h, first2, 'failed');
    const retry2 = (await h.runs('rc2'))[1]!;
    await cancelRun({ history: h.jobs.history, clock: h.clock }, retry2.id, 'cancelled with smart-cron cancel');
    await h.step(2000);
    assert.deepEqual(await rows(h, 'rc2-onfail'), ['dependency:running']);
    assert.equal((await a.rows('rc2')).filter((x) => x.alert_type === 'failure').length, 1);
    await h.step(5000);
    assert.deepEqual(await rows(h, 'rc-onfail'), ['dependency:running'], 'settled once');
    assert.equal((await h.runs('rc2-onfail')).length, 1, 'settled once');
  } finally {
    await a.alerts.close();
    await h.close();
  }
});

test('the circuit_open alert follows the circuit at once: raised when it opens, kept through a failed trial, resolved by a successful one', async () => {
  const h = await harness();
  const a = withAlerts(h);
  try {
    await h.add({ name: 'c', schedule: EVERY_MIN, circuit_failure_threshold: 1, circuit_cooldown_seconds: 10 });
    h.d.start();
    await finish(h, await manual(h, 'c'), 'failed'); // 12:00:31
    const open = () => a.rows('c').then((r) => r.filter((x) => x.alert_type === 'circuit_open'));
    assert.deepEqual((await open()).map((x) => x.resolved_at), [null], 'raised when the run that opened it was recorded');
    await h.step(30_000); // 12:01: the trial
    const trial = (await h.runs('c')).at(-1)!;
    assert.equal(`${trial.trigger}:${trial.status}`, 'schedule:running');
    await finish(h, trial, 'failed');
    assert.equal((await h.jobs.getJob('c')).circuit_state, 'open');
    const kept = await open();
    assert.deepEqual(kept.map((x) => x.resolved_at), [null], 'a failed trial keeps the alert open (no recovery notice)');
    await h.step(60_000); // 12:02: the next trial (cool-down doubled to 20 s)
    const second = (await h.runs('c')).at(-1)!;
    assert.equal(second.status, 'running');
    await finish(h, second, 'succeeded');
    assert.equal((await h.jobs.getJob('c')).circuit_state, 'closed');
    const resolved = await open();
    assert.equal(resolved.length, 1);
    assert.notEqual(resolved[0]!.resolved_at, null, 'resolved by the successful trial at once');
  } finally {
    await a.alerts.close();
    await h.close();
  }
});

test('manual_respects_overlap follows queue (one waits, a second is refused) and replace (the old run is stopped first, never both at once)', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'q', schedule: NEVER, overlap_policy: 'queue', manual_respects_overlap: true });
    await h.add({ name: 'rp', schedule: NEVER, overlap_policy: 'replace', manual_respects_overlap: true });
    await h.add({ name: 'al', schedule: NEVER, overlap_policy: 'queue' });
    h.d.start();
    const q1 = await manual(h, 'q');
    const q2 = await manual(h, 'q');
    assert.equal(q1.status, 'running');
    assert.equal(q2.status, 'queued');
    assert.equal(q2.wait_reason, 'waits for the previous run to end (overlap policy queue)');
    await assert.rejects(h.d.requestRun({ job: 'q' }), /job q already has run #\d+ waiting and its overlap policy is queue/);
    await finish(h, q1, 'succeeded');
    assert.equal((await h.jobs.history.byId(q2.id))!.status, 'running', 'the waiting one starts when the first ends');

    const r1 = await manual(h, 'rp');
    const r2 = await manual(h, 'rp');
    const old = (await h.jobs.history.byId(r1.id))!;
    assert.equal(old.status, 'interrupted');
    assert.match(old.error_message!, new RegExp(`replaced by manual run #${r2.id} \\(overlap policy replace\\)`));
    assert.equal(r2.status, 'running');
    assert.ok(Date.parse(r2.started_at!) >= Date.parse(old.finished_at!), 'started after the replaced run ended');

    // Without manual_respects_overlap, manual runs ignore the policy as before.
    const a1 = await manual(h, 'al');
    const a2 = await manual(h, 'al');
    assert.deepEqual([a1.status, a2.status], ['running', 'running']);
  } finally {
    await h.close();
  }
});
