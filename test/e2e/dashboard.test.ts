/**
 * The dashboard against a real daemon, in Chromium: sign in, enable a job, run it and watch
 * it finish live, read its output, make a job fail and acknowledge the alert, and visit every
 * page. Each page's screenshot goes to test-output/screenshots/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { iso } from '../../src/clock.js';
import { openApp } from '../../src/daemon/app.js';
import { insertRun } from '../helpers/fixtures.js';
import { freePort } from '../helpers/net.js';
import { chromiumMissing, ensureWebBuilt, launchChromium, screenshotPath, startDaemon, type Daemon } from './harness.js';

const missing = chromiumMissing();
if (missing?.required) {
  it('has Chromium to drive', () => assert.fail(missing.message));
}
const skip = missing && !missing.required ? missing.message : false;

describe('dashboard (e2e)', { skip: missing ? skip || 'Chromium required but missing' : false, timeout: 180_000 }, () => {
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    // A full-page shot taken while scrolled draws the sticky header in the middle of the page.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
  };
  /** A test step that, when it fails, leaves a screenshot and the daemon's last words for whoever reads the failure. */
  const step = (name: string, fn: () => Promise<void>) =>
    it(name, async () => {
      try {
        await fn();
      } catch (e) {
        const file = `FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`;
        await page?.screenshot({ path: screenshotPath(file), fullPage: true }).catch(() => {});
        process.stderr.write(`e2e: "${name}" failed at ${page?.url()}; screenshot test-output/screenshots/${file}.png; daemon log tail:\n${daemon?.log().slice(-3000)}\n`);
        throw e;
      }
    });
  const row = (name: string) => page.locator(`[data-testid=job-row][data-job-name="${name}"]`);
  /** A run another node is running (written by the `starting` step, cancelled by the next). */
  let underWay: number;
  /** Where alert mail goes: a port nobody listens on, so every alert shows why it was not delivered. */
  let deadSmtp: number;

  before(async () => {
    ensureWebBuilt();
    deadSmtp = await freePort();
    daemon = await startDaemon((cli, home) => {
      appendFileSync(join(home, 'config.yaml'), `alerts:\n  email: { smtp_url: "smtp://127.0.0.1:${deadSmtp}", to: [ops@example.org], retries: 0 }\n`);
      cli('jobs', 'add', 'hello-e2e', '--schedule', '0 3 * * *', '--disabled', '--category', 'reporting', '--priority', 'high', '--tag', 'e2e', '--command', "sh -c 'echo hello from e2e; sleep 1; echo done'");
      // One CLI call for the rest: every call pays for starting Node and loading the program.
      writeFileSync(
        join(home, 'jobs.yaml'),
        [
          'jobs:',
          '  - { name: failing-e2e, schedule: "30 4 * * *", category: sync, shell: true, command: ["echo about to fail; exit 3"], enabled: true }',
          '  - { name: quiet-e2e, schedule: "*/30 * * * *", command: ["true"], priority: low, enabled: true }',
          // Long enough for its first run to be seen going in the jobs list.
          '  - { name: slow-e2e, schedule: "0 5 1 1 *", command: ["sleep", "4"], priority: low, enabled: true }',
          // As crontab import names a job: long, and as wide as the table allows.
          '  - { name: "crontab:e2scrub_all/e2scrub_all_cron-6bf271", schedule: "30 3 * * 0", command: ["true"], category: maintenance, enabled: false }',
          // Its times are Berlin's, whatever the browser's zone.
          '  - { name: berlin-e2e, schedule: "0 3 * * *", timezone: Europe/Berlin, command: ["true"], priority: low, enabled: true }',
          // Runs until someone cancels it.
          '  - { name: long-e2e, schedule: "0 5 1 1 *", command: ["sleep", "120"], priority: low, enabled: true }',
          '',
        ].join('\n'),
      );
      cli('apply', '-f', join(home, 'jobs.yaml'));
      // A script for the review page: discovered jobs are registered disabled.
      const scripts = join(home, 'scripts');
      mkdirSync(scripts);
      writeFileSync(join(scripts, 'cleanup-tmp.sh'), '#!/bin/sh\n# Schedule: 15 2 * * *\nfind /tmp -mtime +7 -delete\n', { mode: 0o755 });
      // One whose schedule comment is wrong: the review page says so.
      writeFileSync(join(scripts, 'sync-crm.sh'), '#!/bin/sh\n# Sync CRM contacts every hour.\n# Schedule: 61 * * * *\ntrue\n', { mode: 0o755 });
      // One whose script is deleted after discovery: a second discover marks its job missing.
      writeFileSync(join(scripts, 'retired-e2e.sh'), '#!/bin/sh\n# Schedule: 0 6 * * *\ntrue\n', { mode: 0o755 });
      cli('discover', scripts);
      rmSync(join(scripts, 'retired-e2e.sh'));
      cli('discover', scripts);
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    // Generous for a loaded CI box; a passing run waits for none of it.
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  step('asks for the token, refuses a wrong one, and signs in with the right one', async () => {
    await page.goto(daemon.base);
    await page.getByTestId('signin-form').waitFor();
    // Where the token is, for a daemon on any home (this one runs with --home).
    assert.equal(
      (await page.getByTestId('signin-where').textContent())?.replace(/\s+/g, ' ').trim(),
      'Sign in with the API token: the api-token file in the smart-cron home (~/.smart-cron by default, or --home / SMART_CRON_HOME) on the host.',
    );
    await shot('01-sign-in');
    await page.getByLabel('API token').fill('not-the-token-at-all');
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('signin-error').waitFor();
    await page.getByLabel('API token').fill(daemon.token);
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('page-overview').waitFor();
    await page.locator('[data-testid=live-status]', { hasText: 'live' }).waitFor();
    await page.getByTestId('slot-card').first().waitFor();
    await shot('02-overview');
  });

  step('lists the jobs in the seed columns and enables one', async () => {
    await page.getByTestId('nav-jobs').click();
    await row('hello-e2e').waitFor();
    const headers = await page.locator('[data-testid=jobs-table] thead th').allTextContents();
    assert.deepEqual(headers.slice(0, 8).map((h) => h.trim().toLowerCase()), ['name', 'health', 'status', 'last run', 'next run', '24 h runs', '24 h fail', 'consec.']);
    assert.equal(await row('hello-e2e').getByTestId('execution-status').textContent(), 'disabled');
    const toggle = row('hello-e2e').getByTestId('enable-toggle');
    assert.equal(await toggle.isChecked(), false);
    await toggle.check();
    await page.locator('[data-job-name="hello-e2e"] [data-testid=execution-status]', { hasText: 'never run' }).waitFor();
    const id = await row('hello-e2e').getAttribute('data-job-id');
    const saved = await page.evaluate(async (p) => (await (await fetch(p)).json()) as { enabled: boolean }, `/api/jobs/${id}`);
    assert.equal(saved.enabled, true, 'the daemon has the job enabled');

    await page.getByTestId('job-search').fill('fail');
    await row('hello-e2e').waitFor({ state: 'detached' });
    // The table may be empty for a moment while the filtered page loads.
    await row('failing-e2e').waitFor();
    await page.waitForFunction("document.querySelectorAll('[data-testid=job-row]').length === 1", undefined, { timeout: 10_000 }).catch(() => {});
    assert.equal(await page.getByTestId('job-row').count(), 1);
    assert.equal(await page.getByTestId('job-row').getAttribute('data-job-name'), 'failing-e2e');
    await page.getByTestId('job-search').fill('');
    await row('quiet-e2e').waitFor();
    await shot('03-jobs');
  });

  step("keeps every row's Run now in view from 1280 to 1920 px, a long imported name wrapping in full", async () => {
    const long = 'crontab:e2scrub_all/e2scrub_all_cron-6bf271';
    try {
      for (const width of [1280, 1440, 1920]) {
        await page.setViewportSize({ width, height: 900 });
        await row(long).waitFor();
        const m = (await page.evaluate(`(() => {
          const wrap = document.querySelector('[data-testid=jobs-table]').parentElement;
          const edge = wrap.getBoundingClientRect().right;
          const link = document.querySelector('[data-testid=job-row][data-job-name="${long}"] [data-testid=job-link]');
          return {
            scroll: wrap.scrollWidth, client: wrap.clientWidth,
            hidden: [...wrap.querySelectorAll('[data-testid=run-now]')].filter((b) => b.getBoundingClientRect().right > edge).length,
            name: link.textContent, cut: link.scrollWidth > link.clientWidth,
          };
        })()`)) as { scroll: number; client: number; hidden: number; name: string; cut: boolean };
        assert.ok(m.scroll <= m.client, `${width} px: the jobs table is ${m.scroll} px in a ${m.client} px box (it scrolls sideways)`);
        assert.equal(m.hidden, 0, `${width} px: Run now buttons past the table's edge`);
        assert.deepEqual([m.name, m.cut], [long, false], `${width} px: the whole name shows`);
        if (width === 1280) await shot('03c-jobs-long-name');
      }
    } finally {
      await page.setViewportSize({ width: 1360, height: 900 });
    }
  });

  step('marks a job whose script is gone, in the list and on its page', async () => {
    const badge = row('retired-e2e').getByTestId('job-missing');
    assert.equal((await badge.textContent())?.trim(), 'script missing');
    assert.match((await badge.getAttribute('title')) ?? '', /^its script \/.+\/retired-e2e\.sh is missing$/);
    assert.equal(await row('quiet-e2e').getByTestId('job-missing').count(), 0, 'only on the missing job');
    await row('retired-e2e').getByTestId('job-link').click();
    await page.getByTestId('page-job').waitFor();
    assert.equal((await page.getByTestId('page-job').getByTestId('job-missing').textContent())?.trim(), 'script missing');
    await page.getByTestId('nav-jobs').click();
    await row('slow-e2e').waitFor();
  });

  step('shows a job as running in the list while its first run goes, live, and its status after', async () => {
    const slow = row('slow-e2e');
    assert.equal((await slow.getByTestId('execution-status').textContent())?.trim(), 'never run');
    await slow.getByTestId('run-now').click();
    // No reload: run.started brings the badge, run.finished takes it away.
    const going = slow.getByTestId('job-running');
    await going.waitFor();
    assert.equal((await going.getByTestId('job-run-status').textContent())?.trim(), 'running');
    const runId = await going.getAttribute('data-run-id');
    assert.equal(await going.getAttribute('href'), `#/runs/${runId}`);
    await shot('03b-jobs-running');
    await going.waitFor({ state: 'detached', timeout: 30_000 });
    await slow.getByTestId('execution-status').filter({ hasNotText: 'never run' }).waitFor();
    assert.notEqual((await slow.getByTestId('last-run').textContent())?.trim(), '—');
  });

  step('runs a job and shows it finish live, with its output', async () => {
    await row('hello-e2e').getByTestId('run-now').click();
    await page.getByTestId('toast').getByRole('link').click();
    await page.getByTestId('page-run').waitFor();
    // No reload from here on: the status has to arrive through the event stream.
    await page.locator('[data-testid=run-status][data-status=succeeded]').waitFor({ timeout: 20_000 });
    await page.getByTestId('run-output').filter({ hasText: 'hello from e2e' }).waitFor();
    assert.match((await page.getByTestId('run-exit').textContent()) ?? '', /0/);
    const href = await page.getByTestId('download-output').getAttribute('href');
    assert.match(href ?? '', /^\/api\/runs\/\d+\/output\?download=1$/);
    const log = await page.evaluate(async (h) => (await fetch(h!)).text(), href);
    assert.match(log, /hello from e2e[\s\S]*done/);
    await shot('04-run');
  });

  step('shows the job page with stats, trends and history', async () => {
    await page.getByTestId('run-job-link').click();
    await page.getByTestId('page-job').waitFor();
    await page.locator('[data-testid=job-runs] [data-testid=run-row][data-status=succeeded]').first().waitFor();
    await page.locator('[data-testid=chart-duration] canvas').waitFor();
    assert.match((await page.getByTestId('stat-executions').textContent()) ?? '', /1/);
    assert.match((await page.getByTestId('job-policies').textContent()) ?? '', /overlap forbid · misfire skip · no retries/);
    await shot('05-job');
  });

  step('raises an alert when a job fails, and acknowledges it', async () => {
    await page.getByTestId('nav-jobs').click();
    await row('failing-e2e').getByTestId('run-now').click();
    await page.getByTestId('toast').filter({ hasText: 'failing-e2e' }).getByRole('link').click();
    await page.locator('[data-testid=run-status][data-status=failed]').waitFor({ timeout: 20_000 });
    await page.getByTestId('run-output').filter({ hasText: 'about to fail' }).waitFor();
    await shot('06-run-failed');

    await page.getByTestId('nav-alerts').click();
    const alert = page.locator('[data-testid=open-alerts] [data-testid=alert-item]', { hasText: 'failing-e2e' }).first();
    await alert.waitFor({ timeout: 15_000 });
    await alert.getByTestId('alert-ack').click();
    await page.locator('[data-testid=open-alerts] [data-testid=alert-item][data-state=acknowledged]', { hasText: 'failing-e2e' }).first().waitFor();
    await page.getByTestId('recent-alerts').waitFor();
    await shot('07-alerts');

    // It fails again (a script with the token runs it): the same alert, seen again. Each time it shows says which time it is.
    const card = page.locator('[data-testid=open-alerts] [data-testid=alert-item]', { hasText: 'failing-e2e' }).first();
    const alertId = await card.getAttribute('data-alert-id');
    const res = await fetch(`${daemon.base}/api/jobs/failing-e2e/run`, { method: 'POST', headers: { authorization: `Bearer ${daemon.token}` } });
    assert.ok(res.ok, `run failing-e2e: ${res.status}`);
    await card.getByTestId('alert-last-seen').waitFor({ timeout: 20_000 });
    assert.match((await card.getByTestId('alert-times').textContent()) ?? '', /^raised .+ · last seen .+$/);
    const raised = await card.getByTestId('alert-raised').getAttribute('datetime');
    const seen = await card.getByTestId('alert-last-seen').getAttribute('datetime');
    assert.ok(Date.parse(seen!) > Date.parse(raised!), `last seen ${seen} after raised ${raised}`);
    const recentRow = page.locator(`[data-testid=recent-alert][data-alert-id="${alertId}"]`);
    assert.equal((await page.locator('[data-testid=recent-alerts] thead th').first().textContent())?.trim(), 'Raised');
    assert.equal(await recentRow.getByTestId('alert-raised').getAttribute('datetime'), raised, 'the table shows the same instant, as "raised"');
    await shot('07b-alerts-repeated');

    // Whether the people were told: this alert's mail could not go out, and the card says why.
    const notified = card.locator('[data-testid=alert-notified][data-status=failed]');
    await notified.waitFor();
    const why = `email ops@example.org: connect ECONNREFUSED 127.0.0.1:${deadSmtp}`;
    assert.match((await notified.textContent()) ?? '', new RegExp(`^not delivered: ${why.replace(/[.]/g, '\\.')}`));
    assert.match((await notified.getAttribute('title')) ?? '', new RegExp(`^${why.replace(/[.]/g, '\\.')}`));
  });

  step('shows the overview with the failure counted', async () => {
    await page.getByTestId('nav-overview').click();
    await page.getByTestId('page-overview').waitFor();
    await page.getByTestId('count-healthy').waitFor();
    // The Nodes section: this daemon, up, with the enforcement `smart-cron nodes` reports for it.
    const [cliNode] = JSON.parse(daemon.cli('--json', 'nodes')) as Array<{ id: string; enforcement: string }>;
    const self = page.locator('[data-testid=nodes] [data-testid=node-row][data-this-node=true]');
    await self.waitFor();
    assert.equal(await page.locator('[data-testid=nodes] [data-testid=node-row]').count(), 1, 'one daemon, one row');
    assert.equal(await self.getAttribute('data-node-id'), cliNode!.id);
    assert.equal(await self.getByTestId('node-status').textContent(), 'up');
    assert.equal(await self.getByTestId('node-enforcement').textContent(), cliNode!.enforcement);
    assert.match((await self.textContent()) ?? '', /this node/);
    await shot('08-overview-after');
  });

  step('enables a discovered job on the review page, and creates a job with the form (schedule errors inline)', async () => {
    await page.getByTestId('nav-review').click();
    await page.getByTestId('page-review').waitFor();
    const found = page.locator('[data-testid=review-item][data-job-name=cleanup-tmp]');
    await found.waitFor();
    const typo = page.locator('[data-testid=review-item][data-job-name=sync-crm]');
    assert.match((await typo.getByTestId('review-warnings').textContent()) ?? '', /comment "Schedule: 61 \* \* \* \*": minute field "61".*out of range/);
    assert.match((await typo.locator('.guesses').first().textContent()) ?? '', /@hourly.*guessed from "every hour" in description/);
    await shot('09-review');
    await found.getByTestId('review-enable').click();
    await found.getByTestId('review-enable').filter({ hasText: 'Enabled' }).waitFor();
    // Enabled, it leaves the review list; its page still says why discovery chose what it did.
    await found.getByRole('link', { name: 'cleanup-tmp' }).click();
    const why = (await page.getByTestId('job-found-why').textContent()) ?? '';
    assert.match(why, /schedule: comment "Schedule: 15 2 \* \* \*"/);
    assert.match(why, /category: keyword "cleanup" in name/);
    await shot('09b-discovered-job');

    await page.goto(`${daemon.base}/#/jobs/new`);
    await page.getByTestId('job-form').waitFor();
    await page.getByTestId('input-schedule').fill('0 3 * * 9');
    await page.getByTestId('schedule-error').waitFor();
    assert.match((await page.getByTestId('schedule-error').textContent()) ?? '', /week|9/i);
    await page.getByTestId('input-schedule').fill('*/10 * * * *');
    await page.locator('[data-testid=schedule-runs] li').nth(4).waitFor();
    await page.getByTestId('input-name').fill('made-in-browser');
    await page.getByTestId('input-command').fill('echo "made in the browser"');
    await page.getByTestId('input-tags').fill('e2e, ui');
    await page.getByTestId('input-overlap_policy').selectOption('queue');
    await page.getByTestId('input-retries').fill('two');
    // The rarer settings are folded; a section opens at its summary.
    assert.equal(await page.getByTestId('input-env').isVisible(), false, 'environment folded on a new job');
    await page.getByTestId('summary-environment').click();
    await page.getByTestId('input-env').fill('GREETING hello');
    await page.getByTestId('summary-catchup').click();
    await page.getByTestId('input-starting_deadline_seconds').fill('300');
    await page.getByTestId('summary-coordination').click();
    await page.getByTestId('input-mutex_group').fill('browser-db');
    await page.getByTestId('save-job').click();
    assert.match((await page.getByTestId('error-retries').textContent()) ?? '', /number/);
    assert.equal((await page.getByTestId('error-env').textContent())?.trim(), 'line 1: "GREETING hello" has no "=": expected NAME=value');
    assert.equal(await page.getByTestId('input-env').getAttribute('aria-invalid'), 'true');
    await shot('10a-job-form-errors');
    await page.getByTestId('input-retries').fill('2');
    await page.getByTestId('input-env').fill('GREETING=hello from the form\nAPP_ENV=e2e');
    await page.getByTestId('error-env').waitFor({ state: 'detached' });
    await shot('10-job-form');
    await page.getByTestId('save-job').click();
    await page.locator('[data-testid=page-job] [data-testid=job-name]', { hasText: 'made-in-browser' }).waitFor();
    assert.match((await page.getByTestId('job-command').textContent()) ?? '', /echo 'made in the browser'/);
    assert.match((await page.getByTestId('job-policies').textContent()) ?? '', /overlap queue · misfire skip · 2 retries, 30 s after a failure and doubling · one at a time in group browser-db/);
    // The rarer settings it was given show on its page (environment names, not values); the ones left at defaults do not.
    assert.deepEqual(await page.locator('[data-testid=job-setting]').allInnerTexts(), ['Environment\nGREETING, APP_ENV', 'Catch-up\nskipped when not started within 5 min']);
    await shot('10c-job-settings');
    const id = await page.getByTestId('page-job').getAttribute('data-job-id');
    const saved = await page.evaluate(async (p) => (await (await fetch(p)).json()) as Record<string, unknown>, `/api/jobs/${id}`);
    assert.deepEqual(
      [saved.env, saved.starting_deadline_seconds, saved.mutex_group, saved.max_catchup_runs, saved.consecutive_failure_threshold],
      [{ GREETING: 'hello from the form', APP_ENV: 'e2e' }, 300, 'browser-db', 100, 3],
    );
    // Settings left at their defaults were not sent: they are not the job's own (the daemon's threshold applies).
    const own = saved.user_overrides as string[];
    for (const k of ['env', 'starting_deadline_seconds', 'mutex_group']) assert.ok(own.includes(k), `${k} set by the user`);
    for (const k of ['max_catchup_runs', 'consecutive_failure_threshold', 'node_selector', 'timezone']) assert.ok(!own.includes(k), `${k} left at its default`);
  });

  step('configures a job: the sections with settings open by themselves, and only the changed field is sent', async () => {
    await page.getByTestId('configure-job').click();
    await page.getByTestId('page-job-edit').waitFor();
    assert.equal(await page.getByTestId('input-env').inputValue(), 'GREETING=hello from the form\nAPP_ENV=e2e');
    for (const [id, open] of [['environment', true], ['catchup', true], ['coordination', true], ['retries', false], ['placement', false]] as const) {
      assert.equal((await page.getByTestId(`section-${id}`).getAttribute('open')) !== null, open, `section ${id} ${open ? 'open' : 'folded'}`);
    }
    await page.getByTestId('summary-retries').click();
    await page.getByTestId('input-circuit_cooldown_seconds').fill('1.5');
    await page.getByTestId('save-job').click();
    assert.equal((await page.getByTestId('error-circuit_cooldown_seconds').textContent())?.trim(), '"1.5" is not a whole number: expected whole seconds, at least 1');
    await page.getByTestId('input-circuit_cooldown_seconds').fill('600');
    await shot('10b-job-form-edit');
    const patch = page.waitForRequest((r) => r.method() === 'PATCH' && /\/api\/jobs\/\d+$/.test(r.url()));
    await page.getByTestId('save-job').click();
    assert.deepEqual((await patch).postDataJSON(), { circuit_cooldown_seconds: 600 });
    await page.getByTestId('page-job').waitFor();
    const id = await page.getByTestId('page-job').getAttribute('data-job-id');
    const saved = await page.evaluate(async (p) => (await (await fetch(p)).json()) as Record<string, unknown>, `/api/jobs/${id}`);
    assert.deepEqual([saved.circuit_cooldown_seconds, saved.env, saved.mutex_group], [600, { GREETING: 'hello from the form', APP_ENV: 'e2e' }, 'browser-db']);
  });

  step('shows a run admitted ahead of its instant as starting, and one under way as running', async () => {
    // As the daemon stores them: admitted up to its start lead early, a run is `running` with
    // its start still ahead. Another node's rows, written straight to the database.
    const app = await openApp({ home: daemon.home });
    let ahead: number;
    let id: number;
    try {
      const job = await app.jobs.getJob('quiet-e2e');
      id = job.id;
      const now = Date.now();
      ahead = (await insertRun(app.database, job.id, { scheduled_for: iso(now + 600_000), status: 'running', started_at: iso(now + 600_000), node: 'elsewhere', slot: 'default' })).id;
      underWay = (await insertRun(app.database, job.id, { scheduled_for: iso(now - 60_000), status: 'running', started_at: iso(now - 60_000), node: 'elsewhere', slot: 'default' })).id;
    } finally {
      await app.close();
    }
    await page.goto(`${daemon.base}/#/jobs/${id}`);
    const badges = page.locator('[data-testid=job-runs] [data-testid=run-row][data-status=running] [data-testid=run-status]');
    await page.waitForFunction("document.querySelectorAll('[data-testid=job-runs] [data-testid=run-row][data-status=running]').length === 2");
    assert.deepEqual((await badges.allTextContents()).map((t) => t.trim()).sort(), ['running', 'starting']);
    await shot('11-job-starting');
    await page.goto(`${daemon.base}/#/runs/${ahead}`);
    await page.locator('[data-testid=page-run] [data-testid=run-status][data-status=running]').waitFor();
    assert.equal((await page.locator('[data-testid=page-run] [data-testid=run-status]').textContent())?.trim(), 'starting');
  });

  step('cancels a run another node runs: the request waits on the run, which reads cancelling', async () => {
    await page.goto(`${daemon.base}/#/runs/${underWay}`);
    const cancel = page.getByTestId('cancel-run');
    await cancel.click();
    await page.locator('[data-testid=page-run] [data-testid=run-status][data-label=cancelling]').waitFor();
    assert.equal((await cancel.textContent())?.trim(), 'Cancelling…');
    assert.equal(await cancel.isDisabled(), true);
    assert.equal((await page.getByTestId('run-job-link').textContent())?.trim(), 'quiet-e2e');
    await shot('12-run-cancelling');
    // Still running (node "elsewhere" has to stop it), with the request kept on the run.
    const app = await openApp({ home: daemon.home });
    try {
      const r = (await app.jobs.history.byId(underWay))!;
      assert.deepEqual([r.status, r.cancel_requested], ['running', 'cancelled through the API']);
    } finally {
      await app.close();
    }
  });

  step('a cancel asked for outside the page shows on the job page live (run.cancelling)', async () => {
    const app = await openApp({ home: daemon.home });
    let other: number;
    let jobId: number;
    try {
      jobId = (await app.jobs.getJob('quiet-e2e')).id;
      other = (await insertRun(app.database, jobId, { scheduled_for: iso(Date.now() - 30_000), status: 'running', started_at: iso(Date.now() - 30_000), node: 'elsewhere', slot: 'default' })).id;
    } finally {
      await app.close();
    }
    await page.goto(`${daemon.base}/#/jobs/${jobId}`);
    const badge = page.locator(`[data-testid=job-runs] [data-testid=run-row][data-run-id="${other}"] [data-testid=run-status]`);
    await badge.and(page.locator('[data-label=running]')).waitFor();
    // As a script with the token would: not through this page.
    const res = await fetch(`${daemon.base}/api/runs/${other}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${daemon.token}` } });
    assert.equal(res.status, 200);
    await badge.and(page.locator('[data-label=cancelling]')).waitFor({ timeout: 5000 });
  });

  step('cancels a run of this node from its page: it ends interrupted, and the reply to the click does not bring "cancelling" back', async () => {
    const res = await fetch(`${daemon.base}/api/jobs/long-e2e/run`, { method: 'POST', headers: { authorization: `Bearer ${daemon.token}` } });
    assert.ok(res.ok, `run long-e2e: ${res.status}`);
    const { id } = (await res.json()) as { id: number };
    await page.goto(`${daemon.base}/#/runs/${id}`);
    const badge = page.locator('[data-testid=page-run] [data-testid=run-status]');
    await badge.and(page.locator('[data-label=running]')).waitFor();
    // The answer to the click (the run still running, asked to stop) often arrives after the stop's
    // run.finished event; on a slow network, always. Held back until the end is on the page, it must not undo it.
    const ended = badge.and(page.locator('[data-status=interrupted]'));
    await page.route(`**/api/runs/${id}/cancel`, async (route) => {
      const response = await route.fetch();
      await ended.waitFor({ timeout: 10_000 }).catch(() => {});
      await route.fulfill({ response });
    });
    try {
      const reply = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/runs/${id}/cancel`));
      await page.getByTestId('cancel-run').click();
      const answered = (await (await reply).json()) as { status: string; cancel_requested: string | null };
      assert.deepEqual([answered.status, answered.cancel_requested], ['running', 'cancelled through the API'], 'the reply was made before the run ended');
      await ended.waitFor();
      // Long enough for the answer to be drawn: the page still says how the run ended.
      await page.waitForTimeout(1000);
      assert.deepEqual([await badge.getAttribute('data-status'), await badge.getAttribute('data-label')], ['interrupted', 'interrupted']);
    } finally {
      await page.unroute(`**/api/runs/${id}/cancel`);
    }
    assert.equal(await page.getByTestId('cancel-run').count(), 0, 'no Cancel button on a finished run');
    assert.notEqual((await page.getByTestId('run-finished').textContent())?.trim(), '—');
    const stored = (await (await fetch(`${daemon.base}/api/runs/${id}`, { headers: { authorization: `Bearer ${daemon.token}` } })).json()) as { status: string };
    assert.equal(stored.status, 'interrupted');
    await shot('12b-run-cancelled');
  });

  step('adds a "requires" link on the job page (a bad window is an inline error), sees it listed, and removes it', async () => {
    const idOf = (name: string) => page.evaluate(async (n) => ((await (await fetch(`/api/jobs/${n}`)).json()) as { id: number }).id, name);
    const [id, quiet] = [await idOf('hello-e2e'), await idOf('quiet-e2e')];
    await page.goto(`${daemon.base}/#/jobs/${id}`);
    const deps = page.getByTestId('dependencies');
    await deps.getByTestId('deps-none').waitFor();
    await page.waitForFunction(`document.querySelectorAll('#dep-jobs-${id} option[value="quiet-e2e"]').length === 1`);
    assert.equal(await page.locator(`#dep-jobs-${id} option[value="hello-e2e"]`).count(), 0, 'the job itself is not offered');
    await deps.getByTestId('dep-kind').selectOption('requires');
    await deps.getByTestId('dep-job').fill('quiet-e2e');
    await deps.getByTestId('dep-window').fill('6 hours');
    await deps.getByTestId('dep-add').click();
    assert.equal((await deps.getByTestId('dep-error-window_seconds').textContent())?.trim(), 'window: "6 hours" is not a duration (expected e.g. 30m, 6h, 2d, or a number of seconds)');
    assert.equal(await deps.getByTestId('dep-window').getAttribute('aria-invalid'), 'true');
    await shot('13a-dependency-error');
    await deps.getByTestId('dep-window').fill('6h');
    await deps.getByTestId('dep-add').click();
    const link = deps.locator('[data-testid=dep-up][data-dep-job=quiet-e2e][data-dep-kind=requires]');
    await link.waitFor();
    assert.equal((await link.textContent())?.replace(/Remove….*/, '').replace(/\s+/g, ' ').trim(), 'requires a success of quiet-e2e within 6 h');
    await deps.getByTestId('dep-error-window_seconds').waitFor({ state: 'detached' });
    assert.equal(await deps.getByTestId('dep-job').inputValue(), '', 'the form is cleared');
    const saved = await page.evaluate(async (p) => (await (await fetch(p)).json()) as { upstream: unknown[] }, `/api/jobs/${id}/dependencies`);
    assert.deepEqual(saved.upstream, [{ job: { id: quiet, name: 'quiet-e2e' }, kind: 'requires', on: 'success', window_seconds: 21600 }]);
    // A link made elsewhere (a script with the token) shows live; closing a cycle with it is the API's message, inline.
    const made = await fetch(`${daemon.base}/api/jobs/failing-e2e/dependencies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${daemon.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ job: 'hello-e2e', kind: 'triggers', on: 'always' }),
    });
    assert.equal(made.status, 201);
    await deps.locator('[data-testid=dep-down][data-dep-job=failing-e2e]', { hasText: 'triggers failing-e2e (on always)' }).waitFor();
    await deps.getByTestId('dep-kind').selectOption('triggers');
    await deps.getByTestId('dep-job').fill('failing-e2e');
    await deps.getByTestId('dep-add').click();
    assert.equal((await deps.getByTestId('dep-form-error').textContent())?.trim(), 'would create a cycle: hello-e2e → failing-e2e → hello-e2e');
    await link.getByTestId('dep-remove').click();
    await shot('13-dependency-added');
    await link.getByTestId('dep-remove-confirm').click();
    await link.waitFor({ state: 'detached' });
    const unmade = await fetch(`${daemon.base}/api/jobs/failing-e2e/dependencies/hello-e2e`, { method: 'DELETE', headers: { authorization: `Bearer ${daemon.token}` } });
    assert.equal(unmade.status, 200);
    await deps.getByTestId('deps-none').waitFor();
    const after = await page.evaluate(async (p) => (await (await fetch(p)).json()) as { upstream: unknown[] }, `/api/jobs/${id}/dependencies`);
    assert.deepEqual(after.upstream, []);
  });

  step("clears the server's complaint about a field once the field changes or the form is checked again", async () => {
    await page.goto(`${daemon.base}/#/jobs/new`);
    await page.getByTestId('job-form').waitFor();
    await page.getByTestId('input-name').fill('failing-e2e');
    await page.getByTestId('input-schedule').fill('0 6 * * *');
    await page.getByTestId('input-command').fill('true');
    await page.getByTestId('save-job').click();
    const nameError = page.getByTestId('error-name');
    assert.match((await nameError.textContent()) ?? '', /a job named "failing-e2e" exists already/);
    // Checked again (with another field wrong): the answer about the name is from before, so it goes.
    await page.getByTestId('input-timeout_seconds').fill('-5');
    await page.getByTestId('save-job').click();
    await page.getByTestId('error-timeout_seconds').waitFor();
    assert.equal(await nameError.count(), 0, 'no stale name error after the form was checked again');
    await page.getByTestId('input-timeout_seconds').fill('60');
    await page.getByTestId('save-job').click();
    await nameError.waitFor();
    // Editing the field the answer was about takes it away at once.
    await page.getByTestId('input-name').fill('f2');
    await nameError.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('input-name').getAttribute('aria-invalid'), null);
  });

  step("shows a job's times in its zone, named, to a browser in another zone; the form's preview in the zone being edited, with seconds", async () => {
    // A browser far from both the job's zone and the daemon's.
    const context = await browser.newContext({ timezoneId: 'Pacific/Auckland', locale: 'en-US', viewport: { width: 1360, height: 900 } });
    const other = await context.newPage();
    other.setDefaultTimeout(20_000);
    other.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await other.goto(daemon.base);
      await other.getByLabel('API token').fill(daemon.token);
      await other.getByTestId('signin-submit').click();
      await other.getByTestId('page-overview').waitFor();
      const times = async () => (await other.locator('[data-testid=next-runs] time').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());

      // As `smart-cron jobs show` says them: 03:00 in Europe/Berlin, with the offset.
      const shown = daemon.cli('jobs', 'show', 'berlin-e2e');
      const offsets = [...shown.matchAll(/ 03:00:00 \+0([12]):00 /g)].map((m) => `GMT+${m[1]}`);
      assert.ok(offsets.length > 0, `jobs show lists its next runs at 03:00:00:\n${shown}`);
      await other.goto(`${daemon.base}/#/jobs/berlin-e2e`);
      await other.getByTestId('next-runs-zone').waitFor();
      assert.equal((await other.getByTestId('next-runs-zone').textContent())?.trim(), 'in Europe/Berlin');
      const berlin = await times();
      assert.equal(berlin.length, 5, berlin.join(' | '));
      berlin.forEach((t, i) => assert.match(t, new RegExp(`^\\w{3}, \\w{3} \\d+, 03:00 AM ${offsets[i] === 'GMT+1' ? 'GMT\\+1' : 'GMT\\+2'}$`), `next run ${i + 1}`));
      await other.evaluate('window.scrollTo(0, 0)');
      await other.screenshot({ path: screenshotPath('15-job-times-in-its-zone'), fullPage: true });

      // A job without a zone runs in the home's, named so, as the CLI names it.
      const home = /\(([^,()]+), the home's timezone\)/.exec(daemon.cli('jobs', 'show', 'hello-e2e'))?.[1];
      assert.ok(home, 'jobs show names the home zone');
      await other.goto(`${daemon.base}/#/jobs/hello-e2e`);
      await other.getByTestId('next-runs-zone').waitFor();
      assert.equal((await other.getByTestId('next-runs-zone').textContent())?.trim(), `in ${home}, the home's timezone`);
      const wall = (iso: string) => new Date(iso).toLocaleTimeString('en-US', { timeZone: home, hour: '2-digit', minute: '2-digit' });
      for (const iso of await other.locator('[data-testid=next-runs] time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')!))) {
        assert.equal(wall(iso), '03:00 AM', `${iso} is 03:00 in ${home}`);
      }
      for (const t of await times()) assert.match(t, /, 03:00 AM GMT/);

      // The form: a seconds schedule in Asia/Tokyo reads in Tokyo's time, each run to the second.
      await other.goto(`${daemon.base}/#/jobs/new`);
      // An empty zone is the home's, in the CLI's and the README's words.
      assert.equal(await other.getByTestId('input-timezone').getAttribute('placeholder'), "the home's timezone");
      assert.equal((await other.locator('#f-timezone-hint').textContent())?.trim(), "Empty: the home's (timezone in config.yaml, else the machine's).");
      await other.getByTestId('input-schedule').fill('*/20 * * * * *');
      await other.getByTestId('input-timezone').fill('Asia/Tokyo');
      await other.getByTestId('schedule-zone').filter({ hasText: 'Asia/Tokyo' }).waitFor();
      assert.equal((await other.getByTestId('schedule-zone').textContent())?.trim(), 'in Asia/Tokyo');
      const preview = (await other.locator('[data-testid=schedule-runs] time').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
      assert.equal(new Set(preview).size, 5, `five different times: ${preview.join(' | ')}`);
      const tokyo = (await other.locator('[data-testid=schedule-runs] time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')!))).map((iso) =>
        new Date(iso).toLocaleTimeString('en-US', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', second: '2-digit' }),
      );
      preview.forEach((t, i) => assert.ok(t.endsWith(`${tokyo[i]} GMT+9`), `"${t}" reads ${tokyo[i]} in Tokyo`));
      await other.screenshot({ path: screenshotPath('16-job-form-preview-zone') });
      // Emptied, the zone is the home's, and the preview says so.
      await other.getByTestId('input-timezone').fill('');
      await other.getByTestId('schedule-zone').filter({ hasText: "the home's timezone" }).waitFor();
      assert.equal((await other.getByTestId('schedule-zone').textContent())?.trim(), `in ${home}, the home's timezone`);
    } finally {
      await context.close();
    }
  });

  step('takes a job by name in its URL, replacing it with the id; an unknown page is titled "Not found"', async () => {
    const { id } = (await (await fetch(`${daemon.base}/api/jobs/quiet-e2e`, { headers: { authorization: `Bearer ${daemon.token}` } })).json()) as { id: number };
    await page.goto(`${daemon.base}/#/jobs/quiet-e2e`);
    await page.locator(`[data-testid=page-job][data-job-id="${id}"]`).waitFor();
    await page.waitForFunction(`location.hash === '#/jobs/${id}'`);
    await page.goto(`${daemon.base}/#/jobs/quiet-e2e/edit`);
    await page.getByTestId('page-job-edit').waitFor();
    await page.waitForFunction(`location.hash === '#/jobs/${id}/edit'`);
    assert.equal(await page.getByTestId('input-name').inputValue(), 'quiet-e2e');
    await page.goto(`${daemon.base}/#/jobs/no-such-job`);
    assert.match((await page.locator('[data-testid=page-job-by-name] [data-testid=error]').textContent()) ?? '', /no job with the name or id "no-such-job"/);
    await page.goto(`${daemon.base}/#/nonexistent`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    // The title is set just after the page is drawn.
    const titled = (title: string) => page.waitForFunction(`document.title === ${JSON.stringify(title)}`, undefined, { timeout: 5000 }).catch(() => {});
    await titled('Not found · smart-cron');
    assert.equal(await page.title(), 'Not found · smart-cron');
    await page.goto(`${daemon.base}/#/jobs`);
    await page.getByTestId('page-jobs').waitFor();
    await titled('Jobs · smart-cron');
    assert.equal(await page.title(), 'Jobs · smart-cron');
  });

  step('fits a 375 px screen: every header control on screen, no page wider than the screen', async () => {
    const ids = await page.evaluate(async () => {
      const jobs = ((await (await fetch('/api/jobs?q=hello-e2e')).json()) as { jobs: { id: number }[] }).jobs;
      const runs = ((await (await fetch('/api/runs?limit=1')).json()) as { runs: { id: number }[] }).runs;
      return { job: jobs[0]!.id, run: runs[0]!.id };
    });
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      const pages: [string, string][] = [
        ['#/', 'page-overview'],
        ['#/jobs', 'page-jobs'],
        [`#/jobs/${ids.job}`, 'page-job'],
        [`#/jobs/${ids.job}/edit`, 'page-job-edit'],
        ['#/jobs/new', 'page-job-edit'],
        [`#/runs/${ids.run}`, 'page-run'],
        ['#/alerts', 'page-alerts'],
        ['#/review', 'page-review'],
      ];
      for (const [hash, testid] of pages) {
        await page.goto(`${daemon.base}/${hash}`);
        await page.getByTestId(testid).waitFor();
        // What loads after the page's frame (tables, charts) is what widens it.
        await page.waitForLoadState('networkidle').catch(() => {});
        const m = (await page.evaluate(`(() => {
          const box = (id) => document.querySelector('[data-testid=' + id + ']').getBoundingClientRect();
          const [signout, review] = [box('signout'), box('nav-review')];
          return { width: document.documentElement.scrollWidth, screen: innerWidth, signout: [signout.left, signout.right], review: [review.left, review.right] };
        })()`)) as { width: number; screen: number; signout: number[]; review: number[] };
        assert.ok(m.width <= m.screen, `${hash}: the page is ${m.width} px wide on a ${m.screen} px screen`);
        for (const [what, [left, right]] of [['Sign out', m.signout], ['Review', m.review]] as const) {
          assert.ok(left! >= 0 && right! <= m.screen, `${hash}: ${what} at x=${left}-${right}, off a ${m.screen} px screen`);
        }
      }
      await page.goto(`${daemon.base}/#/jobs`);
      await row('hello-e2e').waitFor();
      await shot('14-narrow-jobs');
    } finally {
      await page.setViewportSize({ width: 1360, height: 900 });
    }
  });

  step('had no script errors, and signs out', async () => {
    assert.deepEqual(pageErrors, []);
    await page.getByTestId('signout').click();
    await page.getByTestId('signin-form').waitFor();
  });
});
