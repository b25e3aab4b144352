/**
 * The zone of jobs without their own is the home's (config.yaml `timezone`, else the machine's),
 * the same for every process of the home whatever TZ its shell has: the CLI that adds a job,
 * the CLI that shows it and the daemon that runs it agree. The times the CLI prints carry
 * their offset and, for a job, are in the job's zone, named.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, describe as show, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { app as openHome, daemonStarted, until, type DaemonProc } from '../fixtures/exec-core/daemon-proc.js';

const MAIN = join(ROOT, 'src/cli/main.ts');

function home(config: string): string {
  const h = join(tempDir('smart-cron-tz-'), 'home');
  mkdirSync(h);
  writeFileSync(join(h, 'config.yaml'), config);
  return h;
}

/** The CLI in a shell whose TZ is `tz`. */
const cliIn = (tz: string, h: string, ...args: string[]) => runCli(['--home', h, ...args], { env: { TZ: tz } });

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, show(r));
  return r;
}

const wall = (ms: number, timeZone: string) =>
  Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(ms).map((p) => [p.type, Number(p.value)]),
  ) as { hour: number; minute: number; second: number };

test("jobs without a zone run in the home's zone whatever the CLI's TZ; times carry their offset and zone", { timeout: 300_000 }, async () => {
  // The machine here runs in one zone, the home says another, the shells a third and fourth.
  const h = home('timezone: asia/kolkata\n');
  const added = ok(await cliIn('Asia/Tokyo', h, 'jobs', 'add', 'tzjob', '--schedule', '52 * * * *', '--command', 'true'));
  assert.match(added.stdout, /^added: tzjob \(enabled\), next run \d{4}-\d\d-\d\d \d\d:52:00 \+05:30 \(in [^)]+\) in Asia\/Kolkata, the home's timezone$/m, show(added));

  const [row] = JSON.parse(ok(await cliIn('UTC', h, '--json', 'jobs', 'list')).stdout) as { next_scheduled_run: string; timezone: string | null }[];
  assert.equal(row!.timezone, null);
  assert.equal(new Date(row!.next_scheduled_run).getUTCMinutes(), 22, ':52 in Kolkata (+05:30) is :22 UTC, not :52 in Tokyo');

  const shown = ok(await cliIn('America/New_York', h, 'jobs', 'show', 'tzjob')).stdout;
  assert.match(shown, /^schedule\s+52 \* \* \* \* \(Asia\/Kolkata, the home's timezone\)$/m);
  const nextRuns = shown.slice(shown.indexOf('next runs')).trim().split('\n');
  assert.equal(nextRuns.length, 5, shown);
  for (const l of nextRuns) assert.match(l, /\d\d:52:00 \+05:30 \(in /, shown);
  const showJson = JSON.parse(ok(await cliIn('Asia/Tokyo', h, '--json', 'jobs', 'show', 'tzjob')).stdout) as { next_runs: string[] };
  assert.equal(Date.parse(showJson.next_runs[0]!), Date.parse(row!.next_scheduled_run), 'show and list agree on the next run');

  // `next` without --timezone previews in the home's zone too.
  const next = ok(await cliIn('Asia/Tokyo', h, 'next', '52 * * * *', '--count', '2')).stdout.trim().split('\n');
  for (const l of next) assert.match(l, /:52:00 \+05:30 {2}Asia\/Kolkata$/, next.join('\n'));

  // A job with its own zone: its times in that zone, stored in the tz database's spelling.
  const berlin = ok(await cliIn('Asia/Tokyo', h, 'jobs', 'add', 'berlin', '--schedule', '30 2 * * *', '--timezone', 'europe/berlin', '--command', 'true'));
  assert.match(berlin.stdout, /next run \d{4}-\d\d-\d\d 02:30:00 \+0[12]:00 \(in [^)]+\) in Europe\/Berlin$/m, show(berlin));
  ok(await cliIn('UTC', h, 'jobs', 'add', 'lh', '--schedule', '@daily', '--timezone', 'australia/lord_howe', '--command', 'true'));
  const set = ok(await cliIn('UTC', h, 'jobs', 'set', 'berlin', 'timezone=america/new_york'));
  assert.match(set.stdout, /^updated berlin: timezone; next run \d{4}-\d\d-\d\d 02:30:00 -0[45]:00 \(in [^)]+\) in America\/New_York$/m, show(set));
  const zones = (JSON.parse(ok(await cliIn('UTC', h, '--json', 'jobs', 'list')).stdout) as { name: string; timezone: string | null }[]).map((j) => [j.name, j.timezone]);
  assert.deepEqual(Object.fromEntries(zones), { tzjob: null, berlin: 'America/New_York', lh: 'Australia/Lord_Howe' });

  // A zone config.yaml gets wrong is named with the file.
  const bad = await cliIn('UTC', home('timezone: Mars/Olympus\n'), 'jobs', 'list');
  assert.equal(bad.code, 2, show(bad));
  assert.match(bad.stderr, /config\.yaml: timezone = "Mars\/Olympus": unknown timezone \(expected an IANA name/);
});

test('the daemon, whatever its TZ, runs a job without a zone when the CLI (another TZ) said it would', { timeout: 300_000 }, async () => {
  // A slot of this test process's own: its cgroups never meet another test's.
  const slot = `tz${process.pid}`;
  const h = home(`timezone: Asia/Kolkata\nhost: { psi_veto: 0 }\nslots:\n  ${slot}: { max_concurrent_jobs: 2, max_memory_mb: 500, max_cpu_percent: 100 }\n`);
  // A run 50 s from now, as a wall time in the home's zone (6 fields: seconds first).
  const at = Math.ceil((Date.now() + 50_000) / 1000) * 1000;
  const w = wall(at, 'Asia/Kolkata');
  ok(await cliIn('Asia/Tokyo', h, 'jobs', 'add', 'soon', '--schedule', `${w.second} ${w.minute} ${w.hour} * * *`, '--slot', slot, '--command', 'true'));
  const a = await openHome(h);
  let d: DaemonProc | null = null;
  try {
    assert.equal((await a.jobs.getJob('soon')).next_scheduled_run, new Date(at).toISOString(), 'the CLI stored the instant in the home zone');
    d = daemonIn('America/Los_Angeles', h);
    await daemonStarted(d);
    const run = await until('the run', async () => (await a.jobs.history.list({ limit: 1 }))[0], 120_000, 250);
    assert.equal(run.scheduled_for, new Date(at).toISOString(), d.output());
  } finally {
    d?.child.kill('SIGTERM');
    await d?.exited;
    await a.close();
  }
});

/** `smart-cron daemon --no-api` in a process whose TZ is `tz`. */
function daemonIn(tz: string, h: string): DaemonProc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', h, 'daemon', '--no-api'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', TZ: tz },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (x) => ((out += x), (stdout += x)));
  child.stderr!.on('data', (x) => ((out += x), (stderr += x)));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, output: () => out, stdout: () => stdout, stderr: () => stderr, exited };
}
