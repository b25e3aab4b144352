/**
 * The two seed views. smart_cron_active_jobs_summary must give the same health_status and
 * execution_status as the TypeScript rules in src/jobs/health.ts, its 24 h figures read from the
 * hourly buckets when queried (not the copies on the job row); the view reads the
 * database's real now(), so the rows are built relative to real time, with minutes of margin
 * around each boundary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { EXECUTED_STATUSES, FAILURE_STATUSES } from '../../src/jobs/job.js';
import { EXECUTED_STATUSES_0007, FAILURE_STATUSES_0007 } from '../../src/storage/migrations/0007_read_time_views.js';
import { hourOf } from '../../src/storage/repos/stats.js';
import { executionStatus, healthStatus } from '../../src/jobs/health.js';
import { insertJob, insertRun } from '../helpers/fixtures.js';
import { forEachDatabase } from '../helpers/postgres.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

const LAST_RUN: [string, number | null][] = [
  ['never', null],
  ['59m', 59 * MIN - 30_000], // inside the hour, 30 s of margin
  ['61m', 61 * MIN + 30_000],
  ['23h', 23 * HOUR],
  ['25h', 25 * HOUR],
];
/** executions_24h, failures_24h: none, 20 % exactly (several sizes), just above. */
const RATES: [number, number][] = [
  [0, 0],
  [5, 1],
  [10, 2],
  [35, 7],
  [100, 20],
  [5, 2],
  [100, 21],
  [10, 10],
];

forEachDatabase('active_jobs_summary gives the same health and execution status as src/jobs/health.ts', async ({ database }) => {
  const now = Date.now();
  const cases: { name: string; cf: number; exec: number; fail: number; last: string | null }[] = [];
  for (const cf of [0, 1, 2, 3, 4])
    for (const [e, f] of RATES)
      for (const [label, ago] of LAST_RUN) {
        cases.push({ name: `cf${cf}-r${e}_${f}-${label}`, cf, exec: e, fail: f, last: ago === null ? null : iso(now - ago) });
      }
  const ids = await database.db
    .insertInto('smart_cron_integrated_jobs')
    .values(
      cases.map((c) => ({
        name: c.name,
        schedule: '* * * * *',
        command: '["true"]',
        enabled: 1,
        consecutive_failures: c.cf,
        // The copies on the row are as of a last run long ago: the view reads the hourly buckets.
        executions_24h: 10,
        failures_24h: 10,
        last_executed_at: c.last,
        created_at: iso(now),
        updated_at: iso(now),
      })),
    )
    .returning(['id', 'name'])
    .execute();
  const idOf = new Map(ids.map((r) => [r.name, r.id]));
  const buckets = cases.flatMap((c) => [
    // 25 hours ago, all failed: rolled off.
    { job_id: idOf.get(c.name)!, hour: hourOf(now - 25 * HOUR), runs: 10, failures: 10 },
    ...(c.exec ? [{ job_id: idOf.get(c.name)!, hour: hourOf(now), runs: c.exec, failures: c.fail }] : []),
  ]);
  for (let i = 0; i < buckets.length; i += 100) await database.db.insertInto('smart_cron_job_stats_hourly').values(buckets.slice(i, i + 100)).execute();
  await insertJob(database, 'disabled', { enabled: 0 });

  const rows = await database.db.selectFrom('smart_cron_active_jobs_summary').selectAll().execute();
  const checkedAt = Date.now();
  assert.ok(checkedAt - now < 20_000, 'the margins assume the query ran within 20 s');
  assert.equal(rows.length, cases.length, 'only enabled jobs are in the view');
  const byName = new Map(rows.map((r) => [r.name, r]));
  const mismatches: string[] = [];
  for (const c of cases) {
    const r = byName.get(c.name)!;
    const inputs = { consecutive_failures: c.cf, executions_24h: c.exec, failures_24h: c.fail, last_executed_at: c.last };
    const want = [healthStatus(inputs, checkedAt), executionStatus(inputs, checkedAt)];
    const got = [r.health_status, r.execution_status];
    if (Number(r.executions_24h) !== c.exec || Number(r.failures_24h) !== c.fail) mismatches.push(`${c.name}: view 24 h ${r.executions_24h}/${r.failures_24h}`);
    if (want.join() !== got.join()) mismatches.push(`${c.name}: view ${got.join('/')} vs health.ts ${want.join('/')}`);
  }
  assert.deepEqual(mismatches, []);

  // Spot checks that the table really crosses each boundary.
  const status = (n: string) => [byName.get(n)!.health_status, byName.get(n)!.execution_status];
  assert.deepEqual(status('cf0-r0_0-never'), ['healthy', 'never_run']);
  assert.deepEqual(status('cf0-r0_0-59m'), ['healthy', 'ok']);
  assert.deepEqual(status('cf0-r0_0-61m'), ['healthy', 'overdue']);
  assert.deepEqual(status('cf0-r0_0-23h'), ['healthy', 'overdue']);
  assert.deepEqual(status('cf0-r0_0-25h'), ['warning', 'overdue']);
  assert.deepEqual(status('cf1-r0_0-59m'), ['healthy', 'failing']);
  assert.deepEqual(status('cf2-r0_0-59m'), ['warning', 'failing']);
  assert.deepEqual(status('cf3-r0_0-59m'), ['critical', 'failing']);
  assert.deepEqual(status('cf0-r5_1-59m'), ['healthy', 'ok'], 'exactly 20 % is not above 20 %');
  assert.deepEqual(status('cf0-r35_7-59m'), ['healthy', 'ok']);
  assert.deepEqual(status('cf0-r100_20-59m'), ['healthy', 'ok']);
  assert.deepEqual(status('cf0-r100_21-59m'), ['warning', 'ok']);
  assert.deepEqual(status('cf0-r5_2-59m'), ['warning', 'ok']);
  assert.deepEqual(status('cf4-r0_0-never'), ['critical', 'never_run']);
});

forEachDatabase('job_performance_trends: per job and day, runs and failures as the job counters count them', async ({ database }) => {
  const a = await insertJob(database, 'a');
  const b = await insertJob(database, 'b');
  const day1 = Date.UTC(2026, 5, 1, 10, 0, 0);
  const day2 = Date.UTC(2026, 5, 2, 23, 59, 0);
  let tick = 0;
  const run = (jobId: number, at: number, status: string, duration: number | null, memory: number | null) =>
    insertRun(database, jobId, {
      scheduled_for: iso(at + tick++ * 1000),
      status: status as never,
      queued_at: iso(at),
      started_at: status === 'queued' ? null : iso(at),
      finished_at: ['queued', 'running'].includes(status) ? null : iso(at + (duration ?? 0)),
      duration_ms: duration,
      peak_memory_mb: memory,
    });
  await run(a.id, day1, 'succeeded', 1000, 100);
  await run(a.id, day1, 'succeeded', 3000, 300);
  await run(a.id, day1, 'failed', 2000, null);
  await run(a.id, day1, 'timeout', 8000, 50);
  await run(a.id, day1, 'queued', null, null);
  await run(a.id, day1, 'running', null, null);
  await run(a.id, day1, 'skipped', null, null);
  await run(a.id, day2, 'oom_killed', 500, 900);
  // Cancelled, or lost with its node: neither an execution nor a failure (FAILURE_STATUSES).
  await run(a.id, day2, 'interrupted', 60_000, 5000);
  await run(a.id, day2, 'lost', null, null);
  await run(b.id, day2, 'succeeded', 10, 1);

  const rows = await database.db.selectFrom('smart_cron_job_performance_trends').selectAll().orderBy('job_id').orderBy('day').execute();
  assert.deepEqual(
    rows.map((r) => ({
      job: r.job_name,
      day: r.day,
      runs: Number(r.runs),
      failures: Number(r.failures),
      avg_d: Number(r.avg_duration_ms),
      max_d: Number(r.max_duration_ms),
      avg_m: r.avg_memory_mb === null ? null : Number(r.avg_memory_mb),
      max_m: r.max_memory_mb === null ? null : Number(r.max_memory_mb),
    })),
    [
      { job: 'a', day: '2026-06-01', runs: 4, failures: 2, avg_d: 3500, max_d: 8000, avg_m: 150, max_m: 300 },
      { job: 'a', day: '2026-06-02', runs: 1, failures: 1, avg_d: 500, max_d: 500, avg_m: 900, max_m: 900 },
      { job: 'b', day: '2026-06-02', runs: 1, failures: 0, avg_d: 10, max_d: 10, avg_m: 1, max_m: 1 },
    ],
  );
});

test('the trends view counts by the live rule: a change to what counts as run or failed needs a new migration', () => {
  assert.deepEqual([...FAILURE_STATUSES_0007].sort(), [...FAILURE_STATUSES].sort());
  assert.deepEqual([...EXECUTED_STATUSES_0007].sort(), [...EXECUTED_STATUSES].sort());
});
