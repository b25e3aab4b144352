import assert from 'node:assert/strict';
import { iso } from '../../src/clock.js';
import { compareForDashboard, healthStatus } from '../../src/jobs/health.js';
import { JobsRepo } from '../../src/storage/repos/jobs.js';
import { hourOf } from '../../src/storage/repos/stats.js';
import type { NewJobRow, Priority } from '../../src/storage/schema.js';
import { insertJob } from '../helpers/fixtures.js';
import { forEachDatabase } from '../helpers/postgres.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

/** name, priority, consecutive failures, next run (minutes from now, null = none), extra columns. */
const JOBS: [string, Priority, number, number | null, Partial<NewJobRow>][] = [
  ['healthy-low-soon', 'low', 0, 1, { category: 'backup' }],
  ['healthy-critical-late', 'critical', 0, 50, { category: 'backup', description: 'Nightly DUMP of the db' }],
  ['healthy-critical-soon', 'critical', 0, 5, { category: 'sync' }],
  ['healthy-critical-never', 'critical', 0, null, { category: 'sync' }],
  ['warning-low', 'low', 2, 1, { category: 'reporting' }],
  ['warning-high', 'high', 2, 100, { category: 'reporting', source: 'discovered' }],
  ['critical-medium', 'medium', 3, 30, { category: 'reporting' }],
  ['critical-high', 'high', 5, 40, { category: 'backup' }],
  // Failing when it was switched off: not judged (not counted, no --health match, listed last).
  ['disabled-one', 'critical', 5, null, { enabled: 0, category: 'sync', missing: 1 }],
  ['failure-rate', 'medium', 0, 10, { last_executed_at: iso(NOW - HOUR) }],
  ['stale', 'medium', 0, 10, { last_executed_at: iso(NOW - 25 * HOUR) }],
  // The copies on its row say 10 of 10 failed, as of a day ago: the buckets say none in the last 24 h.
  ['old-failures', 'medium', 0, null, { executions_24h: 10, failures_24h: 10, last_executed_at: iso(NOW - 23 * HOUR) }],
];

/** Hourly buckets: name -> [hours ago, runs, failures]. */
const BUCKETS: Record<string, [number, number, number][]> = {
  'failure-rate': [[1, 10, 3]],
  'old-failures': [[24, 10, 10]],
  'disabled-one': [[0, 5, 5]],
};

async function seed(database: Parameters<typeof insertJob>[0]) {
  const repo = new JobsRepo(database.db);
  for (const [name, priority, cf, next, extra] of JOBS) {
    const job = await insertJob(
      database,
      name,
      {
        priority,
        consecutive_failures: cf,
        next_scheduled_run: next === null ? null : iso(NOW + next * MIN),
        enabled: 1,
        command: JSON.stringify(['echo', name]),
        ...extra,
      },
      NOW,
    );
    await repo.setTags(job.id, name.startsWith('healthy') ? ['green', 'all'] : ['all']);
    for (const [ago, runs, failures] of BUCKETS[name] ?? []) {
      await database.db.insertInto('smart_cron_job_stats_hourly').values({ job_id: job.id, hour: hourOf(NOW - ago * HOUR), runs, failures }).execute();
    }
  }
  return repo;
}

forEachDatabase('jobs list: dashboard order is health (critical first), priority, next run (none last), name', async ({ database }) => {
  const repo = await seed(database);
  const { rows, total } = await repo.list({ enabled: true }, NOW);
  assert.equal(total, JOBS.length - 1);
  const expected = rows
    .map((r) => ({ ...r, health_status: healthStatus(r, NOW) }))
    .sort(compareForDashboard)
    .map((r) => r.name);
  assert.deepEqual(
    rows.map((r) => r.name),
    expected,
    'SQL order equals the TypeScript comparator',
  );
  assert.deepEqual(rows.map((r) => r.name), [
    'critical-high',
    'critical-medium',
    'warning-high',
    'failure-rate',
    'stale',
    'warning-low',
    'healthy-critical-soon',
    'healthy-critical-late',
    'healthy-critical-never',
    'old-failures',
    'healthy-low-soon',
  ]);
  const failing = rows.find((r) => r.name === 'failure-rate')!;
  const old = rows.find((r) => r.name === 'old-failures')!;
  assert.deepEqual([failing.executions_24h, failing.failures_24h, old.executions_24h, old.failures_24h], [10, 3, 0, 0], 'the 24 h figures as of now');

  // With the disabled jobs: after every enabled one, however it failed.
  const all = (await repo.list({}, NOW)).rows;
  assert.equal(all.at(-1)!.name, 'disabled-one');
  assert.deepEqual(
    all.map((r) => r.name),
    all
      .map((r) => ({ ...r, health_status: healthStatus(r, NOW) }))
      .sort(compareForDashboard)
      .map((r) => r.name),
    'SQL order equals the TypeScript comparator, disabled jobs too',
  );
});

forEachDatabase('jobs list: filters by enabled, category, tag, source, text, health and missing', async ({ database }) => {
  const repo = await seed(database);
  const names = async (f: Parameters<JobsRepo['list']>[0]) => (await repo.list({ ...f, sort: 'name' }, NOW)).rows.map((r) => r.name);
  assert.deepEqual(await names({ enabled: false }), ['disabled-one']);
  assert.deepEqual(await names({ category: 'backup' }), ['critical-high', 'healthy-critical-late', 'healthy-low-soon']);
  assert.deepEqual(await names({ tag: 'green' }), ['healthy-critical-late', 'healthy-critical-never', 'healthy-critical-soon', 'healthy-low-soon']);
  assert.deepEqual(await names({ source: 'discovered' }), ['warning-high']);
  assert.deepEqual(await names({ text: 'dump' }), ['healthy-critical-late'], 'description, case-insensitive');
  assert.equal((await names({ text: 'ECHO' })).length, JOBS.length, 'the command text (no name says echo)');
  assert.deepEqual(await names({ text: '%' }), [], 'LIKE wildcards are literal');
  assert.deepEqual(await names({ health: 'critical' }), ['critical-high', 'critical-medium'], 'disabled-one (5 failures in a row) is not judged');
  assert.deepEqual(await names({ enabled: false, health: 'critical' }), []);
  assert.deepEqual(await names({ health: 'warning' }), ['failure-rate', 'stale', 'warning-high', 'warning-low']);
  assert.deepEqual(await names({ missing: true }), ['disabled-one']);
  assert.deepEqual(await names({ category: 'reporting', health: 'warning' }), ['warning-high', 'warning-low']);
});

forEachDatabase('jobs list: sorting by a column either way, paging with a total', async ({ database }) => {
  const repo = await seed(database);
  const all = (await repo.list({ sort: 'name' }, NOW)).rows.map((r) => r.name);
  assert.deepEqual(all, [...all].sort());
  const desc = (await repo.list({ sort: '-name' }, NOW)).rows.map((r) => r.name);
  assert.deepEqual(desc, [...all].reverse());
  const byPriority = (await repo.list({ sort: 'priority' }, NOW)).rows.map((r) => r.priority);
  const rank = { critical: 0, high: 1, medium: 2, low: 3 };
  assert.deepEqual(byPriority, [...byPriority].sort((a, b) => rank[a] - rank[b]));

  const page1 = await repo.list({ sort: 'name', limit: 4 }, NOW);
  const page2 = await repo.list({ sort: 'name', limit: 4, offset: 4 }, NOW);
  const page3 = await repo.list({ sort: 'name', limit: 4, offset: 8 }, NOW);
  assert.equal(page1.total, JOBS.length);
  assert.equal(page3.total, JOBS.length);
  assert.deepEqual([...page1.rows, ...page2.rows, ...page3.rows].map((r) => r.name), all);
  assert.equal(page3.rows.length, JOBS.length - 8);
});

forEachDatabase('jobs repo: due jobs, earliest next run, health counts, by name / id / script', async ({ database }) => {
  const repo = await seed(database);
  await insertJob(database, 'scripted', { script_path: '/opt/x.sh', command: null, enabled: 1, next_scheduled_run: iso(NOW) }, NOW);
  const due = await repo.due(NOW + 5 * MIN);
  assert.deepEqual(
    due.map((r) => r.name).sort(),
    ['healthy-critical-soon', 'healthy-low-soon', 'scripted', 'warning-low'],
    'enabled jobs with next run <= now',
  );
  const times = due.map((r) => r.next_scheduled_run!);
  assert.deepEqual(times, [...times].sort(), 'soonest first');
  assert.equal(due[0]!.name, 'scripted');
  assert.equal(await repo.earliestNextRun(), iso(NOW));
  assert.deepEqual(await repo.healthCounts(NOW), { critical: 2, warning: 4, healthy: 6 });
  const byName = await repo.byRef('stale');
  assert.equal(byName?.name, 'stale');
  assert.equal((await repo.byRef(String(byName!.id)))?.name, 'stale');
  assert.equal((await repo.byRef(byName!.id))?.name, 'stale');
  assert.equal(await repo.byRef('no-such'), undefined);
  // Digits are an id first: a job named with digits alone (before names could not be) does not
  // hide the job with that id, and is still found by its name while no job has that id.
  const legacy = await repo.insert({ ...(await repo.byId(byName!.id))!, id: undefined, name: String(byName!.id), script_path: null } as never);
  assert.equal((await repo.byRef(String(byName!.id)))?.name, 'stale', 'the id wins');
  assert.equal((await repo.byRef(String(legacy.id)))?.name, String(byName!.id), 'its own id still finds it');
  const orphan = await repo.insert({ ...(await repo.byId(byName!.id))!, id: undefined, name: '99999', script_path: null } as never);
  assert.equal((await repo.byRef('99999'))?.id, orphan.id, 'no job 99999: the name');
  assert.equal((await repo.byScriptPath('/opt/x.sh'))?.name, 'scripted');
});
