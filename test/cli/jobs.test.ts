/**
 * The acceptance story of issue #2, through the real CLI: init, add three jobs with different
 * schedules and timezones, list them in the seed's order, show, enable/disable, set, remove,
 * health, trends; and every mistake explained in one line on stderr, exit 2, nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { describe as show, runAll, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const home = tempDir('smart-cron-cli-');
const g = ['--home', home];
const cli = (...args: string[]) => runCli([...g, ...args]);

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, show(r));
  return r;
}

function json(r: CliResult) {
  ok(r);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message}):\n${show(r)}`);
  }
}

async function listJson(): Promise<Record<string, unknown>[]> {
  return json(await cli('--json', 'jobs', 'list'));
}

const wallHour = (isoText: string, timeZone: string) =>
  Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(isoText)));

before(async () => {
  const r = ok(await cli('init'));
  assert.match(r.stdout, /smart-cron home:/);
  assert.ok(existsSync(join(home, 'config.yaml')));
  assert.equal(statSync(join(home, 'api-token')).mode & 0o777, 0o600);
  assert.ok(existsSync(join(home, 'smart-cron.db')));
  const again = ok(await cli('init'));
  assert.match(again.stdout, /nothing changed/);
  const adds = await runAll([
    [...g, 'jobs', 'add', 'backup', '--schedule', '0 3 * * *', '--timezone', 'Europe/Berlin', '--command', 'tar czf "/tmp/back up.tgz" /etc', '--priority', 'high', '--category', 'backup', '--duration', '1m30s', '--timeout', '2h'],
    [...g, 'jobs', 'add', 'report', '--schedule', '*/15 * * * *', '--timezone', 'UTC', '--shell', 'echo hi | wc -c', '--priority', 'low', '--tag', 'daily', '--tag', 'mail'],
    [...g, 'jobs', 'add', 'sync', '--schedule', '@hourly', '--timezone', 'America/New_York', '--priority', 'critical', '--', 'rsync', '-a', '/a', '/b'],
  ], {}, 1);
  for (const r of adds) assert.match(ok(r).stdout, /^added: \w+ \(enabled\), next run /, show(r));
});

test('jobs list: the seed order (health, then priority, then next run) as a table and as --json', async () => {
  const table = ok(await cli('jobs', 'list')).stdout.trim().split('\n');
  assert.match(table[0]!, /^NAME\s+HEALTH\s+STATUS\s+PRIORITY\s+SCHEDULE/);
  assert.deepEqual(table.slice(1).map((l) => l.split(/\s+/)[0]), ['sync', 'backup', 'report']);
  assert.match(table[1]!, /sync\s+healthy\s+never_run\s+critical\s+@hourly America\/New_York/);

  const rows = await listJson();
  assert.deepEqual(rows.map((r) => r.name), ['sync', 'backup', 'report']);
  const backup = rows.find((r) => r.name === 'backup')!;
  for (const k of ['id', 'name', 'schedule', 'timezone', 'next_scheduled_run', 'priority', 'category', 'enabled', 'health_status', 'execution_status', 'consecutive_failures', 'executions_24h', 'total_executions', 'tags']) {
    assert.ok(k in backup, `--json has the snake_case column ${k}`);
  }
  assert.deepEqual(backup.command, ['tar', 'czf', '/tmp/back up.tgz', '/etc'], 'split like a shell, quotes respected');
  assert.equal(backup.enabled, true);
  assert.equal(backup.health_status, 'healthy');
  assert.equal(backup.execution_status, 'never_run');
  assert.equal(wallHour(backup.next_scheduled_run as string, 'Europe/Berlin'), 3);
  const report = rows.find((r) => r.name === 'report')!;
  assert.deepEqual(report.command, ['echo hi | wc -c']);
  assert.equal(report.shell, true);
  assert.deepEqual(report.tags, ['daily', 'mail']);
  const sync = rows.find((r) => r.name === 'sync')!;
  assert.deepEqual(sync.command, ['rsync', '-a', '/a', '/b']);
});

test('jobs show: the job and its next 5 runs', async () => {
  const text = ok(await cli('jobs', 'show', 'backup')).stdout;
  assert.match(text, /^name\s+backup$/m);
  assert.match(text, /schedule\s+0 3 \* \* \* \(Europe\/Berlin\)/);
  const nextBlock = text.slice(text.indexOf('next runs'));
  assert.equal(nextBlock.trim().split('\n').length, 5, text);

  assert.match(text, /^duration\s+estimate 90s$/m, 'the stated duration (--duration)');
  assert.doesNotMatch(text, /^(environment|runs as|placement)/m, 'no rarer settings when none is set');
  ok(await cli('jobs', 'set', 'sync', 'env=TOKEN=s3cret', 'mutex_group=net', 'starting_deadline_seconds=10m'));
  const syncText = ok(await cli('jobs', 'show', 'sync')).stdout;
  assert.match(syncText, /^policies\s+overlap forbid, misfire skip, retries 0, one at a time in group net$/m);
  assert.match(syncText, /^environment\s+TOKEN$/m, 'the names, not the values');
  assert.match(syncText, /^catch-up\s+skipped when not started within 10m$/m);
  assert.doesNotMatch(syncText, /s3cret/);
  ok(await cli('jobs', 'set', 'sync', 'env=', 'mutex_group=null', 'starting_deadline_seconds=null'));
  assert.doesNotMatch(ok(await cli('jobs', 'show', 'sync')).stdout, /^duration/m, 'no duration line when none is stated or learned');

  const shown = json(await cli('--json', 'jobs', 'show', 'backup'));
  assert.equal(shown.estimated_duration_seconds, 90, '--duration 1m30s');
  assert.equal(shown.timeout_seconds, 7200, '--timeout 2h');
  assert.equal(shown.next_runs.length, 5);
  for (const t of shown.next_runs) assert.equal(wallHour(t, 'Europe/Berlin'), 3, `${t} is 03:00 in Berlin`);
  const times = shown.next_runs.map((t: string) => Date.parse(t));
  for (let i = 1; i < 5; i++) assert.ok(Math.abs(times[i] - times[i - 1] - 86400_000) <= 3600_000, 'a day apart');
  const sync = json(await cli('--json', 'jobs', 'show', 'sync'));
  assert.equal(sync.next_runs.length, 5);
  assert.ok(sync.next_runs.every((t: string) => t.endsWith(':00:00.000Z')));

  // A run's figures read as measured: a job of a few ms is "avg 4ms", not "avg 0.00s".
  ok(await cli('jobs', 'add', 'quick', '--schedule', '@daily', '--command', 'true'));
  ok(await cli('run', 'quick', '--wait'));
  const quick = ok(await cli('jobs', 'show', 'quick')).stdout;
  assert.match(quick, /^last 24 h\s+1 run, 0 failed, avg (\d+ms|\d\.\ds)$/m, quick);
  ok(await cli('jobs', 'remove', 'quick'));
});

test('jobs disable / enable / set / remove, health and trends', async () => {
  const off = json(await cli('--json', 'jobs', 'disable', 'report'));
  assert.equal(off[0].enabled, false);
  assert.equal(off[0].next_scheduled_run, null);
  let rows = await listJson();
  assert.equal(rows.find((r) => r.name === 'report')!.enabled, false);

  const on = ok(await cli('jobs', 'enable', 'report'));
  assert.match(on.stdout, /^enabled: report, next run /);
  rows = await listJson();
  const report = rows.find((r) => r.name === 'report')!;
  assert.equal(report.enabled, true);
  assert.equal(new Date(report.next_scheduled_run as string).getUTCMinutes() % 15, 0);

  const set = json(await cli('--json', 'jobs', 'set', 'backup', 'priority=critical', 'timeout_seconds=600', 'tags=a,b', 'alert_on_failure=false'));
  assert.equal(set.change, 'updated');
  assert.deepEqual([...set.changed].sort(), ['alert_on_failure', 'priority', 'tags', 'timeout_seconds']);
  assert.equal(set.job.priority, 'critical');
  assert.equal(set.job.timeout_seconds, 600);
  assert.equal(set.job.alert_on_failure, false);
  assert.deepEqual(set.job.tags, ['a', 'b']);
  assert.match(ok(await cli('jobs', 'set', 'backup', 'priority=critical')).stdout, /nothing changed/);
  // `edit` is what many users type first: the same command.
  assert.equal(json(await cli('--json', 'jobs', 'edit', 'backup', 'timeout_seconds=11m40s')).job.timeout_seconds, 700, 'a duration for a _seconds field');
  ok(await cli('jobs', 'edit', 'backup', 'timeout_seconds=600'));
  rows = await listJson();
  assert.deepEqual(rows.map((r) => r.name).slice(0, 2).sort(), ['backup', 'sync'], 'both critical now');

  const health = ok(await cli('health'));
  assert.match(health.stdout, /critical 0\s+warning 0\s+healthy 3/);
  const hj = json(await cli('--json', 'health'));
  assert.deepEqual(hj.counts, { critical: 0, warning: 0, healthy: 3 });

  assert.match(ok(await cli('trends', 'backup')).stdout, /no finished runs of backup/);
  assert.deepEqual(json(await cli('--json', 'trends', 'backup', '--days', '7')), []);

  ok(await cli('jobs', 'add', 'temp', '--schedule', '* * * * *', '--command', 'true', '--disabled'));
  assert.equal((await listJson()).find((r) => r.name === 'temp')!.enabled, false);
  assert.match(ok(await cli('jobs', 'remove', 'temp')).stdout, /^removed: temp$/m);
  assert.equal((await listJson()).find((r) => r.name === 'temp'), undefined);
});

/** [label, args]: each must exit 2 with one line on stderr naming the problem, and write nothing. */
const MISTAKES: [string, string[], RegExp][] = [
  ['bad cron', ['jobs', 'add', 'bad', '--schedule', '61 * * * *', '--command', 'true'], /schedule/],
  ['cron with 3 fields', ['jobs', 'add', 'bad', '--schedule', '* * *', '--command', 'true'], /schedule.*3 fields/],
  ['bad timezone', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--timezone', 'Mars/Base', '--command', 'true'], /timezone.*Mars\/Base/],
  ['bad priority', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--priority', 'urgent', '--command', 'true'], /priority/],
  ['nothing to run', ['jobs', 'add', 'bad', '--schedule', '* * * * *'], /nothing to run/],
  ['bad number', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--timeout', 'soon', '--command', 'true'], /--timeout: "soon"/],
  ['bad duration', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--duration', '0', '--command', 'true'], /estimated_duration_seconds/],
  ['bad duration unit', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--timeout', '10y', '--command', 'true'], /--timeout: "10y" is not a duration \(expected e\.g\. 30m, 6h, 2d, or a number of seconds\)/],
  ['fractional timeout', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--timeout', '1.5', '--command', 'true'], /--timeout: "1\.5" is not a whole number \(expected whole seconds, or a duration such as 90s, 15m, 2h\)/],
  ['memory in words', ['jobs', 'add', 'bad', '--schedule', '* * * * *', '--memory-mb', 'lots', '--command', 'true'], /--memory-mb: "lots" is not a number \(expected megabytes, e\.g\. 512\)/],
  ['bad duration via set', ['jobs', 'set', 'backup', 'timeout_seconds=10x'], /timeout_seconds: "10x" is not a duration/],
  ['unknown job (show)', ['jobs', 'show', 'nosuch'], /no job named "nosuch"/],
  ['unknown job (enable)', ['jobs', 'enable', 'nosuch'], /no job named "nosuch"/],
  ['unknown job among good ones (disable)', ['jobs', 'disable', 'backup', 'nosuch'], /no job named "nosuch"/],
  ['unknown job (remove)', ['jobs', 'remove', 'sync', 'nosuch'], /no job named "nosuch"/],
  ['unknown job (set)', ['jobs', 'set', 'nosuch', 'priority=high'], /no job named "nosuch"/],
  ['unknown job (trends)', ['trends', 'nosuch'], /no job named "nosuch"/],
  ['unknown flag', ['jobs', 'list', '--bogus'], /unknown option '--bogus'/],
  ['unknown command', ['jobz'], /unknown command 'jobz'/],
  ['unknown subcommand', ['jobs', 'lsit'], /unknown command 'lsit'/],
  ['unknown command with --help', ['schedule', '--help'], /unknown command 'schedule'/],
  ['unknown subcommand with -h', ['jobs', 'lsit', '-h'], /unknown command 'lsit' \(did you mean list\?\)/],
  ['help for an unknown command', ['help', 'jobz'], /unknown command 'jobz' \(did you mean jobs\?\)/],
  ['help for an unknown subcommand', ['jobs', 'help', 'lsit'], /unknown command 'lsit'/],
  ['not key=value', ['jobs', 'set', 'backup', 'priority'], /"priority" is not key=value/],
  ['unknown field', ['jobs', 'set', 'backup', 'prioritty=high'], /unknown job field "prioritty".*did you mean "priority"/],
  ['bad value', ['jobs', 'set', 'backup', 'priority=urgent'], /priority = "urgent"/],
  ['bad boolean', ['jobs', 'set', 'backup', 'enabled=maybe'], /enabled = "maybe": expected true or false/],
  ['bad schedule via set', ['jobs', 'set', 'backup', 'schedule=every day'], /schedule/],
  ['missing argument', ['jobs', 'show'], /missing required argument 'name'/],
  ['bad --days', ['trends', 'backup', '--days', '0'], /--days: "0"/],
  ['prune: days past any date', ['prune', '--days', '1e9'], /^smart-cron: --days: "1e9" is not valid \(expected a whole number of days from 1 to 36500\)$/],
  ['prune: hex runs', ['prune', '--max-runs', '0x10'], /^smart-cron: --max-runs: "0x10" is not valid \(expected a whole number of runs from 1 to /],
  ['prune: no runs kept', ['prune', '--max-runs', '0'], /--max-runs: "0" is not valid/],
  ['bad --health', ['jobs', 'list', '--health', 'sick'], /--health: "sick"/],
  ['bad env name for a run', ['run', 'backup', '--env', '1X=y'], /env: "1X" is not a valid key \(expected an environment variable name/],
];

test('every mistake: one line on stderr, exit code 2, nothing written', async () => {
  const before = await listJson();
  const results = await runAll(MISTAKES.map(([, args]) => [...g, ...args]));
  const problems: string[] = [];
  results.forEach((r, i) => {
    const [label, , re] = MISTAKES[i]!;
    const lines = r.stderr.trim().split('\n').filter(Boolean);
    if (r.code !== 2) problems.push(`${label}: exit ${r.code} (expected 2)\n${show(r)}`);
    else if (lines.length !== 1) problems.push(`${label}: ${lines.length} lines on stderr (expected 1)\n${show(r)}`);
    else if (!re.test(lines[0]!)) problems.push(`${label}: stderr does not match ${re}\n${show(r)}`);
    if (r.stdout.trim() !== '') problems.push(`${label}: wrote to stdout\n${show(r)}`);
  });
  assert.deepEqual(await listJson(), before, 'nothing was written');
  assert.deepEqual(problems, []);
});

test('prune takes whole numbers of days and runs', async () => {
  assert.match(ok(await cli('prune', '--days', '36500', '--max-runs', '16')).stdout, /^pruned 0 run\(s\) older than 36500 days or beyond 16 per job$/m);
});

test('--help on every command exits 0', async () => {
  const { buildProgram } = await import('../../src/cli/main.js');
  const paths: string[][] = [[]];
  const walk = (cmd: ReturnType<typeof buildProgram>, prefix: string[]) => {
    for (const c of cmd.commands) {
      paths.push([...prefix, c.name()]);
      walk(c as ReturnType<typeof buildProgram>, [...prefix, c.name()]);
    }
  };
  walk(buildProgram(), []);
  for (const need of [['init'], ['jobs', 'add'], ['jobs', 'list'], ['jobs', 'show'], ['jobs', 'enable'], ['jobs', 'disable'], ['jobs', 'set'], ['jobs', 'remove'], ['health'], ['trends']]) {
    assert.ok(paths.some((p) => p.join(' ') === need.join(' ')), `the CLI has "${need.join(' ')}"`);
  }
  const results = await runAll(paths.map((p) => [...g, ...p, '--help']));
  const bad = results.filter((r) => r.code !== 0 || !/Usage:/.test(r.stdout)).map(show);
  assert.deepEqual(bad, []);
});
