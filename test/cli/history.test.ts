/**
 * `smart-cron history`: what each run's status reads as. A scheduled run admitted ahead of its
 * instant (the daemon's start lead) is stored as `running` with its start still ahead; the CLI
 * shows it as `starting` until then.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { openApp } from '../../src/daemon/app.js';
import { describe, runCli } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

test('history shows a run admitted ahead of its instant as starting, then as running', async () => {
  const home = tempDir('smart-cron-history-');
  const app = await openApp({ home });
  try {
    const { job } = await app.jobs.registerJob({ name: 'ahead', schedule: '@hourly', timezone: 'UTC', command: ['true'] }, { source: 'manual', byUser: true });
    const now = Date.now();
    const soon = iso(now + 600_000); // far enough ahead for a slow CLI start
    const past = iso(now - 60_000);
    await insertRun(app.database, job.id, { scheduled_for: soon, status: 'running', started_at: soon, node: 'n', slot: 'default' });
    await insertRun(app.database, job.id, { scheduled_for: past, status: 'running', started_at: past, node: 'n', slot: 'default' });
  } finally {
    await app.close();
  }
  const r = await runCli(['--home', home, 'history', 'ahead']);
  assert.equal(r.code, 0, describe(r));
  const rows = r.stdout.split('\n').filter((l) => /#\d+/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  const [later, earlier] = [rows.find((l) => /\(in \d/.test(l)), rows.find((l) => / ago\)/.test(l))];
  assert.match(later ?? '', /\bstarting\b/, r.stdout);
  assert.match(earlier ?? '', /\brunning\b/, r.stdout);
  // --json keeps the stored status: scripts see the daemon's state, not a label.
  const json = JSON.parse((await runCli(['--home', home, '--json', 'history', 'ahead'])).stdout) as { status: string }[];
  assert.deepEqual(json.map((x) => x.status), ['running', 'running']);
});
