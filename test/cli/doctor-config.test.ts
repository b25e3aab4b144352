/**
 * `doctor` fails on what the daemon would refuse or could not do, with the daemon's own checks:
 * an API address that needs allow_remote, an api-token no caller could send (and advice that
 * works), a token readable by others (a warning), enabled jobs in a slot config.yaml no longer
 * has (also a warning line at the daemon's start), and config values past their bounds.
 */
import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonStarted, startDaemonProcess, until } from '../fixtures/exec-core/daemon-proc.js';
import { describe as show, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const BASE = 'host: { psi_veto: 0 }\nexecution: { enforcement: portable }\n';
const BASE_WITH = (execution: string) => `host: { psi_veto: 0 }\nexecution: { enforcement: portable${execution} }\n`;

async function initHome(): Promise<string> {
  const home = join(tempDir('smart-cron-doctor-'), 'home');
  const r = await runCli(['--home', home, 'init']);
  assert.equal(r.code, 0, show(r));
  writeFileSync(join(home, 'config.yaml'), BASE);
  return home;
}

/** doctor's line for one check: [status word, detail]. */
function line(r: CliResult, check: string): [string, string] {
  const l = r.stdout.split('\n').find((x) => ['ok  ', 'FAIL', 'warn'].some((s) => x.startsWith(`${s}  ${check.padEnd(12)} `)));
  assert.ok(l, `no "${check}" line:\n${show(r)}`);
  return [l.slice(0, 4).trim(), l.slice(6 + 12 + 1).trim()];
}

test('doctor: the API address and token are checked as the daemon checks them', { timeout: 300_000 }, async () => {
  const home = await initHome();
  const tokenPath = join(home, 'api-token');
  const doctor = () => runCli(['--home', home, 'doctor']);

  let r = await doctor();
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(line(r, 'api token'), ['ok', tokenPath]);
  assert.deepEqual(line(r, 'api'), ['ok', '127.0.0.1:7420']);

  // 0.0.0.0 without allow_remote: the daemon refuses it, so doctor fails.
  writeFileSync(join(home, 'config.yaml'), `${BASE}api: { host: 0.0.0.0 }\n`);
  r = await doctor();
  assert.equal(r.code, 1, show(r));
  assert.equal(line(r, 'api')[0], 'FAIL');
  assert.match(line(r, 'api')[1], /^api\.host: refusing to serve the API on 0\.0\.0\.0, which is not a loopback address; set api\.allow_remote: true/);
  writeFileSync(join(home, 'config.yaml'), `${BASE}api: { host: 0.0.0.0, allow_remote: true }\n`);
  r = await doctor();
  assert.deepEqual(line(r, 'api'), ['ok', '0.0.0.0:7420 (allow_remote)']);
  writeFileSync(join(home, 'config.yaml'), BASE);

  // Tokens no caller can send: too short, or with spaces ("Bearer my token ..." is one word short).
  for (const bad of ['short', 'my token with spaces in it\n']) {
    writeFileSync(tokenPath, bad, { mode: 0o600 });
    r = await doctor();
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(line(r, 'api token'), [
      'FAIL',
      `API token file ${tokenPath} holds no usable token (expected 16 to 1000 visible ASCII characters, no spaces): write one into it, or delete it and run \`smart-cron init\` to create a new one`,
    ]);
    // The daemon refuses the same token with the same words.
    const d = await runCli(['--home', home, 'daemon', '--host', '127.0.0.1', '--port', '0']);
    assert.notEqual(d.code, 0, show(d));
    assert.ok(d.stderr.includes(`API token file ${tokenPath} holds no usable token`), show(d));
  }
  // The advice works: init writes a new token once the bad file is gone.
  rmSync(tokenPath);
  assert.equal((await runCli(['--home', home, 'init'])).code, 0);
  r = await doctor();
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(line(r, 'api token'), ['ok', tokenPath]);

  // Readable by others: a warning, not a failure.
  chmodSync(tokenPath, 0o644);
  r = await doctor();
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(line(r, 'api token'), ['warn', `API token file ${tokenPath} is readable by other users (mode 0644): anyone on this machine can call the API; chmod 600 ${tokenPath}`]);
});

test('doctor: config values past their bounds fail the config check, naming the key and the range', { timeout: 300_000 }, async () => {
  const home = await initHome();
  const cases: [string, string][] = [
    [`${BASE}node: { heartbeat_seconds: 3000000 }\n`, 'node.heartbeat_seconds = 3000000: expected a number from 0.5 to 3600'],
    [`${BASE}node: { heartbeat_seconds: 30, lease_seconds: 30 }\n`, 'node.lease_seconds = 30 with node.heartbeat_seconds = 30: the lease must be at least 3 heartbeats long'],
    [BASE_WITH(', kill_grace_seconds: 3000000'), 'execution.kill_grace_seconds = 3000000: expected a number from 0 to 3600'],
    [`${BASE}retention: { history_days: 999999999 }\n`, 'retention.history_days = 999999999: expected a number > 0 and <= 36500'],
  ];
  for (const [text, message] of cases) {
    writeFileSync(join(home, 'config.yaml'), text);
    const r = await runCli(['--home', home, 'doctor']);
    assert.equal(r.code, 1, show(r));
    const [status, detail] = line(r, 'config');
    assert.equal(status, 'FAIL');
    assert.ok(detail.includes(message), `${detail}\nshould contain ${message}`);
  }
});

test('a slot removed from config.yaml while enabled jobs are in it: doctor fails, the daemon warns at start', { timeout: 300_000 }, async () => {
  const home = await initHome();
  const slot = `reports${process.pid}`;
  writeFileSync(join(home, 'config.yaml'), `${BASE}slots:\n  ${slot}: { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 50 }\n`);
  for (const name of ['nightly', 'weekly']) {
    const add = await runCli(['--home', home, 'jobs', 'add', name, '--schedule', '@daily', '--slot', slot, '--command', 'true']);
    assert.equal(add.code, 0, show(add));
  }
  let r = await runCli(['--home', home, 'doctor']);
  assert.equal(r.code, 0, show(r));
  assert.equal(line(r, 'slots')[0], 'ok');

  writeFileSync(join(home, 'config.yaml'), BASE);
  const warning = `slot "${slot}" is not in config.yaml, but enabled jobs nightly, weekly are in it: their runs cannot start (add the slot under slots: again, or move the jobs: smart-cron jobs set NAME slot=auto)`;
  r = await runCli(['--home', home, 'doctor']);
  assert.equal(r.code, 1, show(r));
  assert.deepEqual(line(r, 'slots'), ['FAIL', warning]);

  const d = startDaemonProcess(home);
  try {
    await daemonStarted(d);
    await until('the warning line', async () => d.output().includes(`warning: ${warning}`), 30_000);
  } finally {
    d.child.kill('SIGTERM');
    await d.exited;
  }

  // A disabled job there is no problem.
  for (const name of ['nightly', 'weekly']) assert.equal((await runCli(['--home', home, 'jobs', 'disable', name])).code, 0);
  r = await runCli(['--home', home, 'doctor']);
  assert.equal(r.code, 0, show(r));
  assert.equal(line(r, 'slots')[0], 'ok');
});
