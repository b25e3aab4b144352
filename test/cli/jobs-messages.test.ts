/**
 * What `jobs remove|show|set` and `logs` say in the less common cases, through the real CLI:
 * a job named twice is removed once, a bad `jobs set` map names its own field, an enabled
 * @reboot job is not "disabled", and a job whose runs were all skipped says so.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { openDatabase } from '../../src/storage/database.js';
import { describe as show, ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const home = tempDir('smart-cron-msgs-');
const cli = (...args: string[]) => runCli(['--home', home, ...args]);
const ok = (r: CliResult) => (assert.equal(r.code, 0, show(r)), r);
const add = (name: string, ...more: string[]) => cli('jobs', 'add', name, '--command', 'true', ...more);

before(async () => {
  ok(await cli('init'));
});

test('jobs remove: a job named twice, or by name and id, is removed once', async () => {
  ok(await add('r1', '--schedule', '@daily'));
  ok(await add('r2', '--schedule', '@daily'));
  const id = String(JSON.parse(ok(await cli('--json', 'jobs', 'show', 'r2')).stdout).id);
  const r = ok(await cli('jobs', 'remove', 'r1', 'r1', 'r2', id));
  assert.equal(r.stdout, 'removed: r1\nremoved: r2\n');
  assert.equal((await cli('jobs', 'show', 'r1')).code, 2);
  // Disabling the same job twice over says it once.
  ok(await add('d1', '--schedule', '@daily'));
  assert.equal(ok(await cli('jobs', 'disable', 'd1', 'd1')).stdout, 'disabled: d1\n');
});

test('jobs set: a bad map value names its own field', async () => {
  ok(await add('sel', '--schedule', '@daily'));
  for (const field of ['node_selector', 'env']) {
    const r = await cli('jobs', 'set', 'sel', `${field}=foo`);
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stderr, `smart-cron: ${field}: "foo" is not KEY=VALUE (expected ${field}=KEY=VALUE,KEY=VALUE)\n`);
  }
  assert.match((await add('bad-env', '--schedule', '@daily', '--env', 'foo')).stderr, /--env: "foo" is not KEY=VALUE$/m);
});

test('jobs show: an enabled @reboot job runs at the daemon start, not "(disabled)"', async () => {
  ok(await add('rb', '--schedule', '@reboot'));
  assert.match(ok(await cli('jobs', 'show', 'rb')).stdout, /^next runs\s+at the daemon's start \(@reboot\)$/m);
  ok(await cli('jobs', 'disable', 'rb'));
  assert.match(ok(await cli('jobs', 'show', 'rb')).stdout, /^next runs\s+- \(disabled\)$/m);
});

test('logs: a job whose runs were all skipped says so, with the latest reason', async () => {
  ok(await add('nos', '--schedule', '@daily'));
  const id = JSON.parse(ok(await cli('--json', 'jobs', 'show', 'nos')).stdout).id as number;
  const database = await openDatabase(`sqlite:${join(home, 'smart-cron.db')}`);
  try {
    await insertRun(database, id, { status: 'skipped', skip_reason: 'an older reason' }, Date.now() - 60_000);
    await insertRun(database, id, { status: 'skipped', skip_reason: 'overlap: the previous run is still running' });
  } finally {
    await database.close();
  }
  const r = await cli('logs', 'nos');
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /job nos has no output: its runs were all skipped \(the latest: overlap: the previous run is still running; `smart-cron history nos` lists them\)/);
  assert.doesNotMatch(r.stderr, /no runs yet/);
});

test('logs NAME: the newest run that has begun, not one prepared for an instant to come or still queued', async () => {
  ok(await add('ticker', '--schedule', '* * * * * *'));
  const id = JSON.parse(ok(await cli('--json', 'jobs', 'show', 'ticker')).stdout).id as number;
  const database = await openDatabase(`sqlite:${join(home, 'smart-cron.db')}`);
  const now = Date.now();
  let done: number;
  try {
    done = (await insertRun(database, id, { status: 'succeeded', output_tail: 'tick output\n', started_at: new Date(now - 2000).toISOString(), finished_at: new Date(now - 1990).toISOString() }, now - 2000)).id;
    // Prepared ahead for the next second (running, its start still to come), and one queued behind it.
    await insertRun(database, id, { status: 'running', scheduled_for: new Date(now + 600_000).toISOString(), started_at: new Date(now + 600_000).toISOString() }, now);
    await insertRun(database, id, { status: 'queued', scheduled_for: new Date(now + 601_000).toISOString() }, now);
  } finally {
    await database.close();
  }
  assert.equal(ok(await cli('logs', 'ticker')).stdout, 'tick output\n');
  assert.equal(JSON.parse(ok(await cli('--json', 'logs', 'ticker')).stdout).run.id, done);
});

test('jobs add --script: the path made absolute, its type read as discovery reads it; a missing file is refused', async () => {
  const dir = tempDir('smart-cron-msgs-script-');
  const script = join(dir, 'backup.sh');
  writeFileSync(script, '# Backs up.\necho backed up\n'); // no exec bit, no #! line: bash by its extension
  const rel = relative(ROOT, script); // the CLI runs in ROOT here
  ok(await cli('jobs', 'add', 'scr', '--schedule', '@daily', '--script', rel));
  const job = JSON.parse(ok(await cli('--json', 'jobs', 'show', 'scr')).stdout) as { script_path: string; script_type: string };
  assert.deepEqual([job.script_path, job.script_type], [script, 'bash']);
  const ran = await cli('run', 'scr', '--wait');
  assert.equal(ran.code, 0, show(ran));
  assert.match(ran.stdout, /backed up/);
  const missing = await cli('jobs', 'add', 'gone', '--schedule', '@daily', '--script', join(dir, 'nope.sh'));
  assert.equal(missing.code, 2, show(missing));
  assert.equal(missing.stderr, `smart-cron: --script: ${join(dir, 'nope.sh')} does not exist (expected the path of a script file)\n`);
});

test('a slot this node does not have is refused where a person names it: jobs add, jobs set, apply -f (nothing written)', async () => {
  const bad = await cli('jobs', 'add', 'typo', '--schedule', '@daily', '--command', 'true', '--slot', 'heavvy');
  assert.equal(bad.code, 2, show(bad));
  assert.equal(bad.stderr, 'smart-cron: job "typo": slot "heavvy" is not configured (did you mean "heavy"?) (expected auto or one of: default, heavy, light; slots are added under slots: in config.yaml)\n');
  assert.equal((await cli('jobs', 'show', 'typo')).code, 2, 'not registered');
  ok(await cli('jobs', 'add', 'slotted', '--schedule', '@daily', '--command', 'true', '--slot', 'light'));
  const set = await cli('jobs', 'set', 'slotted', 'slot=nowhere');
  assert.equal(set.code, 2, show(set));
  assert.match(set.stderr, /job "slotted": slot "nowhere" is not configured/);
  assert.equal(JSON.parse(ok(await cli('--json', 'jobs', 'show', 'slotted')).stdout).slot, 'light', 'unchanged');
  const file = join(tempDir('smart-cron-msgs-apply-'), 'jobs.yaml');
  writeFileSync(file, '- name: fine\n  schedule: "@daily"\n  command: ["true"]\n- name: wrong-slot\n  schedule: "@daily"\n  command: ["true"]\n  slot: gpu\n');
  const apply = await cli('apply', '-f', file);
  assert.equal(apply.code, 2, show(apply));
  assert.match(apply.stderr, /line 4: job "wrong-slot": slot "gpu" is not configured/);
  assert.equal((await cli('jobs', 'show', 'fine')).code, 2, 'nothing applied');
});

test('jobs set: a shell job takes command= as one shell line; script_path= is checked as --script is; show says what really runs', async () => {
  ok(await cli('jobs', 'add', 'sh2', '--schedule', '@daily', '--shell', 'echo one'));
  ok(await cli('jobs', 'set', 'sh2', 'command=echo hi; echo there'));
  assert.deepEqual(JSON.parse(ok(await cli('--json', 'jobs', 'show', 'sh2')).stdout).command, ['echo hi; echo there']);
  const dir = tempDir('smart-cron-msgs-set-');
  const script = join(dir, 'strict.sh');
  writeFileSync(script, '#!/bin/sh -e\n# Stops at the first failure.\nfalse\necho not here\n'); // no exec bit: its #! line's program runs it
  ok(await cli('jobs', 'set', 'sh2', `script_path=${relative(ROOT, script)}`));
  const job = JSON.parse(ok(await cli('--json', 'jobs', 'show', 'sh2')).stdout) as { script_path: string; script_type: string; command: unknown };
  assert.deepEqual([job.script_path, job.script_type, job.command], [script, 'bash', null]);
  assert.match(ok(await cli('jobs', 'show', 'sh2')).stdout, new RegExp(`^runs\\s+/bin/sh -e ${script}$`, 'm'));
  const gone = await cli('jobs', 'set', 'sh2', `script_path=${join(dir, 'gone.sh')}`);
  assert.equal(gone.code, 2, show(gone));
  assert.match(gone.stderr, /script_path: .*gone\.sh does not exist/);
});

test('a number that is no job id says both ways it was looked up', async () => {
  const r = await cli('jobs', 'show', '99999');
  assert.equal(r.code, 2, show(r));
  assert.equal(r.stderr, 'smart-cron: no job with id 99999 (or named "99999") (see `smart-cron jobs list`)\n');
});
