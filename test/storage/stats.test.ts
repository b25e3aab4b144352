import assert from 'node:assert/strict';
import { StatsRepo, hourOf } from '../../src/storage/repos/stats.js';
import { insertJob } from '../helpers/fixtures.js';
import { forEachDatabase } from '../helpers/postgres.js';

const H = 3600_000;
const M = 60_000;
const NOW = Date.UTC(2026, 5, 2, 12, 20, 0);

forEachDatabase('hourly stats: one bucket per job and hour, summed into the 24 h stats', async ({ database }) => {
  const job = await insertJob(database, 'stats');
  const other = await insertJob(database, 'other');
  const stats = new StatsRepo(database.db);
  // The current hour and the 23 before it count; the hour before those does not.
  await stats.add(job.id, NOW - 15 * M, { durationMs: 2000, memoryMb: 100, failed: false }); // 12:05 today
  await stats.add(job.id, NOW - 10 * M, { durationMs: 4000, memoryMb: null, failed: true }); // 12:10 today, same bucket
  await stats.add(job.id, NOW - 23 * H - 10 * M, { durationMs: 9000, memoryMb: 300, failed: false }); // 13:10 yesterday
  await stats.add(job.id, NOW - 23 * H - 30 * M, { durationMs: 99_000, memoryMb: 999, failed: true }); // 12:50 yesterday: out
  await stats.add(other.id, NOW - M, { durationMs: 50_000, memoryMb: 5000, failed: true });

  const buckets = await database.db.selectFrom('smart_cron_job_stats_hourly').selectAll().where('job_id', '=', job.id).orderBy('hour').execute();
  assert.deepEqual(
    buckets.map((b) => [b.hour, Number(b.runs), Number(b.failures)]),
    [
      [hourOf(NOW - 23 * H - 30 * M), 1, 1],
      [hourOf(NOW - 23 * H - 10 * M), 1, 0],
      [hourOf(NOW), 2, 1],
    ],
  );
  const current = buckets[2]!;
  assert.equal(Number(current.sum_duration_ms), 6000);
  assert.equal(Number(current.max_duration_ms), 4000);
  assert.equal(Number(current.memory_runs), 1, 'a run without a memory figure does not dilute the average');
  assert.equal(Number(current.max_memory_mb), 100);

  assert.deepEqual(await stats.last24h(job.id, NOW), {
    executions_24h: 3,
    failures_24h: 1,
    avg_duration_24h: 5, // (2 + 4 + 9) s / 3
    max_duration_24h: 9,
    avg_memory_24h: 200, // (100 + 300) / 2 runs that reported memory
    max_memory_24h: 300,
  });
  // An hour later yesterday's 13:00 bucket has rolled off.
  assert.deepEqual(await stats.last24h(job.id, NOW + H), {
    executions_24h: 2,
    failures_24h: 1,
    avg_duration_24h: 3,
    max_duration_24h: 4,
    avg_memory_24h: 100,
    max_memory_24h: 100,
  });
  assert.deepEqual(await stats.last24h(job.id, NOW + 25 * H), {
    executions_24h: 0,
    failures_24h: 0,
    avg_duration_24h: null,
    max_duration_24h: null,
    avg_memory_24h: null,
    max_memory_24h: null,
  });
});

forEachDatabase('hourly stats: prune drops buckets before a time', async ({ database }) => {
  const job = await insertJob(database, 'prune');
  const stats = new StatsRepo(database.db);
  for (let h = 0; h < 48; h++) await stats.add(job.id, NOW - h * H, { durationMs: 1, memoryMb: 1, failed: false });
  assert.equal(await stats.prune(NOW - 24 * H), 23, "buckets before the hour of the cut-off (12:00 yesterday is kept)");
  assert.equal((await stats.last24h(job.id, NOW)).executions_24h, 24);
});
