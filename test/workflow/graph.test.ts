/**
 * The dependency graph on a real SQLite file: adding, updating and removing links, cycles refused
 * with the cycle named, the tree around a job, dependents, links removed with their job; the
 * duration parser; and the mutex claim between two nodes (two dispatchers on one database file).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { ConflictError, ValidationError } from '../../src/errors.js';
import { Workflow } from '../../src/execution/workflow.js';
import { DependencyRepo, parseDuration } from '../../src/jobs/dependencies.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { harness } from '../fixtures/exec-core/harness.js';
import { tempDir } from '../helpers/tmp.js';

async function graph(names: string[]) {
  const database = await openDatabase(`sqlite:${join(tempDir('smart-cron-deps-'), 'db.sqlite')}`);
  const jobs = new JobManager(database, systemClock);
  const ids: Record<string, number> = {};
  for (const name of names) ids[name] = (await jobs.registerJob({ name, schedule: '@daily', command: ['true'] }, { source: 'manual' })).job.id;
  const repo = new DependencyRepo(database.db);
  const add = (job: string, other: string, kind: 'requires' | 'triggers' = 'triggers', o: { window_seconds?: number; on?: 'success' | 'failure' | 'always' } = {}) =>
    repo.add(ids[job]!, ids[other]!, kind, o, Date.now());
  return { database, jobs, ids, repo, add };
}

test('cycles are refused, naming the cycle (over both kinds of link)', async () => {
  const g = await graph(['a', 'b', 'c', 'd']);
  try {
    await g.add('a', 'b', 'requires');
    await g.add('b', 'c');
    await g.add('d', 'c');
    const cases: [string, string, string][] = [
      ['c', 'a', 'would create a cycle: c → a → b → c'],
      ['b', 'a', 'would create a cycle: b → a → b'],
    ];
    for (const [job, other, message] of cases) {
      await assert.rejects(g.add(job, other), (e: unknown) => e instanceof ConflictError && e.message === message, `${job} -> ${other}`);
    }
    // A link to itself is no cycle to name: the other end is what is wrong.
    await assert.rejects(g.add('a', 'a'), (e: unknown) => e instanceof ValidationError && e.field === 'job' && e.message === "a cannot depend on itself (expected another job's name or id)");
    // Not a cycle: a diamond.
    await g.add('a', 'd');
    assert.equal((await g.repo.upstream(g.ids.a!)).length, 2);
  } finally {
    await g.database.close();
  }
});

test('adding again updates the window or outcome; remove by kind or both; tree, links and dependents', async () => {
  const g = await graph(['extract', 'load', 'report', 'mail']);
  try {
    assert.equal((await g.add('load', 'extract')).change, 'new');
    assert.equal((await g.add('load', 'extract')).change, 'unchanged');
    assert.equal((await g.add('load', 'extract', 'triggers', { on: 'always' })).change, 'updated');
    await g.add('report', 'load', 'requires', { window_seconds: 21600 });
    await g.add('report', 'load', 'triggers');
    await g.add('mail', 'report', 'triggers', { on: 'failure' });
    const links = await g.repo.links(g.ids.report!);
    assert.deepEqual(links, {
      upstream: [
        { job: { id: g.ids.load, name: 'load' }, kind: 'requires', on: 'success', window_seconds: 21600 },
        { job: { id: g.ids.load, name: 'load' }, kind: 'triggers', on: 'success', window_seconds: null },
      ],
      downstream: [{ job: { id: g.ids.mail, name: 'mail' }, kind: 'triggers', on: 'failure', window_seconds: null }],
    });
    const tree = await g.repo.tree(g.ids.report!, 1);
    assert.deepEqual(tree.upstream.map((n) => [n.job.name, n.truncated ?? false]), [['load', true], ['load', true]]);
    const deep = await g.repo.tree(g.ids.report!, 3);
    assert.equal(deep.upstream[0]!.children[0]!.job.name, 'extract');
    assert.deepEqual(await g.repo.dependents(g.ids.load!), [
      { id: g.ids.report, name: 'report', kind: 'requires' },
      { id: g.ids.report, name: 'report', kind: 'triggers' },
    ]);
    assert.deepEqual((await g.repo.remove(g.ids.report!, g.ids.load!, 'requires')).map((r) => r.kind), ['requires']);
    assert.deepEqual((await g.repo.remove(g.ids.report!, g.ids.load!)).map((r) => r.kind), ['triggers']);
    assert.deepEqual(await g.repo.remove(g.ids.report!, g.ids.load!), []);
    // Removing a job removes its links.
    await g.jobs.removeJob('mail');
    assert.deepEqual((await g.repo.links(g.ids.report!)).downstream, []);
  } finally {
    await g.database.close();
  }
});

test('durations: 30m, 6h, 2d, 90s, 1h30m, plain seconds; mistakes named', () => {
  const ok: [string, number][] = [
    ['30m', 1800],
    ['6h', 21600],
    ['2d', 172800],
    ['90s', 90],
    ['1h30m', 5400],
    ['3600', 3600],
    ['1w', 604800],
  ];
  for (const [text, secs] of ok) assert.equal(parseDuration(text, '--within'), secs, text);
  for (const bad of ['', '6x', 'h', '-5m', '0', '5 m']) {
    assert.throws(() => parseDuration(bad, '--within'), (e: unknown) => e instanceof ValidationError && e.message.startsWith('--within: '), bad);
  }
});

test('mutex between nodes: two workflows passing the history check at the same instant; the lease lets one claim', async () => {
  const h = await harness();
  try {
    await h.add({ name: 'x', schedule: '0 0 1 1 *', mutex_group: 'db' });
    await h.add({ name: 'y', schedule: '0 0 1 1 *', mutex_group: 'db' });
    const rx = await h.d.requestRun({ job: 'x' }); // queued (the dispatcher is not started)
    const ry = await h.d.requestRun({ job: 'y' });
    const n1 = new Workflow({ jobs: h.jobs, clock: h.clock });
    const n2 = new Workflow({ jobs: h.jobs, clock: h.clock });
    const jx = (await h.jobs.jobs.byId(rx.job_id))!;
    const jy = (await h.jobs.jobs.byId(ry.job_id))!;
    // Both gates see nothing running.
    assert.equal(await n1.gate(rx, jx, h.clock.now()), null);
    assert.equal(await n2.gate(ry, jy, h.clock.now()), null);
    const [a, b] = await Promise.all([n1.takeMutex(rx, jx, h.clock.now()), n2.takeMutex(ry, jy, h.clock.now())]);
    assert.deepEqual([a, b].sort(), [false, true]);
    const [winner, loser] = a ? [rx, ry] : [ry, rx];
    assert.match((await h.jobs.history.byId(loser.id))!.wait_reason!, new RegExp(`^mutex group db is being claimed by run #${winner.id}$`));
    // The winner claims; later checks see its running row. When it has ended, a stale lease (its node died before
    // releasing) does not hold the group.
    await h.jobs.history.transition(winner.id, ['queued'], { status: 'running', started_at: new Date(h.clock.now()).toISOString() });
    const loserRow = (await h.jobs.history.byId(loser.id))!;
    const loserJob = loser === rx ? jx : jy;
    assert.deepEqual(await n1.gate(loserRow, loserJob, h.clock.now()), { wait: `mutex group db held by job ${winner === rx ? 'x' : 'y'} run #${winner.id}` });
    await h.jobs.history.transition(winner.id, ['running'], { status: 'succeeded', finished_at: new Date(h.clock.now()).toISOString() });
    assert.equal(await n2.takeMutex(loserRow, loserJob, h.clock.now()), true);
    const leases = await h.database.db.selectFrom('smart_cron_leases').select(['name', 'holder']).execute();
    assert.deepEqual(leases, [{ name: 'mutex:db', holder: `run:${loser.id}` }]);
  } finally {
    await h.close();
  }
});
