/**
 * `smart-cron deps` through the real CLI (and GET /api/jobs/:id/dependencies): add --requires
 * with --within, add --after with --on, the graph as a tree and as JSON, remove; every mistake
 * one line on stderr with exit 2 (cycle named, unknown job, bad duration, flags that do not go
 * together); jobs remove/disable warn about dependents.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DependencyRepo } from '../../src/jobs/dependencies.js';
import { addJob, harness as apiHarness } from '../api/helpers.js';
import { describe as show, runAll, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const home = tempDir('smart-cron-deps-cli-');
const cli = (...args: string[]) => runCli(['--home', home, ...args]);

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, show(r));
  return r;
}

function bad(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr.trim(), message, show(r));
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${show(r)}`);
}

before(async () => {
  ok(await cli('init'));
  const adds = ['extract', 'load', 'report', 'mail', 'cleanup'].map((n) => ['--home', home, 'jobs', 'add', n, '--schedule', '@daily', '--command', 'true']);
  for (const r of await runAll(adds, {}, 2)) ok(r);
});

test('deps add, show (tree and JSON), remove; mistakes exit 2 with one line', async () => {
  assert.equal(ok(await cli('deps', 'add', 'load', '--after', 'extract')).stdout, 'added: load runs after extract on success\n');
  assert.equal(ok(await cli('deps', 'add', 'report', '--requires', 'load', '--within', '6h')).stdout, 'added: report requires a success of load within 6h\n');
  assert.equal(ok(await cli('deps', 'add', 'mail', '--after', 'report', '--on', 'always')).stdout, 'added: mail runs after report, whatever the outcome\n');
  const updated = JSON.parse(ok(await cli('--json', 'deps', 'add', 'report', '--requires', 'load', '--within', '30m')).stdout);
  assert.equal(updated.change, 'updated');
  assert.deepEqual({ ...updated.depends_on, job: updated.depends_on.job.name }, { job: 'load', kind: 'requires', on: 'success', window_seconds: 1800 });

  const tree = ok(await cli('deps', 'report')).stdout;
  assert.equal(
    tree,
    [
      'report',
      '  upstream (what report depends on):',
      '    ← load  (required, a success within 30m)',
      '        ← extract  (triggers on success)',
      '  downstream (what depends on report):',
      '    → mail  (runs after it, whatever the outcome)',
      '',
    ].join('\n'),
  );
  const json = JSON.parse(ok(await cli('--json', 'deps', 'load', '--depth', '1')).stdout);
  // Ids depend on the order the parallel adds landed in: compare names.
  const named = (links: { job: { name: string } }[]) => links.map((l) => ({ ...l, job: l.job.name }));
  assert.equal(json.job.name, 'load');
  assert.deepEqual(named(json.upstream), [{ job: 'extract', kind: 'triggers', on: 'success', window_seconds: null, children: [] }]);
  assert.deepEqual(named(json.downstream), [{ job: 'report', kind: 'requires', on: 'success', window_seconds: 1800, children: [], truncated: true }]);

  const mistakes: [string[], RegExp][] = [
    [['deps', 'add', 'extract', '--after', 'mail'], /^smart-cron: deps add: would create a cycle: extract → mail → report → load → extract$/],
    [['deps', 'add', 'load', '--after', 'load'], /^smart-cron: deps add: load cannot depend on itself \(expected another job's name or id\)$/],
    [['deps', 'add', 'nope', '--after', 'load'], /no job named "nope"/],
    [['deps', 'add', 'load', '--requires', 'nope'], /no job named "nope"/],
    [['deps', 'add', 'report', '--requires', 'load', '--within', '6 hours'], /--within: "6 hours" is not a duration \(expected e\.g\. 30m, 6h, 2d/],
    [['deps', 'add', 'report', '--after', 'load', '--on', 'sometimes'], /--on: "sometimes" is not an outcome \(expected success, failure or always\)/],
    [['deps', 'add', 'report', '--after', 'load', '--within', '1h'], /--within goes with --requires/],
    [['deps', 'add', 'report', '--requires', 'load', '--on', 'failure'], /--on goes with --after/],
    [['deps', 'add', 'report'], /give exactly one of --requires OTHER or --after OTHER/],
    [['deps', 'add', 'report', '--requires', 'load', '--after', 'extract'], /give exactly one of --requires OTHER or --after OTHER/],
    [['deps', 'remove', 'report', 'extract'], /deps remove: report does not depend on extract/],
    [['deps', 'nope'], /no job named "nope"/],
    [['deps'], /deps: expected a job name/],
  ];
  const results = await runAll(mistakes.map(([args]) => ['--home', home, ...args]), {}, 3);
  results.forEach((r, i) => bad(r, mistakes[i]![1]));
  // Nothing was written by the mistakes.
  assert.equal(JSON.parse(ok(await cli('--json', 'deps', 'extract')).stdout).upstream.length, 0);

  assert.equal(ok(await cli('deps', 'remove', 'mail', 'report')).stdout, 'removed: mail runs after report\n');
  assert.match(ok(await cli('deps', 'report')).stdout, /downstream \(what depends on report\): none/);
});

test('jobs disable / remove warn about the jobs that depend on it; JSON carries dependents', async () => {
  ok(await cli('deps', 'add', 'cleanup', '--after', 'extract', '--on', 'failure'));
  const dis = ok(await cli('--json', 'jobs', 'disable', 'extract'));
  assert.deepEqual(JSON.parse(dis.stdout)[0].dependents, ['cleanup', 'load']);
  assert.match(dis.stderr, /^warning: disabling extract: cleanup \(runs after it\), load \(runs after it\) depend on it/);
  const rm = ok(await cli('jobs', 'remove', 'extract'));
  assert.equal(rm.stdout, 'removed: extract\n');
  assert.match(rm.stderr, /^warning: removing extract: cleanup \(runs after it\), load \(runs after it\) depend on it; their links to it are removed too\n$/);
  const quiet = ok(await cli('--json', 'jobs', 'remove', 'cleanup'));
  assert.deepEqual(JSON.parse(quiet.stdout).map(({ id: _id, ...rest }: { id: number }) => rest), [{ name: 'cleanup', removed: true, dependents: [] }]);
  assert.equal(quiet.stderr, '');
});

test('GET /api/jobs/:id/dependencies: upstream and downstream by id or name; 404 for an unknown job', async () => {
  const h = await apiHarness();
  try {
    const a = await addJob(h, 'a');
    const b = await addJob(h, 'b');
    const c = await addJob(h, 'c');
    const repo = new DependencyRepo(h.app.database.db);
    await repo.add(b.id, a.id, 'requires', { window_seconds: 7200 }, Date.now());
    await repo.add(c.id, b.id, 'triggers', { on: 'failure' }, Date.now());
    for (const ref of [String(b.id), 'b']) {
      const res = await h.server.inject({ method: 'GET', url: `/api/jobs/${ref}/dependencies`, headers: h.auth });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), {
        upstream: [{ job: { id: a.id, name: 'a' }, kind: 'requires', on: 'success', window_seconds: 7200 }],
        downstream: [{ job: { id: c.id, name: 'c' }, kind: 'triggers', on: 'failure', window_seconds: null }],
      });
    }
    const none = await h.server.inject({ method: 'GET', url: '/api/jobs/nope/dependencies', headers: h.auth });
    assert.equal(none.statusCode, 404);
    assert.equal(none.json().error.code, 'NOT_FOUND');
    const anon = await h.server.inject({ method: 'GET', url: `/api/jobs/${b.id}/dependencies` });
    assert.equal(anon.statusCode, 401);
  } finally {
    await h.close();
  }
});
