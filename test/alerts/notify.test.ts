/** Delivery: webhooks on a real local HTTP server, retries on the virtual clock, rate limit and digest, SMTP auth. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl, scrub } from '../../src/redact.js';
import { addJob, config, finishRun, runFor, startHook, startSmtp, until, world } from './helpers.js';

test('webhook that fails twice then succeeds: 3 attempts with 1 s and 2 s backoff, final status sent', async () => {
  const hook = await startHook((n) => n <= 2);
  const w = await world(config({ webhooks: [{ url: hook.url, retries: 3 }], retry_backoff_ms: 1000 }));
  try {
    const job = await addJob(w.jm, 'sync-crm');
    const { run } = await finishRun(w.jm, job.id, { status: 'failed', exit_code: 2 });
    await w.am.idle();
    const [alert] = (await w.am.list({ open: true })).alerts;
    const deliveries = () => w.am.repo.deliveries({ alertId: alert!.id });
    assert.equal(hook.requests.length, 1);
    let [d] = await deliveries();
    assert.deepEqual([d!.status, d!.attempts, d!.last_error], ['pending', 1, 'HTTP 500 Internal Server Error: boom']);
    assert.equal((await w.am.repo.byId(alert!.id))!.notification_status, 'pending');

    await w.clock.advance(999);
    assert.equal(hook.requests.length, 1, 'no retry before the backoff');
    await w.clock.advance(1);
    await w.am.idle();
    assert.equal(hook.requests.length, 2);
    await w.clock.advance(1999);
    assert.equal(hook.requests.length, 2, 'second backoff is twice as long');
    await w.clock.advance(1);
    await w.am.idle();
    assert.equal(hook.requests.length, 3);
    [d] = await deliveries();
    assert.deepEqual([d!.status, d!.attempts, d!.last_error, d!.channel, d!.kind], ['sent', 3, null, 'webhook', 'alert']);
    const a = (await w.am.repo.byId(alert!.id))!;
    assert.equal(a.notification_status, 'sent');
    assert.ok(a.notified_at);

    const body = hook.requests[2]!.body as { event: string; alert: Record<string, unknown> };
    assert.equal(body.event, 'alert');
    assert.equal(body.alert.job_name, 'sync-crm');
    assert.equal(body.alert.alert_type, 'failure');
    assert.equal(body.alert.severity, 'error');
    assert.equal(body.alert.message, 'exit code 2');
    assert.equal(body.alert.run_id, run.id);
    assert.equal(body.alert.url, `http://127.0.0.1:7420/#/runs/${run.id}`);
    // The body tells of the alert, not of its own delivery (it used to say "pending" always).
    assert.equal('notification_status' in body.alert, false);
  } finally {
    await w.close();
    await hook.close();
  }
});

test('webhook that keeps failing: retried from the table for 6 hours (backoff doubling up to 30 min), pending with its error meanwhile, then failed; a repeat sends it anew', async () => {
  let down = true;
  const bad = await startHook(() => down);
  const slack = await startHook();
  const w = await world(config({ webhooks: [{ url: bad.url, retries: 1 }, { url: slack.url, format: 'slack', retries: 0 }], retry_backoff_ms: 60_000 }));
  try {
    const job = await addJob(w.jm, 'nightly');
    await finishRun(w.jm, job.id, { status: 'timeout', duration_ms: 3_600_000 });
    await w.am.idle();
    const [alert] = (await w.am.list({ open: true })).alerts;
    const row = () => w.am.repo.byId(alert!.id);
    // Attempts at 0, 1, 3, 7, 15, 31 min, then every 30 min.
    await runFor(w, 5 * 3600_000);
    assert.equal(bad.requests.length, 14);
    let a = (await row())!;
    assert.equal(a.notification_status, 'pending', 'still being retried');
    assert.equal(a.notification_error, `webhook ${bad.url}: HTTP 500 Internal Server Error: boom`);
    const delays = w.log.lines.flatMap((l) => /retrying in (\d+) ms/.exec(l)?.[1] ?? []).map(Number);
    assert.deepEqual(delays.slice(0, 7), [60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000]);
    // The attempt at 5h31 would wait until 6h01, past the 6-hour window: it is the last.
    await runFor(w, 3600_000);
    assert.equal(bad.requests.length, 16);
    a = (await row())!;
    assert.equal(a.notification_status, 'failed');
    assert.equal(a.notification_error, `webhook ${bad.url}: HTTP 500 Internal Server Error: boom`);
    const ds = await w.am.repo.deliveries({ alertId: a.id });
    assert.deepEqual(ds.map((d) => [d.status, d.attempts]), [['failed', 16], ['sent', 1]]);
    assert.deepEqual(Object.keys(slack.requests[0]!.body as object), ['text']);
    assert.match((slack.requests[0]!.body as { text: string }).text, /TIMED OUT\* nightly: timed out after 1h00m/);
    assert.ok(w.log.lines.some((l) => l.includes('failed after 16 attempts: HTTP 500')));

    // The receiver is back: the next occurrence of the open alert is sent again, where it had failed only.
    down = false;
    await finishRun(w.jm, job.id, { status: 'timeout', duration_ms: 3_600_000 });
    await w.am.idle();
    assert.equal(bad.requests.length, 17);
    assert.equal(slack.requests.length, 1, 'the channel that had it gets no second one');
    a = (await row())!;
    assert.equal(a.count, 2);
    assert.equal(a.notification_status, 'sent');
  } finally {
    await w.close();
    await bad.close();
    await slack.close();
  }
});

test('rate limit per channel: over the limit the notices are held and one digest goes out when the hour ends', async () => {
  const smtp = await startSmtp();
  const hook = await startHook();
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, webhooks: [{ url: hook.url }], rate_limit_per_hour: 2 }));
  try {
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const job = await addJob(w.jm, `job-${name}`);
      await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
      await w.clock.advance(60_000);
    }
    await w.am.idle();
    await until(() => smtp.mails.length === 2 && hook.requests.length === 2, 'two notices per channel');
    const { alerts } = await w.am.list({ open: true });
    assert.equal(alerts.length, 5, 'every alert is recorded');
    assert.deepEqual(alerts.map((a) => a.notification_status).sort(), ['sent', 'sent', 'suppressed', 'suppressed', 'suppressed']);
    assert.ok(w.log.lines.includes('[ALERT] job-e - failure - error'), 'the log line is never rate limited');

    await w.clock.advance(3600_000 - 5 * 60_000);
    await w.am.idle();
    await until(() => smtp.mails.length === 3 && hook.requests.length === 3, 'the digests');
    const digest = smtp.mails[2]!;
    assert.equal(digest.subject, '[smart-cron] digest: 3 notifications held back by the rate limit');
    for (const n of ['job-c', 'job-d', 'job-e']) assert.match(digest.text!, new RegExp(`FAILED ${n}: exit code 1`));
    assert.doesNotMatch(digest.text!, /job-a/);
    const body = hook.requests[2]!.body as { event: string; items: unknown[] };
    assert.equal(body.event, 'digest');
    assert.equal(body.items.length, 3);
    assert.equal((await w.am.repo.deliveries({ kind: 'digest' })).length, 2);

    // A new hour, a fresh allowance.
    const job = await addJob(w.jm, 'job-f');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await w.am.idle();
    await until(() => smtp.mails.length === 4, 'the next alert goes out directly');
  } finally {
    await w.close();
    await smtp.close();
    await hook.close();
  }
});

test('SMTP with authentication; a wrong password never appears in errors, rows or logs', async () => {
  const smtp = await startSmtp({ user: 'alerts', pass: 's3cret-Pa55' });
  try {
    const good = await world(config({ email: { smtp_url: `smtp://alerts:s3cret-Pa55@127.0.0.1:${smtp.port}`, to: ['ops@example.org'] } }));
    try {
      const r = await good.am.test();
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(smtp.mails.at(-1)!.subject, '[smart-cron] test notification');
      assert.equal(good.am.smtpServer, `smtp://alerts:***@127.0.0.1:${smtp.port}`);
    } finally {
      await good.close();
    }
    const bad = await world(config({ email: { smtp_url: `smtp://127.0.0.1:${smtp.port}`, user: 'alerts', password: 'wrong-Secret-99', to: ['ops@example.org'], retries: 0 } }));
    try {
      const r = await bad.am.test();
      assert.equal(r.ok, false);
      assert.match(r.results[0]!.error!, /Invalid username or password/);
      assert.ok(smtp.auths.some((x) => x.pass === 'wrong-Secret-99'), 'the server did receive it');
      const job = await addJob(bad.jm, 'j');
      await finishRun(bad.jm, job.id, { status: 'failed' });
      await bad.am.idle();
      const everything = JSON.stringify([r, bad.log.lines, await bad.am.repo.deliveries(), await bad.am.list({})]);
      assert.doesNotMatch(everything, /wrong-Secret-99/);
    } finally {
      await bad.close();
    }
  } finally {
    await smtp.close();
  }
});

test('redaction: passwords, query values and token-like path segments', () => {
  const cases: [string, string][] = [
    ['smtp://u:p%40ss@mail.example:587', 'smtp://u:***@mail.example:587'],
    ['https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx', 'https://hooks.slack.com/services/***/***/***'],
    ['https://example.org/hook?token=abc', 'https://example.org/hook?token=***'],
    ['http://127.0.0.1:8080/hook', 'http://127.0.0.1:8080/hook'],
  ];
  for (const [input, want] of cases) assert.equal(redactUrl(input), want, input);
  assert.equal(scrub('auth failed for smtp://me:hunter22@host with hunter22', ['hunter22']), 'auth failed for smtp://me:***@host with ***');
});
