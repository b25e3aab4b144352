/**
 * The real daemon (a child process) started after an outage: each job that missed ticks gets one
 * `missed` alert, saying how many, and one notice for it; and the daemon warns at start about an
 * alert setting that cannot work (an unreadable password_file).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { AlertsRepo } from '../../src/storage/repos/alerts.js';
import { daemonStarted, startDaemonProcess, testHome, until, type DaemonProc } from '../fixtures/exec-core/daemon-proc.js';
import { startHook, type Hook } from './helpers.js';

let hook: Hook | null = null;
let daemon: DaemonProc | null = null;
after(async () => {
  daemon?.child.kill('SIGTERM');
  await daemon?.exited;
  await hook?.close();
});

test('after a daemon outage: one missed alert per job (count 1) naming the ticks missed, one notice; a warning for an unreadable password_file', { timeout: 180_000 }, async () => {
  hook = await startHook();
  const { home, slot, app } = await testHome(
    'outage',
    `alerts:\n  missed_grace_seconds: 60\n  webhooks: [{ url: "${hook.url}" }]\n  email: { password_file: secrets/smtp-password }\n`,
  );
  try {
    for (const name of ['every10s', 'every20s']) {
      const { job } = await app.jobs.registerJob({ name, schedule: name === 'every10s' ? '*/10 * * * * *' : '*/20 * * * * *', timezone: 'UTC', command: ['true'], slot }, { source: 'manual', byUser: true });
      // The daemon was away for two minutes: the last tick it planned, and the next one, are long past.
      const now = Date.now();
      await app.jobs.jobs.update(job.id, { last_scheduled_tick: iso(now - 130_000), next_scheduled_run: iso(now - 120_000) });
    }
    daemon = startDaemonProcess(home);
    await daemonStarted(daemon);
    const alerts = new AlertsRepo(app.database.db);
    const missed = async () => (await alerts.list({})).alerts.filter((a) => a.alert_type === 'missed');
    await until('both missed alerts', async () => (await missed()).length === 2, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    for (const a of await missed()) {
      assert.equal(a.count, 1, `${a.job_name}: one alert for one outage, not ${a.count} (${a.message})`);
      assert.match(a.message, /^the run due at \S+ was skipped: missed (about )?\d+ ticks \(misfire policy skip\)$/);
    }
    const notices = hook.requests.map((r) => r.body as { event: string; alert?: { alert_type: string; job_name: string } }).filter((b) => b.event === 'alert');
    assert.deepEqual(notices.map((b) => `${b.alert!.job_name} ${b.alert!.alert_type}`).sort(), ['every10s missed', 'every20s missed']);
    assert.match(daemon.output(), new RegExp(`warning: alerts\\.email\\.password_file: cannot read ${home.replace(/[.]/g, '\\.')}/secrets/smtp-password \\(ENOENT\\)`));
  } finally {
    await app.close();
  }
});
