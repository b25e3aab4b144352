import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { describe, runCli } from '../helpers/cli.js';
import { FIXTURES } from './helpers.js';

let home: string;
const TREE = join(FIXTURES, 'tree');
const CT = join(FIXTURES, 'crontab');

before(() => {
  home = mkdtempSync(join(tmpdir(), 'sc-disc-cli-'));
});
after(() => rmSync(home, { recursive: true, force: true }));

/**
 * Run the CLI in this process, capturing what it prints. Only strings are captured: the
 * test runner talks to its parent through the same stdout, in binary chunks, meanwhile.
 */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? ((out += s), true) : o(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? ((err += s), true) : e(s, ...rest))) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'smart-cron', '--home', home, ...args]);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

test('bad input of every kind: one clear line and exit 2', async () => {
  const yamlBad = join(home, 'bad.yaml');
  writeFileSync(yamlBad, 'jobs:\n  - name: a\n    schedule: "@daily"\n    command: [x]\n  - name: b\n    schedule: [oops\n');
  const yamlTypo = join(home, 'typo.yaml');
  writeFileSync(yamlTypo, '- name: a\n  schedule: "@daily"\n  command: [x]\n  timeout_secs: 5\n');
  const cases: [string[], RegExp][] = [
    [['discover', join(home, 'nope')], /nope: no such directory$/],
    [['discover', join(TREE, 'backup/db_backup.sh')], /db_backup\.sh: not a directory/],
    [['discover', TREE, '--include', '{a,b'], /--include: bad glob "\{a,b": unclosed "\{"/],
    [['discover', TREE, '--exclude', '[x'], /--exclude: bad glob "\[x": unclosed "\["/],
    [['import-crontab', join(home, 'missing.crontab')], /missing\.crontab: cannot read the crontab \(no such file\)$/],
    [['apply', '-f', yamlBad], /bad\.yaml:\d+: bad YAML: /],
    [['apply', '-f', yamlTypo], /typo\.yaml:4: job "a": unknown setting "timeout_secs" \(did you mean "timeout_seconds"\?\)$/],
    [['apply', '-f', join(home, 'absent.yaml')], /absent\.yaml: cannot read \(no such file\)$/],
    [['review', '--enable', 'no-such-job'], /no job named "no-such-job"/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got:\n${r.err}`);
    assert.match(lines[0]!, re, args.join(' '));
  }
  const missingArg = await cli('discover');
  assert.equal(missingArg.code, 2);
  assert.match(missingArg.err, /missing required argument 'dirs'/);
});

test('a malformed crontab: every bad line with its number, nothing imported, exit 2', async () => {
  const r = await cli('import-crontab', join(CT, 'user/bad.crontab'));
  assert.equal(r.code, 2);
  for (const n of [4, 5, 6, 7, 8, 9, 10, 11]) assert.match(r.err, new RegExp(`bad\\.crontab:${n}: `));
  assert.match(r.err, /8 bad lines: nothing imported/);
  const list = await cli('--json', 'jobs', 'list');
  assert.deepEqual(JSON.parse(list.out), []);
});

test('discover, review and enable through the CLI', async () => {
  const dry = await cli('discover', TREE, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /queue\/bin\/process_queue\s+new\s+php\s+@daily \(guessed\)\s+business \(keyword "queue" in name\)\s+medium \(default for category business\)\s+512 MB\s+300s/);
  assert.match(dry.out, /dry run: nothing written/);
  assert.deepEqual(JSON.parse((await cli('--json', 'jobs', 'list')).out), []);

  const real = await cli('--json', 'discover', TREE);
  assert.equal(real.code, 0, real.err);
  const report = JSON.parse(real.out);
  assert.ok(report.counts.new >= 30);
  const again = JSON.parse((await cli('--json', 'discover', TREE)).out);
  assert.equal(again.counts.new + again.counts.updated, 0);

  const review = await cli('review', '--category', 'backup');
  assert.equal(review.code, 0, review.err);
  assert.match(review.out, /bin\/nightly-dump\s+executable\s+@daily \(guessed from "nightly" in name\)\s+backup \(keyword "dump" in name\)/);
  assert.match(review.out, /backup\/db_backup\s+bash\s+0 2 \* \* \*\s+backup/);
  // What discovery could not use is said under the table, as `discover` says it.
  assert.match((await cli('review')).out, /^warning: scripts\/bad_annotations: @/m);

  const one = await cli('review', '--enable', 'backup/db_backup');
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /^enabled: backup\/db_backup, next run /);
  // Categories are lowercase: the category typed with a capital means the same one.
  const cat = await cli('--json', 'review', '--enable-category', 'Monitoring');
  assert.deepEqual(JSON.parse(cat.out).enabled.map((j: { name: string }) => j.name).sort(), ['monitoring/healthcheck', 'scripts/heartbeat', 'shell/check_disk']);
  const left = JSON.parse((await cli('--json', 'review')).out) as { name: string; schedule_guessed: boolean }[];
  assert.ok(!left.some((r) => r.name === 'backup/db_backup' || r.name === 'scripts/heartbeat'));
  assert.ok(left.find((r) => r.name === 'queue/bin/process_queue')!.schedule_guessed);

  // `jobs show` says why discovery chose what it did, except what a person has set since.
  const why = (out: string) => out.slice(out.indexOf('\nwhy'), out.indexOf('\nruns so far'));
  const shown = await cli('jobs', 'show', 'bin/nightly-dump');
  assert.equal(shown.code, 0, shown.err);
  assert.match(why(shown.out), /why +schedule: guessed from "nightly" in name\n +category: keyword "dump" in name\n +priority: .+\n +memory: .+\n +type: /);
  assert.equal((await cli('jobs', 'set', 'bin/nightly-dump', 'priority=low')).code, 0);
  const after = why((await cli('jobs', 'show', 'bin/nightly-dump')).out);
  assert.doesNotMatch(after, /priority:/);
  assert.match(after, /category: keyword "dump" in name/);
  assert.match(why((await cli('jobs', 'show', 'scripts/bad_annotations')).out), /warning: @/);
});

test('import-crontab --rewrite prints the crontab to install on stdout, the summary on stderr', async () => {
  const r = await cli('import-crontab', '--rewrite', join(CT, 'user/crontab'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^#\[smart-cron crontab:crontab\/backup-db-[0-9a-f]{6}\] 0 2 \* \* \* \/usr\/local\/bin\/backup-db\.sh/m);
  assert.match(r.out, /^# \*\/5 \* \* \* \* \/srv\/app\/bin\/sync-inventory$/m, 'commented-out lines stay as they were');
  assert.match(r.err, /9 new, 0 updated, 0 unchanged/);
});

test('the installed command runs: exit codes come back from a real process', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts'), '--home', home, 'discover', join(home, 'nope')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), `smart-cron: ${join(home, 'nope')}: no such directory`);
});

/** A folder of scripts written by someone else: control characters in headers and file names, a dependency folder, a link out. */
function hostileTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sc-disc-hostile-'));
  const put = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
    chmodSync(join(dir, rel), 0o755);
  };
  put('app/clear.sh', '#!/bin/sh\n# Clears \x1b[2Jthe\x07 screen.\n# @memory \x1b[31mlots\n');
  put('node_modules/pkg/cron.sh', '#!/bin/sh\n# Not ours.\n');
  symlinkSync('nowhere', join(dir, 'app/two\nlines\x1b[1A.sh'));
  symlinkSync('/etc', join(dir, 'outside'));
  return dir;
}

test('discover and review print names and texts from a scanned folder with control characters escaped; --json keeps them', async () => {
  const dir = hostileTree();
  const h = mkdtempSync(join(tmpdir(), 'sc-disc-home-'));
  try {
    const r = await runCli(['--home', h, 'discover', dir]);
    assert.equal(r.code, 0, describe(r));
    assert.doesNotMatch(r.stdout, /[\x00-\x09\x0b-\x1f\x7f]/, 'no raw control character reaches the terminal');
    assert.match(r.stdout, /^problem: .*\/app\/two\\x0alines\\x1b\[1A\.sh: dangling symlink/m, 'a newline in a name does not split the line');
    assert.match(r.stdout, /^warning: app\/clear: @memory "\[31mlots": expected/m);
    // The skip counts --json has, in one line.
    assert.match(r.stdout, /^skipped: .*dependency or VCS folder: 1.*link leads out of the scanned folders: 1/m);
    const review = await runCli(['--home', h, 'review']);
    assert.equal(review.code, 0, describe(review));
    assert.doesNotMatch(review.stdout, /[\x00-\x09\x0b-\x1f\x7f]/);
    assert.match(review.stdout, /Clears \[2Jthe screen\./, 'stored without its control characters');
    const json = JSON.parse((await runCli(['--home', h, '--json', 'discover', '--dry-run', dir])).stdout);
    assert.ok(json.problems.some((p: { path: string }) => p.path.endsWith('app/two\nlines\x1b[1A.sh')), 'JSON stays faithful');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(h, { recursive: true, force: true });
  }
});

test('a dry run (discover, import-crontab, apply) on a fresh home creates neither the home nor its database', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'sc-disc-fresh-'));
  const h = join(parent, 'home');
  try {
    const r = await runCli(['--home', h, 'discover', '--dry-run', TREE]);
    assert.equal(r.code, 0, describe(r));
    assert.match(r.stdout, /queue\/bin\/process_queue\s+new\s+php/);
    assert.match(r.stdout, /dry run: nothing written/);
    assert.equal(existsSync(h), false, 'no home, no smart-cron.db');
    const crontab = join(parent, 'crontab');
    writeFileSync(crontab, '0 2 * * * /usr/bin/backup.sh\n');
    const ct = await runCli(['--home', h, 'import-crontab', '--dry-run', crontab]);
    assert.equal(ct.code, 0, describe(ct));
    assert.match(ct.stdout, /1 new, .*\(dry run: nothing written\)/);
    const file = join(parent, 'jobs.yaml');
    writeFileSync(file, '- name: one\n  schedule: "@daily"\n  command: ["true"]\n');
    const ap = await runCli(['--home', h, 'apply', '--dry-run', '-f', file]);
    assert.equal(ap.code, 0, describe(ap));
    assert.match(ap.stdout, /\+ one \(would add\)/);
    assert.equal(existsSync(h), false, 'still no home after the other dry runs');
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('import-crontab --system: Debian\'s guarded lines are classified by the program they run, not by the "test" before it', async () => {
  const h = mkdtempSync(join(tmpdir(), 'sc-disc-system-'));
  try {
    const r = await runCli(['--home', h, 'import-crontab', '--system', '--dry-run', join(CT, 'etc/crontab'), join(CT, 'etc/cron.d')]);
    assert.equal(r.code, 0, describe(r));
    assert.doesNotMatch(r.stdout, /"test" in path/, 'test is the shell builtin of a guard');
    assert.match(r.stdout, /^logrotate:3 .* maintenance \(keyword "logrotate" in name\) +low \(default for category maintenance\)$/m);
    assert.match(r.stdout, /^e2scrub_all:2 +crontab:e2scrub_all\/e2scrub_all-\w+ .* maintenance \(keyword "e2scrub" in name\) +low \(default for category maintenance\)$/m);
    assert.match(r.stdout, /^crontab:20 +crontab:system\/cron\.daily-\w+ .* maintenance \(keyword "run-parts" in path\) +low \(default for category maintenance\)$/m);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('apply -f takes a command as one line, split as `jobs add --command` splits it, and the job runs it', async () => {
  const h = mkdtempSync(join(tmpdir(), 'sc-disc-apply-'));
  try {
    const line = 'printf "%s|" "a b" c';
    const file = join(h, 'jobs.yaml');
    writeFileSync(file, `jobs:\n  - name: extract\n    schedule: "@daily"\n    command: ${line}\n`);
    const sc = (...args: string[]) => runCli(['--home', h, ...args]);
    const ap = await sc('apply', '-f', file);
    assert.equal(ap.code, 0, describe(ap));
    assert.match(ap.stdout, /^\+ extract \(add\)$/m);
    const add = await sc('jobs', 'add', 'by-flag', '--schedule', '@daily', '--command', line);
    assert.equal(add.code, 0, describe(add));
    const command = async (name: string) => (JSON.parse((await sc('--json', 'jobs', 'show', name)).stdout) as { command: string[] }).command;
    assert.deepEqual(await command('extract'), ['printf', '%s|', 'a b', 'c']);
    assert.deepEqual(await command('extract'), await command('by-flag'), 'one rule for both');
    const run = await sc('run', 'extract', '--wait');
    assert.equal(run.code, 0, describe(run));
    assert.match(run.stdout, /^a b\|c\|$/m);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('review and discover drop the guess and its reason for a field a person set, and say why a schedule was guessed', async () => {
  const h = mkdtempSync(join(tmpdir(), 'sc-disc-home-'));
  try {
    assert.equal((await runCli(['--home', h, 'discover', TREE])).code, 0);
    const before = await runCli(['--home', h, 'review', '--category', 'business']);
    assert.match(before.stdout, /queue\/bin\/process_queue\s+php\s+@daily \(guessed: nothing in the script says when it runs\)\s+business \(keyword "queue" in name\)\s+medium \(default for category business\)/);
    const guessedBefore = Number(/(\d+) with a guessed schedule/.exec((await runCli(['--home', h, 'review'])).stdout)?.[1]);
    for (const set of [['queue/bin/process_queue', 'priority=critical'], ['bin/nightly-dump', 'schedule=0 3 * * *']]) {
      const r = await runCli(['--home', h, 'jobs', 'set', ...set]);
      assert.equal(r.code, 0, describe(r));
    }
    const review = (await runCli(['--home', h, 'review'])).stdout;
    assert.match(review, /queue\/bin\/process_queue\s+php\s+@daily \(guessed: nothing in the script says when it runs\)\s+business \(keyword "queue" in name\)\s+critical\s+512 MB/);
    assert.match(review, /bin\/nightly-dump\s+executable\s+0 3 \* \* \*\s+backup \(keyword "dump" in name\)/);
    assert.match(review, new RegExp(`; ${guessedBefore - 1} with a guessed schedule`));
    const rows = JSON.parse((await runCli(['--home', h, '--json', 'review'])).stdout) as Record<string, unknown>[];
    const row = (name: string) => rows.find((r) => r.name === name)!;
    assert.deepEqual([row('bin/nightly-dump').schedule_guessed, row('bin/nightly-dump').schedule_reason], [false, null]);
    assert.equal(row('queue/bin/process_queue').priority_reason, null);
    assert.equal(row('scripts/fetch_rates').schedule_reason, 'default @daily: nothing in the script says when it runs');
    assert.equal(row('backup/db_backup').schedule_reason, 'comment "Run every night at 2: 0 2 * * *"');
    // A second discover shows the job as it is: the person's values, without discovery's reasons for them.
    const again = (await runCli(['--home', h, 'discover', TREE])).stdout;
    assert.match(again, /queue\/bin\/process_queue\s+unchanged\s+php\s+@daily \(guessed\)\s+business \(keyword "queue" in name\)\s+critical\s+512 MB/);
    assert.match(again, /bin\/nightly-dump\s+unchanged\s+executable\s+0 3 \* \* \*\s+backup/);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('import-crontab after the crontab changed: a new schedule updates the job, a gone entry is reported missing, a script already discovered is warned about', async () => {
  const h = mkdtempSync(join(tmpdir(), 'sc-disc-home-'));
  try {
    const ct = join(h, 'ct4');
    const script = join(h, 'srv/app/cron/backup_db.sh');
    mkdirSync(join(script, '..'), { recursive: true });
    writeFileSync(script, '#!/bin/sh\npg_dump app\n', { mode: 0o755 });
    assert.equal((await runCli(['--home', h, 'discover', join(h, 'srv')])).code, 0);
    const sc = (...args: string[]) => runCli(['--home', h, ...args]);

    writeFileSync(ct, `0 1 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n0 3 * * * ${script}\n`);
    const first = await sc('--json', 'import-crontab', ct);
    assert.equal(first.code, 0, describe(first));
    const [backup, report, db] = (JSON.parse(first.stdout) as { jobs: { name: string }[] }).jobs.map((j) => j.name);

    writeFileSync(ct, `0 5 * * * /usr/bin/backup.sh\n0 3 * * * ${script}\n`);
    const dry = await sc('import-crontab', '--dry-run', ct);
    assert.equal(dry.code, 0, describe(dry));
    assert.match(dry.stdout, new RegExp(`^ct4:1 +${backup} +updated: schedule +active +0 5 \\* \\* \\*`, 'm'));
    assert.match(dry.stdout, new RegExp(`^missing: ${report}: no longer in the crontab \\(was line 2: 0 2 \\* \\* \\* /usr/bin/report\\.sh\\); kept with its history`, 'm'));
    assert.match(dry.stdout, /^0 new, 1 updated, 1 unchanged, 1 missing \(dry run: nothing written\)/m);
    assert.match(dry.stdout, new RegExp(`^warning: ${db}: runs ${script}, which is already the job app/cron/backup_db \\(discovered\\): enable only one$`, 'm'));

    const real = await sc('--json', 'import-crontab', ct);
    const r = JSON.parse(real.stdout) as { jobs: { name: string; change: string }[]; missing: { name: string }[]; counts: Record<string, number> };
    assert.deepEqual(r.counts, { new: 0, updated: 1, unchanged: 1, missing: 1 });
    assert.deepEqual(r.missing.map((m) => m.name), [report]);
    const jobs = JSON.parse((await sc('--json', 'jobs', 'list')).stdout) as { name: string; schedule: string; missing: boolean }[];
    assert.deepEqual(
      jobs.map((j) => [j.name, j.schedule, j.missing]).sort(),
      [['app/cron/backup_db', '@daily', false], [backup, '0 5 * * *', false], [db, '0 3 * * *', false], [report, '0 2 * * *', true]].sort(),
      'one backup job, at the new time; report kept, marked missing',
    );
    const review = await sc('review');
    assert.match(review.stdout, new RegExp(`^${report} \\(missing\\)`, 'm'));
    assert.match(review.stdout, new RegExp(`^warning: ${db}: runs ${script}, which is already the job app/cron/backup_db \\(discovered\\)`, 'm'));
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('an @slot this node does not have: discovery says so and uses auto (its runs are not all skipped)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smart-cron-slot-'));
  try {
    const scripts = join(dir, 'scripts');
    mkdirSync(scripts);
    writeFileSync(join(scripts, 'slotty.sh'), '#!/bin/sh\n# Rotates the logs.\n# @cron 0 0 1 1 *\n# @slot haevy\necho hi\n');
    chmodSync(join(scripts, 'slotty.sh'), 0o755);
    const h = join(dir, 'home');
    const found = await runCli(['--home', h, 'discover', scripts]);
    assert.equal(found.code, 0, describe(found));
    const job = JSON.parse((await runCli(['--home', h, '--json', 'jobs', 'show', 'slotty'])).stdout) as { slot: string };
    assert.equal(job.slot, 'auto');
    const review = await runCli(['--home', h, 'review']);
    assert.match(review.stdout, /@slot "haevy" is not a slot of this node \(expected one of: auto, default, heavy, light\): slot auto is used/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('discover leaves out a project\'s tests and packaging, and says how many; an --include naming one takes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-disc-app-'));
  try {
    const put = (rel: string, text: string) => {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), text, { mode: 0o755 });
    };
    put('cron/purge_sessions.py', '#!/usr/bin/env python3\n"""Purges expired sessions."""\n');
    put('test_orders.py', 'def test_total():\n    assert True\n');
    put('setup.py', 'from setuptools import setup\nsetup()\n');
    put('app/__init__.py', '');
    put('web/cart.test.js', "import test from 'node:test';\n");
    put('app/OrderTest.php', '<?php class OrderTest {}\n');
    put('tests/run_all.sh', '#!/bin/sh\npytest\n');
    const h = join(dir, 'home');
    const r = await runCli(['--home', h, 'discover', dir]);
    assert.equal(r.code, 0, describe(r));
    assert.match(r.stdout, /^skipped: .*test or packaging file or folder \(an --include naming it takes it\): 6/m);
    assert.match(r.stdout, /\b1 script: 1 new\b/);
    const names = (JSON.parse((await runCli(['--home', h, '--json', 'jobs', 'list'])).stdout) as { name: string }[]).map((j) => j.name);
    assert.deepEqual(names, ['cron/purge_sessions']);

    const asked = await runCli(['--home', h, '--json', 'discover', '--dry-run', dir, '--include', '*.test.js', '--include', 'tests/**']);
    assert.equal(asked.code, 0, describe(asked));
    const report = JSON.parse(asked.stdout) as { jobs: { script_path: string; change: string }[] };
    assert.deepEqual(report.jobs.map((j) => [j.script_path.slice(realpathSync(dir).length + 1), j.change]).sort(), [['tests/run_all.sh', 'new'], ['web/cart.test.js', 'new']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jobs list shows a job marked missing (script deleted, crontab entry gone), enabled or not; --json has missing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-disc-gone-'));
  try {
    const h = join(dir, 'home');
    const sc = (...args: string[]) => runCli(['--home', h, ...args]);
    const scripts = join(dir, 'scripts');
    mkdirSync(scripts);
    for (const name of ['purge.sh', 'report.sh']) writeFileSync(join(scripts, name), '#!/bin/sh\ntrue\n', { mode: 0o755 });
    const ct = join(dir, 'crontab');
    writeFileSync(ct, '0 2 * * * /usr/bin/backup.sh\n');
    for (const args of [['discover', scripts], ['review', '--enable', 'purge'], ['import-crontab', ct]]) {
      const r = await sc(...args);
      assert.equal(r.code, 0, describe(r));
    }
    const imported = (JSON.parse((await sc('--json', 'jobs', 'list', '--search', 'backup')).stdout) as { name: string }[])[0]!.name;
    rmSync(join(scripts, 'purge.sh'));
    rmSync(join(scripts, 'report.sh'));
    writeFileSync(ct, '');
    for (const args of [['discover', scripts], ['import-crontab', ct]]) {
      const r = await sc(...args);
      assert.equal(r.code, 0, describe(r));
    }

    const list = await sc('jobs', 'list');
    assert.equal(list.code, 0, describe(list));
    const status = (name: string) => new RegExp(`^${name.replace(/[/.]/g, '\\$&')} +\\w+ +(.+?)  `, 'm').exec(list.stdout)?.[1];
    assert.deepEqual(
      [status('purge'), status('report'), status(imported)],
      ['never_run, script missing', 'disabled, script missing', 'disabled, crontab entry gone'],
      list.stdout,
    );
    const rows = JSON.parse((await sc('--json', 'jobs', 'list', '--enabled')).stdout) as { name: string; enabled: boolean; missing: boolean }[];
    assert.deepEqual(rows.map((j) => [j.name, j.enabled, j.missing]), [['purge', true, true]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
