/**
 * A job's rarer settings in words (src/jobs/settings.ts, read by `jobs show` and the dashboard's
 * job page): SETTING_DEFAULTS are what the registry gives a new job; a job left at them shows
 * none; each setting a person changed shows as a line; environment values stay hidden.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_DEFAULTS, otherSettings, SETTING_DEFAULTS, type JobSettings } from '../../src/jobs/settings.js';
import { formatSeconds } from '../../src/durations.js';
import { presentedJob } from '../helpers/fixtures.js';

/** A job registered as the API's POST does, presented as GET /api/jobs/:id answers. */
const register = async (body: Record<string, unknown>) =>
  (await presentedJob({ name: 'nightly', schedule: '0 3 * * *', command: ['true'], ...body })) as unknown as JobSettings & Record<string, unknown>;

test('SETTING_DEFAULTS and JOB_DEFAULTS are what the registry gives a job that does not state them', async () => {
  const job = await register({});
  for (const [k, v] of Object.entries(SETTING_DEFAULTS)) assert.deepEqual(job[k], v, k);
  for (const [k, v] of Object.entries(JOB_DEFAULTS)) assert.deepEqual(job[k], v, k);
});

test('a job at the defaults shows no other settings', async () => {
  assert.deepEqual(otherSettings(await register({}), formatSeconds), []);
  // Misfire run_all alone: its cap is the default one, nothing to say.
  assert.deepEqual(otherSettings(await register({ misfire_policy: 'run_all' }), formatSeconds), []);
});

test('each changed setting shows in words; environment values do not', async () => {
  const job = await register({
    working_dir: '/srv/app',
    run_as_user: 'www-data',
    env: { DB_PASSWORD: 'hunter2', APP_ENV: 'prod' },
    misfire_policy: 'run_all',
    max_catchup_runs: 5,
    starting_deadline_seconds: 300,
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
  const shown = Object.fromEntries(otherSettings(job, formatSeconds));
  assert.deepEqual(shown, {
    'Runs as': 'in /srv/app · user www-data',
    Environment: 'DB_PASSWORD, APP_ENV',
    'Catch-up': 'at most 5 missed ticks · skipped when not started within 5m',
    Estimates: 'CPU weight 2',
    'Retries also': 'after a timeout',
    'Circuit breaker': 'opens after 3 failures in a row, for 30m (doubling)',
    Requirements: 'wait up to 30m for them',
    'Run now': 'respects the overlap policy',
    'Alert mail to': 'ops@example.com',
    'Alert thresholds': 'critical after 5 failures in a row · missed after 2m late',
    Placement: 'nodes labelled disk=ssd · pinned to db-1',
  });
  assert.ok(!JSON.stringify(shown).includes('hunter2'), 'no environment value is shown');
});

test('alert switches: the ones turned off show, in the form\'s order; a threshold of 1 says there is no "in a row" alert', async () => {
  const job = await register({ alert_on_hanging: false, alert_on_failure: false, alert_on_missed: false, consecutive_failure_threshold: 1 });
  assert.deepEqual(otherSettings(job, formatSeconds), [
    ['Alerts off', 'failure, missed, hanging'],
    ['Alert thresholds', 'every failure alone (no "in a row" alert)'],
  ]);
});
