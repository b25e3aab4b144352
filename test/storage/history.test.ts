import assert from 'node:assert/strict';
import { iso } from '../../src/clock.js';
import { HistoryRepo } from '../../src/storage/repos/history.js';
import { JobsRepo } from '../../src/storage/repos/jobs.js';
import { insertJob, insertRun, runRow } from '../helpers/fixtures.js';
import { forEachDatabase } from '../helpers/postgres.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

forEachDatabase('the run key (job_id, scheduled_for, attempt): a second insert of the same tick returns null', async ({ database }) => {
  const job = await insertJob(database, 'tick');
  const history = new HistoryRepo(database.db);
  const first = await history.insertOnce(runRow(job.id, { scheduled_for: iso(T0) }));
  assert.ok(first, 'first insert creates the run');
  assert.equal(first.status, 'queued');
  assert.equal(await history.insertOnce(runRow(job.id, { scheduled_for: iso(T0), node: 'other' })), null);
  // The other parts of the key make a different run.
  assert.ok(await history.insertOnce(runRow(job.id, { scheduled_for: iso(T0), attempt: 2, trigger: 'retry' })));
  assert.ok(await history.insertOnce(runRow(job.id, { scheduled_for: iso(T0 + 60_000) })));
  const other = await insertJob(database, 'other');
  assert.ok(await history.insertOnce(runRow(other.id, { scheduled_for: iso(T0) })));
  const rows = await history.list({ jobId: job.id });
  assert.equal(rows.length, 3);
});

forEachDatabase('the run key holds between two connections inserting the same ticks at once', async ({ database, open }) => {
  const job = await insertJob(database, 'race');
  const second = await open();
  const a = new HistoryRepo(database.db);
  const b = new HistoryRepo(second.db);
  const ticks = Array.from({ length: 25 }, (_, i) => iso(T0 + i * 60_000));
  const results = await Promise.all(
    ticks.flatMap((t) => [
      a.insertOnce(runRow(job.id, { scheduled_for: t, node: 'a' })),
      b.insertOnce(runRow(job.id, { scheduled_for: t, node: 'b' })),
    ]),
  );
  for (let i = 0; i < ticks.length; i++) {
    const pair = [results[2 * i], results[2 * i + 1]];
    assert.equal(pair.filter((r) => r !== null).length, 1, `tick ${ticks[i]}: exactly one connection wins`);
  }
  const count = await database.db
    .selectFrom('smart_cron_job_history')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('job_id', '=', job.id)
    .executeTakeFirstOrThrow();
  assert.equal(Number(count.n), ticks.length);
});

forEachDatabase('transition only moves a run out of the given states', async ({ database }) => {
  const job = await insertJob(database, 'transition');
  const history = new HistoryRepo(database.db);
  const run = await insertRun(database, job.id);
  assert.equal(await history.transition(run.id, ['queued'], { status: 'running', started_at: iso(T0) }), true);
  assert.equal(await history.transition(run.id, ['queued'], { status: 'skipped' }), false);
  assert.equal((await history.byId(run.id))!.status, 'running');
});

forEachDatabase('removing a job removes its history, tags, hourly stats and dependencies', async ({ database }) => {
  const jobs = new JobsRepo(database.db);
  const job = await insertJob(database, 'doomed');
  const keep = await insertJob(database, 'kept');
  await jobs.setTags(job.id, ['a', 'b']);
  await jobs.setTags(keep.id, ['a']);
  await insertRun(database, job.id);
  await insertRun(database, keep.id);
  await database.db.insertInto('smart_cron_job_stats_hourly').values({ job_id: job.id, hour: iso(T0) }).execute();
  await database.db
    .insertInto('smart_cron_job_dependencies')
    .values({ job_id: keep.id, depends_on_job_id: job.id, kind: 'requires', created_at: iso(T0) })
    .execute();
  assert.equal(await jobs.delete(job.id), true);
  assert.equal(await jobs.delete(job.id), false, 'a second delete finds nothing');

  const left = async (table: 'smart_cron_job_history' | 'smart_cron_job_tags' | 'smart_cron_job_stats_hourly', id: number) =>
    Number((await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('job_id', '=', id).executeTakeFirstOrThrow()).n);
  assert.equal(await left('smart_cron_job_history', job.id), 0);
  assert.equal(await left('smart_cron_job_tags', job.id), 0);
  assert.equal(await left('smart_cron_job_stats_hourly', job.id), 0);
  assert.equal(await left('smart_cron_job_history', keep.id), 1, 'other jobs keep theirs');
  assert.equal(await left('smart_cron_job_tags', keep.id), 1);
  const deps = await database.db.selectFrom('smart_cron_job_dependencies').selectAll().execute();
  assert.deepEqual(deps, []);
});

forEachDatabase('history list is newest first with filters and keyset paging', async ({ database }) => {
  const job = await insertJob(database, 'paging');
  const history = new HistoryRepo(database.db);
  const ids: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await insertRun(database, job.id, {
      scheduled_for: iso(T0 + i * 60_000),
      status: i % 2 ? 'failed' : 'succeeded',
      node: i < 3 ? 'n1' : 'n2',
    });
    ids.push(r.id);
  }
  const all = await history.list({ jobId: job.id });
  assert.deepEqual(all.map((r) => r.id), [...ids].reverse());
  assert.deepEqual((await history.list({ jobId: job.id, status: 'failed' })).map((r) => r.id), [ids[5], ids[3], ids[1]]);
  assert.deepEqual((await history.list({ jobId: job.id, node: 'n1' })).map((r) => r.id), [ids[2], ids[1], ids[0]]);
  assert.deepEqual((await history.list({ jobId: job.id, limit: 2 })).map((r) => r.id), [ids[6], ids[5]]);
  assert.deepEqual((await history.list({ jobId: job.id, limit: 2, beforeId: ids[5] })).map((r) => r.id), [ids[4], ids[3]]);
  const last = await history.lastFinished(job.id);
  assert.equal(last?.id, ids[6]);
});
