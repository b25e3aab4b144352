/**
 * Job values every run would fail on are refused by `jobs add` and `jobs set` as by the API
 * (one rule, src/jobs/definition.ts), through the real CLI: exit 2, the field and what was expected.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describe as show, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const home = tempDir('smart-cron-values-');
const cli = (...args: string[]) => runCli(['--home', home, ...args]);
const ok = (r: CliResult) => (assert.equal(r.code, 0, show(r)), r);

before(async () => {
  ok(await cli('init'));
  ok(await cli('jobs', 'add', 'base', '--schedule', '@daily', '--command', 'true'));
});

const cases: Array<[string, string[], RegExp]> = [
  ['a relative --cwd', ['jobs', 'add', 'rel', '--schedule', '@daily', '--command', 'true', '--cwd', 'relative/dir'], /working_dir = "relative\/dir": expected an absolute path \(starting with \/\)/],
  ['a --memory-limit-mb no machine has', ['jobs', 'add', 'huge', '--schedule', '@daily', '--command', 'true', '--memory-limit-mb', '1e308'], /memory_limit_mb = 1e\+308: expected .*16777216/],
  ['a blank shell line', ['jobs', 'add', 'blank', '--schedule', '@daily', '--shell', '   '], /command\.0 = "   ": expected the program to run/],
  ['jobs set working_dir=relative', ['jobs', 'set', 'base', 'working_dir=relative/dir'], /working_dir = "relative\/dir": expected an absolute path/],
  ['jobs set memory_limit_mb=1e308', ['jobs', 'set', 'base', 'memory_limit_mb=1e308'], /memory_limit_mb = 1e\+308: expected/],
];

for (const [label, args, message] of cases) {
  test(`${label} is refused (exit 2, naming the field), and nothing is written`, async () => {
    const r = await cli(...args);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, message);
    const jobs = JSON.parse(ok(await cli('--json', 'jobs', 'list')).stdout) as { name: string; working_dir: string | null; memory_limit_mb: number | null }[];
    assert.deepEqual(jobs.map((j) => [j.name, j.working_dir, j.memory_limit_mb]), [['base', null, null]]);
  });
}
