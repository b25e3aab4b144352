/**
 * Notifications that outlive a blip, a stop and a restart: deliveries retried from the table,
 * a prompt stop that leaves unfinished ones pending, critical alerts past the rate limit, the
 * digest rebuilt from the table, and one sender per row where daemons share PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertManager } from '../../src/alerts/manager.js';
import { VirtualClock } from '../../src/clock.js';
import { JobManager } from '../../src/jobs/manager.js';
import { forEachDatabase } from '../helpers/postgres.js';
import { addJob, config, finishRun, memoryLogger, silentSmtp, startHook, startSmtp, until, world } from './helpers.js';

test('a delivery cut off by a stop: close() returns within ~2 s, promises no retry, and the next start sends it', async () => {
  const hung = await silentSmtp();
  const smtp = await startSmtp();
  const w = await world(config({ email: { smtp_url: hung.url, to: ['ops@example.org'], timeout_ms: 60_000 } }));
  try {
    const job = await addJob(w.jm, 'daily-report');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await until(() => hung.connections() === 1, 'the mail attempt to begin');
    const t0 = Date.now();
    await w.am.close();
    const took = Date.now() - t0;
    assert.ok(took < 2500, `close() took ${took} ms`);
    assert.equal(w.log.lines.filter((l) => /retrying in/.test(l)).length, 0, w.log.lines.join('\n'));
    assert.ok(w.log.lines.some((l) => l === 'alert deliveries: 1 attempt still waiting on a server at stop, left pending for the next start'), w.log.lines.join('\n'));
    const [d] = await w.am.repo.deliveries();
    assert.deepEqual([d!.status, d!.attempts, d!.claimed_by], ['pending', 0, null]);
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a!.notification_status, 'pending');

    // The next daemon, its mail server answering now.
    const log = memoryLogger();
    const next = new AlertManager({ db: w.database.db, clock: w.clock, config: config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] } }), logger: log });
    try {
      next.start();
      await until(() => smtp.mails.length === 1, 'the mail after the restart');
      await next.idle();
      assert.equal(smtp.mails[0]!.subject, '[smart-cron] FAILED daily-report: exit code 1');
      assert.equal((await next.repo.byId(a!.id))!.notification_status, 'sent');
      assert.deepEqual((await next.repo.deliveries()).map((r) => [r.status, r.attempts]), [['sent', 1]]);
    } finally {
      await next.close();
    }
  } finally {
    await w.close();
    await hung.close();
    await smtp.close();
  }
});

test('a failed attempt survives a restart: the next daemon retries it when due, not before', async () => {
  let down = true;
  const hook = await startHook(() => down);
  const cfg = config({ webhooks: [{ url: hook.url }], retry_backoff_ms: 60_000 });
  const w = await world(cfg);
  try {
    const job = await addJob(w.jm, 'sync');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 4 });
    await w.am.idle();
    assert.equal(hook.requests.length, 1);
    await w.am.close();
    down = false;
    const next = new AlertManager({ db: w.database.db, clock: w.clock, config: cfg, logger: memoryLogger() });
    try {
      next.start();
      await next.idle();
      await w.clock.advance(59_000);
      await next.idle();
      assert.equal(hook.requests.length, 1, 'not before its backoff');
      await w.clock.advance(1000);
      await next.idle();
      assert.equal(hook.requests.length, 2);
      const [a] = (await next.list({ open: true })).alerts;
      assert.equal(a!.notification_status, 'sent');
      assert.equal(a!.notification_error, null);
    } finally {
      await next.close();
    }
  } finally {
    await w.close();
    await hook.close();
  }
});

test('an alert that resolves while its notice waits: the notice is dropped (alert says why), the recovery goes out', async () => {
  let down = true;
  const hook = await startHook(() => down);
  const w = await world(config({ webhooks: [{ url: hook.url }], retry_backoff_ms: 60_000 }));
  try {
    const job = await addJob(w.jm, 'flaky');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await w.am.idle();
    down = false;
    await finishRun(w.jm, job.id, { status: 'succeeded' });
    await w.am.idle();
    await w.clock.advance(3600_000);
    await w.am.idle();
    const events = hook.requests.map((r) => (r.body as { event: string }).event);
    assert.deepEqual(events, ['alert', 'recovery'], 'the stale alert is not sent after its recovery');
    const [a] = (await w.am.list({})).alerts;
    assert.equal(a!.notification_status, 'failed');
    assert.equal(a!.notification_error, `webhook ${hook.url}: not sent: alert #${a!.id} resolved at ${a!.resolved_at}`);
  } finally {
    await w.close();
    await hook.close();
  }
});

test('rate limit: a critical alert is never held back; what is held back survives a restart and its digest is built from the table', async () => {
  const smtp = await startSmtp();
  const cfg = config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, rate_limit_per_hour: 1, consecutive_failure_threshold: 2 });
  const w = await world(cfg);
  try {
    const a = await addJob(w.jm, 'job-a');
    await finishRun(w.jm, a.id, { status: 'failed', exit_code: 1 }); // sent: the hour's one
    await w.clock.advance(60_000);
    const b = await addJob(w.jm, 'job-b');
    await finishRun(w.jm, b.id, { status: 'failed', exit_code: 1 }); // failure (error): held back
    await w.clock.advance(60_000);
    await finishRun(w.jm, b.id, { status: 'failed', exit_code: 1 }); // consecutive_failures (critical): sent anyway
    await w.am.idle();
    await until(() => smtp.mails.length === 2, 'two mails');
    // The two sends overlap: which arrives first is the mail server's business.
    assert.deepEqual(smtp.mails.map((m) => m.subject).sort(), ['[smart-cron] FAILED job-a: exit code 1', '[smart-cron] FAILING job-b: 2 failed runs in a row (threshold 2)']);
    const status = async (m: AlertManager) => Object.fromEntries((await m.list({})).alerts.map((x) => [`${x.job_name} ${x.alert_type}`, x.notification_status]));
    assert.deepEqual(await status(w.am), { 'job-a failure': 'sent', 'job-b failure': 'suppressed', 'job-b consecutive_failures': 'sent' });
    await w.am.close();

    // A restart before the hour is over: the counts and what was held back come from the table.
    const next = new AlertManager({ db: w.database.db, clock: w.clock, config: cfg, logger: memoryLogger() });
    const jm = new JobManager(w.database, w.clock);
    jm.on('recorded', (r) => void next.onRecorded(r));
    try {
      next.start();
      const c = await addJob(jm, 'job-c');
      await finishRun(jm, c.id, { status: 'failed', exit_code: 1 });
      await next.idle();
      assert.equal((await status(next))['job-c failure'], 'suppressed', 'still over the limit after the restart');
      await w.clock.advance(3600_000);
      await next.idle();
      await until(() => smtp.mails.length === 3, 'the digest');
      const digest = smtp.mails[2]!;
      assert.equal(digest.subject, '[smart-cron] digest: 2 notifications held back by the rate limit');
      assert.match(digest.text!, /FAILED job-b: exit code 1/);
      assert.match(digest.text!, /FAILED job-c: exit code 1/);
      const held = (await next.repo.deliveries()).filter((d) => d.status === 'suppressed');
      const [dg] = await next.repo.deliveries({ kind: 'digest' });
      assert.deepEqual(held.map((d) => d.digest_id), [dg!.id, dg!.id]);
      assert.equal(dg!.status, 'sent');
    } finally {
      await next.close();
    }
  } finally {
    await w.close();
    await smtp.close();
  }
});

forEachDatabase('two daemons sharing the table: each due delivery is sent by exactly one of them', async ({ database, open }) => {
  let down = true;
  const hook = await startHook(() => down);
  const clock = new VirtualClock('2026-03-02T10:00:00.000Z');
  const cfg = config({ webhooks: [{ url: hook.url }], retry_backoff_ms: 60_000 });
  const jm = new JobManager(database, clock);
  const first = new AlertManager({ db: database.db, clock, config: cfg, logger: memoryLogger() });
  jm.on('recorded', (r) => void first.onRecorded(r));
  const other = await open();
  const second = new AlertManager({ db: other.db, clock, config: cfg, logger: memoryLogger() });
  try {
    for (let i = 0; i < 8; i++) {
      const job = await addJob(jm, `job-${i}`);
      await finishRun(jm, job.id, { status: 'failed', exit_code: 1 });
    }
    await first.idle();
    assert.equal(hook.requests.length, 8);
    down = false;
    first.start();
    second.start();
    // Their first looks (nothing due yet) end before time moves: a look that read the clock
    // before the advance would wait for a later instant that virtual time never reaches.
    await Promise.all([first.idle(), second.idle()]);
    await clock.advance(60_000);
    await Promise.all([first.idle(), second.idle()]);
    await until(async () => (await first.list({})).alerts.every((a) => a.notification_status === 'sent'), 'every alert sent');
    const ids = hook.requests.slice(8).map((r) => (r.body as { alert: { id: number } }).alert.id);
    assert.equal(ids.length, 8, `each retried once: ${ids.join(', ')}`);
    assert.equal(new Set(ids).size, 8);
    assert.deepEqual((await first.repo.deliveries()).map((d) => [d.status, d.attempts]), Array.from({ length: 8 }, () => ['sent', 2]));
  } finally {
    await first.close();
    await second.close();
    await hook.close();
  }
});
