/**
 * `apply -f jobs.yaml` through the real CLI: the jobs end as the file says, a setting taken
 * out of the file goes back to its default (and is reported as a change), and a mapping entry
 * whose name differs from its key is refused before anything is written.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { describe as show, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const home = tempDir('smart-cron-apply-');
const cli = (...args: string[]) => runCli(['--home', home, ...args]);
const file = join(home, 'jobs.yaml');

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, show(r));
  return r;
}
const job = async (name: string) => JSON.parse(ok(await cli('--json', 'jobs', 'show', name)).stdout);

before(async () => {
  ok(await cli('init'));
});

test('a setting taken out of jobs.yaml goes back to its default, reported as a change; then apply is a no-op', async () => {
  writeFileSync(file, `jobs:
  - name: full
    schedule: "@hourly"
    command: [/bin/true]
    description: Does things.
    priority: high
    timeout_seconds: 60
    tags: [db, nightly]
    env: { A: "1" }
    consecutive_failure_threshold: 7
    enabled: false
`);
  assert.match(ok(await cli('apply', '-f', file)).stdout, /1 added, 0 changed/);
  ok(await cli('jobs', 'add', 'by-hand', '--schedule', '@daily', '--command', '/bin/true', '--priority', 'critical', '--tag', 'x'));

  writeFileSync(file, `jobs:
  - name: full
    schedule: "@hourly"
    command: [/bin/true]
  - name: by-hand
    schedule: "@daily"
    command: [/bin/true]
`);
  const dry = ok(await cli('apply', '-f', file, '--dry-run')).stdout;
  const fields = (name: string, text: string) => (new RegExp(`~ ${name} \\((?:would )?change: ([^)]*)\\)`).exec(text)?.[1] ?? '').split(', ').sort();
  assert.deepEqual(fields('full', dry), ['consecutive_failure_threshold', 'description', 'enabled', 'env', 'priority', 'tags', 'timeout_seconds'], dry);
  assert.deepEqual(fields('by-hand', dry), ['priority', 'tags'], dry);
  assert.equal((await job('full')).priority, 'high', 'the dry run wrote nothing');

  const applied = ok(await cli('apply', '-f', file)).stdout;
  assert.match(applied, /0 added, 2 changed, 0 unchanged/, applied);
  const full = await job('full');
  assert.deepEqual(
    [full.description, full.priority, full.timeout_seconds, full.tags, full.env, full.consecutive_failure_threshold, full.enabled],
    [null, 'medium', 3600, [], {}, 3, true],
  );
  assert.deepEqual(full.user_overrides, ['command', 'schedule'], 'what the file no longer sets is no longer set by a person');
  const byHand = await job('by-hand');
  assert.deepEqual([byHand.priority, byHand.tags], ['medium', []]);

  assert.match(ok(await cli('apply', '-f', file)).stdout, /0 added, 0 changed, 2 unchanged/);
  // The export of what apply made applies back unchanged.
  writeFileSync(file, ok(await cli('export')).stdout);
  assert.match(ok(await cli('apply', '-f', file)).stdout, /0 added, 0 changed, 2 unchanged/);
});

test('a mapping entry whose name differs from its key is refused, naming both, and nothing is written', async () => {
  writeFileSync(file, `jobs:
  m1:
    schedule: "@daily"
    command: [/bin/true]
  m2:
    name: other
    schedule: "@daily"
    command: [/bin/true]
`);
  const r = await cli('apply', '-f', file);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /jobs\.yaml:6: job "m2": name "other" differs from its key "m2"/, show(r));
  for (const name of ['m1', 'm2', 'other']) assert.equal((await cli('jobs', 'show', name)).code, 2, `${name} was not written`);
});
