/** `smart-cron alerts …` as a person runs it: a child process on a real home, SMTP server and database. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AlertManager } from '../../src/alerts/manager.js';
import { VirtualClock } from '../../src/clock.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { addJob, closedPort, config, finishRun, memoryLogger, startHook, startSmtp, tempDir, type Hook, type Smtp } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/smart-cron.js', import.meta.url));

function cli(home: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, SMART_CRON_FROM_SOURCE: '1' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let smtp: Smtp;
let hook: Hook;
let home: { dir: string; cleanup: () => void };
const ids: Record<string, number> = {};

before(async () => {
  smtp = await startSmtp();
  hook = await startHook();
  home = tempDir();
  writeFileSync(join(home.dir, 'config.yaml'), `alerts:\n  email: { smtp_url: "smtp://127.0.0.1:${smtp.port}", from: "cron@example.org", to: [ops@example.org] }\n  webhooks: [{ url: "${hook.url}" }]\n`);
  // Two jobs with alerts, one of them resolved, recorded through the real JobManager and AlertManager.
  const database = await openDatabase(`sqlite:${join(home.dir, 'smart-cron.db')}`);
  const clock = new VirtualClock();
  const jm = new JobManager(database, clock);
  const am = new AlertManager({ db: database.db, clock, config: config({ rate_limit_per_hour: 100 }), logger: memoryLogger() });
  jm.on('recorded', (r) => void am.onRecorded(r));
  const a = await addJob(jm, 'backup-db');
  const b = await addJob(jm, 'cleanup');
  await finishRun(jm, a.id, { status: 'failed', exit_code: 2 });
  await finishRun(jm, b.id, { status: 'failed', exit_code: 1 });
  await finishRun(jm, b.id, { status: 'succeeded' });
  await am.close();
  for (const r of (await am.list({})).alerts) ids[r.job_name!] = r.id;
  await database.close();
});

after(async () => {
  await smtp.close();
  await hook.close();
  home.cleanup();
});

test('alerts --open lists only unresolved alerts; --job narrows', async () => {
  const open = await cli(home.dir, 'alerts', '--open', '--json');
  assert.equal(open.code, 0, open.stderr);
  const rows = JSON.parse(open.stdout) as { job_name: string; alert_type: string; resolved_at: string | null }[];
  assert.deepEqual(rows.map((r) => [r.job_name, r.alert_type, r.resolved_at]), [['backup-db', 'failure', null]]);
  const table = await cli(home.dir, 'alerts', '--job', 'cleanup');
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^ID\s+JOB\s+TYPE\s+SEVERITY\s+COUNT\s+STATE/m);
  assert.match(table.stdout, /cleanup\s+failure\s+error\s+1\s+resolved/);
  assert.doesNotMatch(table.stdout, /backup-db/);
  // `alerts list`, as `jobs list`: the same listing with the same options.
  const listed = await cli(home.dir, 'alerts', 'list', '--job', 'cleanup');
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout.replace(/\([^)]* ago\)/g, ''), table.stdout.replace(/\([^)]* ago\)/g, ''));
  // A word that names no alerts command is an unknown command (not "too many arguments for 'list'").
  for (const [word, said] of [['bogus', /^error: unknown command 'bogus'\n$/], ['tset', /^error: unknown command 'tset' \(did you mean test\?\)\n$/]] as const) {
    const typo = await cli(home.dir, 'alerts', word);
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, said);
    assert.equal(typo.stdout, '');
  }
});

test('alerts ack ID acknowledges; an unknown id is refused', async () => {
  const r = await cli(home.dir, 'alerts', 'ack', String(ids['backup-db']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`acknowledged alert #${ids['backup-db']} \\(failure, error\\)`));
  // Still open (acknowledging is not resolving), now marked acknowledged.
  assert.match((await cli(home.dir, 'alerts', '--open')).stdout, /backup-db\s+failure\s+error\s+1\s+acknowledged/);
  const missing = await cli(home.dir, 'alerts', 'ack', '999');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no alert with id 999/);
  // A resolved alert is over: acknowledging it is refused, saying why (it used to succeed silently).
  const over = await cli(home.dir, 'alerts', 'ack', String(ids['cleanup']));
  assert.equal(over.code, 2, over.stderr);
  assert.match(over.stderr, new RegExp(`alert #${ids['cleanup']} \\(failure\\) resolved at \\S+: only an open alert can be acknowledged`));
  assert.equal(over.stdout, '');
});

test('alerts test: the configured channels, a given address, a given webhook', async () => {
  const before = smtp.mails.length;
  const r = await cli(home.dir, 'alerts', 'test');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`sent    email ops@example.org via smtp://127.0.0.1:${smtp.port}`));
  assert.match(r.stdout, /sent    webhook http:\/\/127\.0\.0\.1:\d+\/hook/);
  assert.equal(smtp.mails.length, before + 1);
  assert.equal(smtp.mails.at(-1)!.subject, '[smart-cron] test notification');
  assert.equal(smtp.mails.at(-1)!.from!.text, 'cron@example.org');
  assert.equal((hook.requests.at(-1)!.body as { event: string }).event, 'test');

  const one = await cli(home.dir, 'alerts', 'test', '--email', 'me@example.org', '--webhook', hook.url, '--format', 'slack');
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(smtp.envelopes.at(-1), ['me@example.org']);
  assert.match((hook.requests.at(-1)!.body as { text: string }).text, /smart-cron test notification/);
});

test('alerts test against a closed port: the exact error and exit 1', async () => {
  const port = await closedPort();
  const dead = tempDir();
  try {
    writeFileSync(join(dead.dir, 'config.yaml'), `alerts:\n  email: { smtp_url: "smtp://127.0.0.1:${port}", to: [ops@example.org] }\n`);
    const r = await cli(dead.dir, 'alerts', 'test');
    assert.equal(r.code, 1);
    // Each failure once: its FAILED line, and the exit code.
    assert.equal(r.stdout, `FAILED  email ops@example.org via smtp://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    assert.equal(r.stderr, '');
    const wh = await cli(dead.dir, 'alerts', 'test', '--webhook', `http://127.0.0.1:${port}/hook`);
    assert.equal(wh.code, 1);
    assert.equal(wh.stdout, `FAILED  webhook http://127.0.0.1:${port}/hook: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    assert.equal(wh.stderr, '');
  } finally {
    dead.cleanup();
  }
});

test('jobs show: the alert switches turned off are listed; none when all are on', async () => {
  assert.doesNotMatch((await cli(home.dir, 'jobs', 'show', 'cleanup')).stdout, /^alerts off/m);
  const set = await cli(home.dir, 'jobs', 'set', 'cleanup', 'alert_on_failure=off', 'alert_on_hanging=0');
  assert.equal(set.code, 0, set.stderr);
  const shown = await cli(home.dir, 'jobs', 'show', 'cleanup');
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^alerts off\s+failure, hanging$/m);
  await cli(home.dir, 'jobs', 'set', 'cleanup', 'alert_on_failure=on', 'alert_on_hanging=1');
});

test('doctor: an SMTP URL that is no URL fails the config check; an unreadable password_file fails the alerts check', async () => {
  const h = tempDir();
  try {
    writeFileSync(join(h.dir, 'config.yaml'), 'alerts:\n  email: { smtp_url: "smtp://127.0.0.1:58456:99", to: [ops@example.org] }\n');
    const bad = await cli(h.dir, 'doctor');
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^FAIL {2}config {7}.*config\.yaml: alerts\.email\.smtp_url = "smtp:\/\/127\.0\.0\.1:58456:99": expected an smtp:\/\/ or smtps:\/\/ URL/m);
    writeFileSync(join(h.dir, 'config.yaml'), `alerts:\n  email: { smtp_url: "smtp://127.0.0.1:${smtp.port}", password_file: smtp-password, to: [ops@example.org] }\n`);
    const missing = await cli(h.dir, 'doctor');
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, new RegExp(`^FAIL {2}alerts {7}alerts\\.email\\.password_file: cannot read ${join(h.dir, 'smtp-password').replace(/[.]/g, '\\.')} \\(ENOENT\\)`, 'm'));
    writeFileSync(join(h.dir, 'smtp-password'), 'hunter2\n');
    const fine = await cli(h.dir, 'doctor');
    assert.match(fine.stdout, /^ok {4}alerts {7}email to 1 address$/m);
  } finally {
    h.cleanup();
  }
});
