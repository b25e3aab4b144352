/**
 * The job page's "other settings" (web/src/job-settings.ts): a job left at the registry's
 * defaults shows none; each rarer setting a person changed shows as a line in words, and
 * environment values stay hidden (only the names).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/clock.js';
import { presentJob } from '../../src/jobs/job.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import { otherSettings } from '../../web/src/job-settings.js';
import type { Job } from '../../web/src/types.js';

/** A job registered as the API's POST does, in the shape GET /api/jobs/:id answers. */
async function register(body: Record<string, unknown>): Promise<Job> {
  const database = await openDatabase('sqlite::memory:');
  try {
    const jm = new JobManager(database, new VirtualClock(Date.UTC(2026, 0, 5, 12)));
    const { job } = await jm.registerJob({ name: 'nightly', schedule: '0 3 * * *', command: ['true'], ...body } as never, { source: 'manual', byUser: true });
    return { ...presentJob(job, Date.UTC(2026, 0, 5, 12)), next_runs: [] } as unknown as Job;
  } finally {
    await database.close();
  }
}

test('a job at the defaults shows no other settings', async () => {
  assert.deepEqual(otherSettings(await register({})), []);
  // Misfire run_all alone: its cap is the default one, nothing to say.
  assert.deepEqual(otherSettings(await register({ misfire_policy: 'run_all' })), []);
});

test('each changed setting shows in words; environment values do not', async () => {
  const job = await register({
    working_dir: '/srv/app',
    run_as_user: 'www-data',
    env: { DB_PASSWORD: 'hunter2', APP_ENV: 'prod' },
    misfire_policy: 'run_all',
    max_catchup_runs: 5,
    starting_deadline_seconds: 300,
    estimated_duration_seconds: 90,
    cpu_weight: 2,
    retry_on_timeout: true,
    circuit_failure_threshold: 3,
    requires_mode: 'wait',
    requires_wait_seconds: 1800,
    manual_respects_overlap: true,
    alert_emails: ['ops@example.com'],
    consecutive_failure_threshold: 5,
    missed_grace_seconds: 120,
    node_selector: { disk: 'ssd' },
    pinned_node: 'db-1',
  });
  const shown = Object.fromEntries(otherSettings(job));
  assert.deepEqual(shown, {
    'Runs as': 'in /srv/app · user www-data',
    Environment: 'DB_PASSWORD, APP_ENV',
    'Catch-up': 'at most 5 missed ticks · skipped when not started within 5 min',
    Estimates: 'duration 1 min 30 s · CPU weight 2',
    'Retries also': 'after a timeout',
    'Circuit breaker': 'opens after 3 failures in a row, for 30 min (doubling)',
    Requirements: 'wait up to 30 min for them',
    'Run now': 'respects the overlap policy',
    'Alert mail to': 'ops@example.com',
    'Alert thresholds': 'critical after 5 failures in a row · missed after 2 min late',
    Placement: 'nodes labelled disk=ssd · pinned to db-1',
  });
  assert.ok(!JSON.stringify(shown).includes('hunter2'), 'no environment value is shown');
});
