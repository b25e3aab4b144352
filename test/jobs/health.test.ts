import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { compareForDashboard, executionStatus, healthStatus, type HealthInputs } from '../../src/jobs/health.js';
import { forEachDatabase } from '../helpers/postgres.js';
import { manager, recordRun, START } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = START;

const at = (agoMs: number | null) => (agoMs === null ? null : iso(NOW - agoMs));

/** consecutive failures, executions_24h, failures_24h, last run ago -> health, execution status */
const CASES: [number, number, number, number | null, string, string][] = [
  [0, 0, 0, null, 'healthy', 'never_run'],
  [0, 10, 0, 5 * MIN, 'healthy', 'ok'],
  [1, 10, 1, 5 * MIN, 'healthy', 'failing'],
  [2, 10, 2, 5 * MIN, 'warning', 'failing'],
  [3, 10, 3, 5 * MIN, 'critical', 'failing'],
  [7, 10, 7, null, 'critical', 'never_run'],
  [0, 10, 2, 5 * MIN, 'healthy', 'ok'], // exactly 20 %
  [0, 10, 3, 5 * MIN, 'warning', 'ok'], // above 20 %
  [0, 0, 1, 5 * MIN, 'warning', 'ok'],
  [0, 10, 0, 59 * MIN, 'healthy', 'ok'],
  [0, 10, 0, HOUR, 'healthy', 'ok'], // exactly an hour is not older than an hour
  [0, 10, 0, HOUR + 1, 'healthy', 'overdue'],
  [0, 10, 0, 23 * HOUR, 'healthy', 'overdue'],
  [0, 10, 0, 24 * HOUR, 'healthy', 'overdue'],
  [0, 10, 0, 24 * HOUR + 1, 'warning', 'overdue'],
  [1, 10, 0, 25 * HOUR, 'warning', 'overdue'],
];

test('healthStatus and executionStatus: the seed rules around every boundary', () => {
  for (const [cf, e, f, ago, health, exec] of CASES) {
    const j: HealthInputs = { consecutive_failures: cf, executions_24h: e, failures_24h: f, last_executed_at: at(ago) };
    assert.equal(healthStatus(j, NOW), health, `health of ${JSON.stringify(j)}`);
    assert.equal(executionStatus(j, NOW), exec, `execution status of ${JSON.stringify(j)}`);
  }
});

test('compareForDashboard: enabled first, then health, then priority, then next run (none last), then name', () => {
  const j = (name: string, health: 'critical' | 'warning' | 'healthy', priority: 'critical' | 'high' | 'medium' | 'low', next: string | null) => ({
    name,
    health_status: health,
    priority,
    next_scheduled_run: next,
  });
  const list = [
    j('e', 'healthy', 'critical', null),
    j('d', 'healthy', 'critical', '2026-06-01T13:00:00.000Z'),
    j('c', 'warning', 'low', '2026-06-01T12:00:00.000Z'),
    j('b', 'warning', 'high', null),
    j('a', 'critical', 'low', null),
    j('f', 'healthy', 'critical', '2026-06-01T13:00:00.000Z'),
    { ...j('off', 'critical', 'critical', null), enabled: 0 },
  ];
  assert.deepEqual(list.sort(compareForDashboard).map((x) => x.name), ['a', 'b', 'c', 'd', 'f', 'e', 'off'], 'a disabled job is not judged: after every enabled one');
});

forEachDatabase('getJobHealthSummary: counts and the dashboard order of the enabled jobs', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const add = async (name: string, priority: 'critical' | 'high' | 'medium' | 'low', schedule = '0 * * * *', enabled = true) =>
    (await mgr.registerJob({ name, schedule, timezone: 'UTC', command: ['true'], priority, enabled } as never, { source: 'manual' })).job;
  const broken = await add('broken', 'low');
  const flaky = await add('flaky', 'high');
  const fine = await add('fine', 'critical', '*/10 * * * *');
  await add('new', 'critical');
  await add('off', 'critical', '0 * * * *', false);
  for (let i = 0; i < 3; i++) await recordRun(mgr, clock, broken.id, { status: 'failed' });
  for (let i = 0; i < 2; i++) await recordRun(mgr, clock, flaky.id, { status: 'timeout' });
  await recordRun(mgr, clock, fine.id);
  const s = await mgr.getJobHealthSummary();
  assert.deepEqual(s.counts, { critical: 1, warning: 1, healthy: 2 });
  assert.deepEqual(s.jobs.map((j) => [j.name, j.health_status, j.execution_status]), [
    ['broken', 'critical', 'failing'],
    ['flaky', 'warning', 'failing'],
    ['fine', 'healthy', 'ok'], // next run 12:10 before new's 13:00
    ['new', 'healthy', 'never_run'],
  ]);
  await clock.advance(25 * HOUR);
  const later = await mgr.getJobHealthSummary();
  assert.deepEqual(later.counts, { critical: 1, warning: 2, healthy: 1 }, 'fine has not run for more than 24 h');
  assert.equal(later.jobs.find((j) => j.name === 'fine')!.execution_status, 'overdue');
});

forEachDatabase('getPerformanceTrends: per day within the range, oldest first', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const job = (await mgr.registerJob({ name: 't', schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' })).job;
  const other = (await mgr.registerJob({ name: 'o', schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' })).job;
  await recordRun(mgr, clock, job.id, { durationMs: 1000, memoryMb: 10 });
  await recordRun(mgr, clock, job.id, { status: 'failed', durationMs: 3000, memoryMb: 30 });
  await recordRun(mgr, clock, other.id);
  await clock.advance(24 * HOUR);
  await recordRun(mgr, clock, job.id, { durationMs: 5000, memoryMb: 50 });
  await clock.advance(10 * 24 * HOUR);
  const rows = await mgr.getPerformanceTrends('t');
  assert.deepEqual(
    rows.map((r) => [r.day, r.runs, r.failures, Number(r.avg_duration_ms), Number(r.max_memory_mb)]),
    [
      ['2026-06-01', 2, 1, 2000, 30],
      ['2026-06-02', 1, 0, 5000, 50],
    ],
  );
  assert.deepEqual((await mgr.getPerformanceTrends('t', { days: 5 })).length, 0, 'older than the range');
  await assert.rejects(mgr.getPerformanceTrends('missing'), /no job named "missing"/);
});

forEachDatabase('trends: --days N is N UTC calendar days, today included; a cancelled run is neither a run nor a failure', async ({ database }) => {
  const { mgr, clock } = manager(database); // 2026-06-01 12:07 UTC
  const job = (await mgr.registerJob({ name: 't', schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' })).job;
  await recordRun(mgr, clock, job.id, { status: 'failed' });
  await recordRun(mgr, clock, job.id);
  await recordRun(mgr, clock, job.id, { status: 'interrupted' });
  assert.deepEqual((await mgr.getPerformanceTrends('t', { days: 1 })).map((r) => [r.day, r.runs, r.failures]), [['2026-06-01', 2, 1]], 'as the counters: 2 runs, 1 failed');
  const j = await mgr.getJob('t');
  assert.deepEqual([j.total_executions, j.failed_executions], [2, 1]);
  await clock.advance(12 * HOUR); // 2026-06-02 00:07
  assert.deepEqual(await mgr.getPerformanceTrends('t', { days: 1 }), [], '1 day is today only, not yesterday too');
  assert.deepEqual((await mgr.getPerformanceTrends('t', { days: 2 })).map((r) => r.day), ['2026-06-01']);
});

forEachDatabase('24 h figures and health are as of when they are read, not as of the last run', async ({ database }) => {
  const { mgr, clock } = manager(database); // 12:07
  const add = async (name: string) => (await mgr.registerJob({ name, schedule: '0 * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' })).job;
  const once = await add('once');
  const recovered = await add('recovered');
  await recordRun(mgr, clock, once.id, { status: 'failed' });
  await recordRun(mgr, clock, recovered.id, { status: 'failed' });
  await clock.advance(23 * HOUR + 50 * MIN); // 11:59 the next day
  const r = await recordRun(mgr, clock, recovered.id);
  assert.deepEqual([r.job.executions_24h, r.job.failures_24h], [2, 1], 'one of two failed: over 20 %');
  await clock.advance(80 * MIN); // 13:19: yesterday's 12:00 bucket has rolled off; recovered last ran 80 min ago
  const figures = (j: { executions_24h: number; failures_24h: number }) => [j.executions_24h, j.failures_24h];
  assert.deepEqual(figures(await mgr.getJob('recovered')), [1, 0], 'jobs show');
  const summary = await mgr.getJobHealthSummary();
  const rec = summary.jobs.find((j) => j.name === 'recovered')!;
  assert.deepEqual([rec.executions_24h, rec.failures_24h, rec.health_status], [1, 0, 'healthy'], 'no longer "1 of 2 failed"');
  assert.deepEqual(summary.counts, { critical: 0, warning: 1, healthy: 1 }, 'once: not run for more than 24 h');
  assert.deepEqual(await mgr.jobs.healthCounts(clock.now()), summary.counts, 'the overview counts (SQL) agree');
  assert.deepEqual((await mgr.listJobs({ health: 'warning' })).jobs.map((j) => j.name), ['once']);

  await clock.advance(3 * 24 * HOUR);
  const shown = [
    await mgr.getJob('once'),
    (await mgr.listJobs()).jobs.find((x) => x.name === 'once')!,
    (await mgr.getJobHealthSummary()).jobs.find((x) => x.name === 'once')!,
  ];
  for (const j of shown) assert.deepEqual(figures(j as never), [0, 0], 'a run 3 days ago is not in the last 24 h');
  assert.equal((await mgr.getJob('once')).total_executions, 1, 'the totals stay');
});
