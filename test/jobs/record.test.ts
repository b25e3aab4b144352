import assert from 'node:assert/strict';
import { iso } from '../../src/clock.js';
import type { JobManager } from '../../src/jobs/manager.js';
import type { RunStatus } from '../../src/storage/schema.js';
import { forEachDatabase } from '../helpers/postgres.js';
import { reservationFor } from '../../src/execution/slots.js';
import { manager, recordRun, startRun } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

async function addJob(mgr: JobManager, name = 'job') {
  return (await mgr.registerJob({ name, schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' })).job;
}

/** [status, counts as an execution, counts as a failure] */
const OUTCOMES: [RunStatus, boolean, boolean][] = [
  ['succeeded', true, false],
  ['failed', true, true],
  ['timeout', true, true],
  ['memory_limit', true, true],
  ['oom_killed', true, true],
  ['interrupted', false, false],
  ['lost', false, false],
  ['skipped', false, false],
];

forEachDatabase('recordExecution: what each outcome does to the counters', async ({ database }) => {
  const { mgr, clock } = manager(database);
  for (const [status, executed, failed] of OUTCOMES) {
    const job = await addJob(mgr, `job-${status.replace('_', '-')}`);
    // Start from one failure in a row, to see resets and increments.
    await recordRun(mgr, clock, job.id, { status: 'failed' });
    const r = await recordRun(mgr, clock, job.id, { status });
    assert.equal(r.applied, true);
    const j = r.job;
    assert.equal(j.total_executions, executed ? 2 : 1, `${status}: total`);
    assert.equal(j.failed_executions, failed ? 2 : 1, `${status}: failed`);
    assert.equal(j.successful_executions, status === 'succeeded' ? 1 : 0, `${status}: successful`);
    assert.equal(j.consecutive_failures, !executed ? 1 : failed ? 2 : 0, `${status}: consecutive failures`);
    assert.equal(j.executions_24h, executed ? 2 : 1, `${status}: 24 h executions`);
    assert.equal(j.failures_24h, failed ? 2 : 1, `${status}: 24 h failures`);
    assert.equal(j.last_status, status);
    if (failed) assert.ok(j.last_error_message, `${status}: a failure leaves an error message`);
    if (status === 'succeeded') {
      assert.equal(j.last_error_message, null);
      assert.equal(j.last_success_at, r.run.finished_at);
    }
  }
});

forEachDatabase('recordExecution: success resets consecutive failures; failures count up', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  const seen: number[] = [];
  for (const s of ['failed', 'timeout', 'oom_killed', 'succeeded', 'memory_limit', 'skipped', 'failed'] as const) {
    seen.push((await recordRun(mgr, clock, job.id, { status: s })).job.consecutive_failures);
  }
  assert.deepEqual(seen, [1, 2, 3, 0, 1, 1, 2]);
  const j = await mgr.getJob(job.id);
  assert.equal(j.total_executions, 6);
  assert.equal(j.failed_executions, 5);
  assert.equal(j.successful_executions, 1);
});

forEachDatabase('recordExecution: the run gets its final fields and last_executed_at is its start', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  const run = await startRun(mgr, job.id);
  await clock.advance(2500);
  const r = await mgr.recordExecution(run.id, { status: 'failed', duration_ms: 2500, exit_code: 3, error_message: 'boom', peak_memory_mb: 42 });
  assert.equal(r.run.status, 'failed');
  assert.equal(r.run.finished_at, iso(clock.now()));
  assert.equal(r.run.exit_code, 3);
  assert.equal(r.run.recorded, 1);
  assert.equal(r.job.last_executed_at, run.started_at);
  assert.equal(r.job.last_finished_at, iso(clock.now()));
  assert.equal(r.job.last_exit_code, 3);
  assert.equal(r.job.last_error_message, 'boom');
  assert.equal(r.job.max_memory_24h, 42);
  assert.equal(r.job.avg_duration_24h, 2.5);
});

forEachDatabase('recordExecution is exactly once: a second record of the same run changes nothing', async ({ database, open, dialect }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  const run = await startRun(mgr, job.id);
  await clock.advance(1000);
  const first = await mgr.recordExecution(run.id, { status: 'failed', duration_ms: 1000, exit_code: 1 });
  assert.equal(first.applied, true);
  const again = await mgr.recordExecution(run.id, { status: 'succeeded', duration_ms: 5, exit_code: 0 });
  assert.equal(again.applied, false);
  assert.equal(again.run.status, 'failed', 'the first outcome stands');
  assert.deepEqual(again.job, first.job);

  // Two nodes (connections) recording the same run: one applies it. At the same time on
  // PostgreSQL; one after the other on SQLite, where two connections in one thread would
  // wait on each other's write lock (busy_timeout blocks the thread).
  const run2 = await startRun(mgr, job.id);
  const other = manager(await open(), clock.now()).mgr;
  const record = (m: JobManager) => m.recordExecution(run2.id, { status: 'succeeded', duration_ms: 10 });
  const both = dialect === 'postgres' ? await Promise.all([record(mgr), record(other)]) : [await record(mgr), await record(other)];
  assert.deepEqual(both.map((r) => r.applied).sort(), [false, true]);
  const j = await mgr.getJob(job.id);
  assert.equal(j.total_executions, 2);
  assert.equal(j.executions_24h, 2);
  await assert.rejects(mgr.recordExecution(999_999, { status: 'succeeded' }), /no run with id 999999/);
});

forEachDatabase('24 h stats roll off after 24 hours of virtual time', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  await recordRun(mgr, clock, job.id, { status: 'failed', durationMs: 4000, memoryMb: 400 });
  await recordRun(mgr, clock, job.id, { durationMs: 2000, memoryMb: 200 });
  await clock.advance(12 * HOUR);
  const mid = await recordRun(mgr, clock, job.id, { durationMs: 6000, memoryMb: 600 });
  assert.equal(mid.job.executions_24h, 3);
  assert.equal(mid.job.failures_24h, 1);
  assert.equal(mid.job.avg_duration_24h, 4);
  assert.equal(mid.job.max_memory_24h, 600);
  await clock.advance(12 * HOUR + 2 * HOUR);
  const late = await recordRun(mgr, clock, job.id, { durationMs: 1000, memoryMb: 100 });
  assert.equal(late.job.executions_24h, 2, 'the first two runs are more than 24 h old');
  assert.equal(late.job.failures_24h, 0);
  assert.equal(late.job.avg_duration_24h, 3.5);
  assert.equal(late.job.max_memory_24h, 600);
  await clock.advance(25 * HOUR);
  const alone = await recordRun(mgr, clock, job.id, { durationMs: 8000, memoryMb: 80 });
  assert.equal(alone.job.executions_24h, 1);
  assert.equal(alone.job.avg_memory_24h, 80);
  assert.equal(alone.job.total_executions, 5, 'the totals never roll off');
});

forEachDatabase('baselines: every 10th execution, from successful runs only', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  for (let i = 1; i <= 9; i++) {
    const failed = i % 2 === 0;
    const r = await recordRun(mgr, clock, job.id, { status: failed ? 'failed' : 'succeeded', durationMs: failed ? 60_000 : 2000, memoryMb: failed ? 900 : 100 + i, cpuPercent: 20 });
    assert.equal(r.baselineUpdated, false);
    assert.equal(r.job.baseline_duration_seconds, null, `no baseline after ${i} runs`);
  }
  // A non-execution does not count towards the 10.
  assert.equal((await recordRun(mgr, clock, job.id, { status: 'skipped' })).baselineUpdated, false);
  const tenth = await recordRun(mgr, clock, job.id, { status: 'succeeded', durationMs: 2000, memoryMb: 200, cpuPercent: 20 });
  assert.equal(tenth.baselineUpdated, true);
  const j = tenth.job;
  assert.equal(j.baseline_duration_seconds, 2, 'failed runs (60 s) are left out');
  // successes: runs 1,3,5,7,9 (memory 101,103,105,107,109) and the tenth (200)
  assert.equal(j.baseline_memory_mb, (101 + 103 + 105 + 107 + 109 + 200) / 6);
  assert.equal(j.baseline_cpu_percent, 20);
  assert.equal(j.p95_memory_mb, 200);
  assert.equal(j.baseline_calculated_at, iso(clock.now()));
  for (let i = 11; i <= 19; i++) assert.equal((await recordRun(mgr, clock, job.id)).baselineUpdated, false);
  assert.equal((await recordRun(mgr, clock, job.id)).baselineUpdated, true, 'again at 20');
});

forEachDatabase('baselines: only the last 30 days, at most the last 100 successful runs', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = await addJob(mgr);
  for (let i = 0; i < 10; i++) await recordRun(mgr, clock, job.id, { durationMs: 50_000, memoryMb: 5000 });
  assert.equal((await mgr.getJob(job.id)).baseline_duration_seconds, 50);
  await clock.advance(31 * DAY);
  for (let i = 0; i < 10; i++) await recordRun(mgr, clock, job.id, { durationMs: 3000, memoryMb: 300 });
  const j = await mgr.getJob(job.id);
  assert.equal(j.baseline_duration_seconds, 3, 'runs older than 30 days are left out');
  assert.equal(j.baseline_memory_mb, 300);

  const job2 = await addJob(mgr, 'many');
  for (let i = 0; i < 10; i++) await recordRun(mgr, clock, job2.id, { durationMs: 100_000, memoryMb: 10 });
  for (let i = 0; i < 100; i++) await recordRun(mgr, clock, job2.id, { durationMs: 1000, memoryMb: 10 });
  assert.equal((await mgr.getJob(job2.id)).baseline_duration_seconds, 1, 'the oldest 10 of 110 are beyond the last 100');
});

forEachDatabase('the memory reservation counts measured peaks from the first run; runs not measured are left out', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = (await mgr.registerJob({ name: 'grows', schedule: '* * * * *', timezone: 'UTC', command: ['true'], estimated_memory_mb: 50 }, { source: 'manual' })).job;
  assert.equal(reservationFor(job).memoryMb, 50, 'before any run: the estimate');
  const first = await recordRun(mgr, clock, job.id, { memoryMb: 127 });
  assert.equal(first.baselineUpdated, false, 'the baselines still wait for 10 runs');
  assert.equal(first.job.baseline_memory_mb, null);
  assert.equal(reservationFor(first.job).memoryMb, 152.4, 'R = max(50, 1.2 x 127) after the first run');
  assert.equal(reservationFor(await mgr.getJob(job.id)).memoryMb, 152.4, 'as stored');
  // Too short to sample (null), or failed: neither moves the p95.
  await recordRun(mgr, clock, job.id, { memoryMb: null });
  await recordRun(mgr, clock, job.id, { status: 'failed', memoryMb: 900 });
  assert.equal((await mgr.getJob(job.id)).p95_memory_mb, 127);
  for (let i = 4; i <= 9; i++) await recordRun(mgr, clock, job.id, { memoryMb: null });
  const tenth = await recordRun(mgr, clock, job.id, { memoryMb: 100 });
  assert.equal(tenth.baselineUpdated, true);
  assert.equal(tenth.job.baseline_memory_mb, (127 + 100) / 2, 'the 7 runs without a measurement are not counted as 0 MB');
  assert.equal(tenth.job.p95_memory_mb, 127);
});
