/** The alert lifecycle driven by real recorded runs, with mail received by a real SMTP server. */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { AlertsService } from '../../src/api/alerts.js';
import { iso } from '../../src/clock.js';
import { ConflictError, NotFoundError } from '../../src/errors.js';
import type { AlertRow } from '../../src/storage/schema.js';
import { addJob, config, finishRun, startSmtp, until, world, type Smtp } from './helpers.js';

let smtp: Smtp;
before(async () => {
  smtp = await startSmtp();
});
after(async () => {
  await smtp.close();
});

const mailsFrom = (start: number) => smtp.mails.slice(start);

test('ten failures: one failure alert (count 10), one consecutive alert; a success resolves both with exactly one recovery mail', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, from: 'cron@example.org', to: ['ops@example.org'] } }, { public_url: 'https://dash.example/' }));
  const raised: AlertRow[] = [];
  const resolved: AlertRow[] = [];
  w.bus.on('alert.raised', (a) => raised.push(a));
  w.bus.on('alert.resolved', (a) => resolved.push(a));
  const start = smtp.mails.length;
  try {
    const job = await addJob(w.jm, 'backup-db', { alert_emails: ['dba@example.org', 'oncall@example.org'] });
    let lastRunId = 0;
    for (let i = 0; i < 10; i++) {
      const r = await finishRun(w.jm, job.id, { status: 'failed', exit_code: 2, output_tail: `dumping...\npg_dump: error: connection refused (try ${i + 1})\n` });
      lastRunId = r.run.id;
      await w.clock.advance(60_000);
    }
    await w.am.idle();
    const { alerts: open } = await w.am.list({ open: true });
    assert.equal(open.length, 2);
    const failure = open.find((a) => a.alert_type === 'failure')!;
    const consec = open.find((a) => a.alert_type === 'consecutive_failures')!;
    assert.equal(failure.count, 10);
    assert.equal(failure.severity, 'error');
    assert.equal(failure.run_id, lastRunId);
    assert.equal(failure.job_name, 'backup-db');
    assert.equal(consec.severity, 'critical');
    assert.equal(consec.count, 8, 'runs 3..10 each reached the threshold');
    assert.equal(failure.notification_status, 'sent');
    await until(() => smtp.mails.length - start >= 2, 'two alert mails');

    const first = mailsFrom(start).find((m) => m.subject?.includes('FAILED'))!;
    assert.equal(first.subject, '[smart-cron] FAILED backup-db: exit code 2');
    assert.deepEqual(smtp.envelopes[smtp.mails.indexOf(first)]!.sort(), ['dba@example.org', 'oncall@example.org']);
    assert.match(first.text!, /What happened/);
    assert.match(first.text!, /What to do/);
    assert.match(first.text!, /pg_dump: error: connection refused \(try 1\)/);
    assert.match(first.text!, /https:\/\/dash\.example\/#\/runs\/\d+/);
    assert.match(first.text!, /smart-cron alerts ack \d+/);
    assert.ok(mailsFrom(start).some((m) => m.subject === '[smart-cron] FAILING backup-db: 3 failed runs in a row (threshold 3)'));

    await finishRun(w.jm, job.id, { status: 'succeeded' });
    await w.am.idle();
    const after = await w.am.list({ jobId: job.id });
    assert.ok(after.alerts.every((a) => a.resolved_at !== null), 'both resolved');
    assert.equal((await w.am.list({ open: true })).total, 0);
    await until(() => smtp.mails.length - start >= 3, 'the recovery mail');
    await new Promise((r) => setTimeout(r, 200));
    const mine = mailsFrom(start);
    assert.equal(mine.length, 3, `not twelve mails: ${mine.map((m) => m.subject).join(' | ')}`);
    const recoveries = mine.filter((m) => m.subject?.includes('RECOVERED'));
    assert.equal(recoveries.length, 1);
    assert.equal(recoveries[0]!.subject, '[smart-cron] RECOVERED backup-db: succeeded after 10 failed runs');
    const deliveries = await w.am.repo.deliveries({ kind: 'recovery' });
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0]!.status, 'sent');

    assert.equal(w.log.lines.filter((l) => l === '[ALERT] backup-db - failure - error').length, 10);
    assert.ok(w.log.lines.includes('[ALERT] backup-db - consecutive_failures - critical'));
    assert.equal(raised.length, 18);
    assert.deepEqual(resolved.map((a) => a.alert_type).sort(), ['consecutive_failures', 'failure']);
  } finally {
    await w.close();
  }
});

test('each run rule, from real recorded runs, opens its alert with its severity and mails it', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] } }));
  const start = smtp.mails.length;
  try {
    const job = await addJob(w.jm, 'etl', { timeout_seconds: 600, memory_limit_mb: 512 });
    await w.jm.jobs.update(job.id, { baseline_duration_seconds: 10, baseline_memory_mb: 100 });
    const cases = [
      { outcome: { status: 'timeout', duration_ms: 600_000 }, type: 'timeout', severity: 'warning', subject: /TIMED OUT etl: timed out after 10m00s/ },
      { outcome: { status: 'memory_limit', peak_memory_mb: 512 }, type: 'memory_limit', severity: 'error', subject: /KILLED \(memory limit\) etl/ },
      { outcome: { status: 'oom_killed', peak_memory_mb: 700 }, type: 'oom_killed', severity: 'error', subject: /OOM-KILLED etl/ },
      { outcome: { status: 'succeeded', peak_memory_mb: 400 }, type: 'high_memory', severity: 'warning', subject: /HIGH MEMORY etl: peak memory 400 MB, 4.0× its baseline of 100 MB/ },
      { outcome: { status: 'succeeded', duration_ms: 45_000 }, type: 'high_duration', severity: 'warning', subject: /SLOW etl: ran 45s, 4.5× its baseline of 10s/ },
    ] as const;
    for (const c of cases) {
      // Keep the baseline fixed: recordExecution recomputes it every 10 runs.
      await finishRun(w.jm, job.id, c.outcome);
      await w.jm.jobs.update(job.id, { baseline_duration_seconds: 10, baseline_memory_mb: 100 });
      await w.am.idle();
      const a = (await w.am.list({ jobId: job.id })).alerts.find((x) => x.alert_type === c.type);
      assert.ok(a, `${c.type} raised`);
      assert.equal(a.severity, c.severity);
      assert.ok(w.log.lines.includes(`[ALERT] etl - ${c.type} - ${c.severity}`));
      await until(() => smtp.mails.slice(start).some((m) => c.subject.test(m.subject ?? '')), `mail for ${c.type}`);
    }
    // The first success (the high-memory run) ended the timeout and kill alerts with one recovery mail;
    // the next run, back to normal memory, ended high_memory quietly.
    const subjects = smtp.mails.slice(start).map((m) => m.subject ?? '');
    assert.equal(subjects.filter((s) => s.includes('RECOVERED etl')).length, 1, subjects.join(' | '));
    assert.deepEqual((await w.am.list({ open: true })).alerts.map((a) => a.alert_type), ['high_duration']);
    const before = smtp.mails.length;
    await finishRun(w.jm, job.id, { status: 'succeeded', duration_ms: 9000, peak_memory_mb: 90 });
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).total, 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.mails.length, before, 'performance warnings close without a recovery mail');
  } finally {
    await w.close();
  }
});

test('a 20 ms job\'s jitter raises nothing (no mail); with the floors at 0 it does, in ms and tenths of a MB', async () => {
  for (const floors of [{}, { high_duration_min_excess_seconds: 0, high_memory_min_excess_mb: 0 }]) {
    const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, ...floors }));
    const start = smtp.mails.length;
    try {
      const job = await addJob(w.jm, 'tiny');
      await w.jm.jobs.update(job.id, { baseline_duration_seconds: 0.02, baseline_memory_mb: 0.7 });
      await finishRun(w.jm, job.id, { status: 'succeeded', duration_ms: 58, peak_memory_mb: 1.4 });
      await w.am.idle();
      const types = (await w.am.list({ jobId: job.id })).alerts.map((a) => `${a.alert_type}: ${a.message}`).sort();
      if (Object.keys(floors).length === 0) {
        assert.deepEqual(types, [], 'default floors: 1 s and 16 MB');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(smtp.mails.length, start, 'no mail');
      } else {
        assert.deepEqual(types, ['high_duration: ran 58ms, 2.9× its baseline of 20ms', 'high_memory: peak memory 1.4 MB, 2.0× its baseline of 0.7 MB']);
      }
    } finally {
      await w.close();
    }
  }
});

test('a run that failed before its command started: the alert and its mail say why, not "exit code ?"', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] } }));
  try {
    const job = await addJob(w.jm, 'nodir', { working_dir: '/nonexistent/dir' });
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: null, error_message: 'working directory relative/dir: does not exist (ENOENT)' });
    await w.am.idle();
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a!.message, 'working directory relative/dir: does not exist (ENOENT)');
    await until(() => smtp.mails.some((m) => m.subject === '[smart-cron] FAILED nodir: working directory relative/dir: does not exist (ENOENT)'), 'the failure mail');
  } finally {
    await w.close();
  }
});

test('missed (virtual clock): overdue job raises once however often checked; an on-time run resolves it', async () => {
  const w = await world(config({ missed_grace_seconds: 300 }));
  try {
    const job = await addJob(w.jm, 'hourly'); // 0 * * * *, next run 11:00
    assert.equal(job.next_scheduled_run, '2026-03-02T11:00:00.000Z');
    await w.clock.advance(64 * 60_000); // 11:04: inside the grace
    assert.deepEqual(await w.am.checkPeriodic(), { raised: 0, resolved: 0 });
    await w.clock.advance(2 * 60_000); // 11:06
    assert.deepEqual(await w.am.checkPeriodic(), { raised: 1, resolved: 0 });
    await w.clock.advance(60_000);
    assert.deepEqual(await w.am.checkPeriodic(), { raised: 0, resolved: 0 });
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a!.alert_type, 'missed');
    assert.equal(a!.count, 1);
    assert.match(a!.message, /due at 2026-03-02T11:00:00.000Z/);
    assert.ok(w.log.lines.includes('[ALERT] hourly - missed - warning'));
    // The dispatcher catches up and moves the schedule on; the next tick runs on time.
    await w.jm.jobs.update(job.id, { next_scheduled_run: '2026-03-02T12:00:00.000Z' });
    await w.clock.advance(53 * 60_000); // 12:00
    await finishRun(w.jm, job.id, { status: 'succeeded' }, { trigger: 'schedule', scheduledFor: '2026-03-02T12:00:00.000Z', startedAt: '2026-03-02T12:00:01.000Z' });
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).total, 0);
  } finally {
    await w.close();
  }
});

test('missed: a run that sat queued past the grace', async () => {
  const w = await world(config());
  try {
    const job = await addJob(w.jm, 'queued-job');
    const tick = iso(w.clock.now());
    await w.jm.history.insertOnce({ job_id: job.id, scheduled_for: tick, trigger: 'schedule', status: 'queued', queued_at: tick, wait_reason: 'slot heavy is full' });
    await w.clock.advance(6 * 60_000);
    await w.am.checkPeriodic();
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a?.alert_type, 'missed');
    assert.match(a!.message, /queued for 6m00s: slot heavy is full/);
  } finally {
    await w.close();
  }
});

test('missed: a tick the planner skipped under the misfire policy (onSkipped)', async () => {
  const w = await world(config());
  try {
    const job = await addJob(w.jm, 'skipper');
    const tick = iso(w.clock.now() - 3600_000);
    const row = (await w.jm.history.insertOnce({ job_id: job.id, scheduled_for: tick, trigger: 'schedule', status: 'skipped', queued_at: tick, skip_reason: 'missed 2 ticks (misfire policy skip)' }))!;
    await w.am.onSkipped(row);
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a?.alert_type, 'missed');
    assert.equal(a!.run_id, row.id);
    assert.match(a!.message, /was skipped: missed 2 ticks \(misfire policy skip\)/);
  } finally {
    await w.close();
  }
});

test('hanging (virtual clock): running 3x its baseline, below its timeout; resolves when the run ends', async () => {
  const w = await world(config({ hanging_factor: 3 }));
  try {
    const job = await addJob(w.jm, 'report', { timeout_seconds: 3600 });
    await w.jm.jobs.update(job.id, { baseline_duration_seconds: 60 });
    const started = iso(w.clock.now());
    const run = (await w.jm.history.insertOnce({ job_id: job.id, scheduled_for: started, trigger: 'manual', status: 'running', queued_at: started, started_at: started }))!;
    await w.clock.advance(170_000);
    assert.equal((await w.am.checkPeriodic()).raised, 0);
    await w.clock.advance(20_000);
    assert.equal((await w.am.checkPeriodic()).raised, 1);
    await w.clock.advance(60_000);
    await w.am.checkPeriodic();
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a!.alert_type, 'hanging');
    assert.equal(a!.count, 1, 'the same hanging run is one occurrence');
    assert.equal(a!.run_id, run.id);
    await w.jm.recordExecution(run.id, { status: 'succeeded', exit_code: 0, duration_ms: 250_000 });
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).alerts.filter((x) => x.alert_type === 'hanging').length, 0);
  } finally {
    await w.close();
  }
});

test('circuit_open follows the job row; switched-off rules stay quiet', async () => {
  const w = await world(config());
  try {
    const job = await addJob(w.jm, 'flaky', { alert_on_failure: false });
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await w.am.idle();
    assert.equal((await w.am.list({})).total, 0, 'alert_on_failure off');
    const job2 = await addJob(w.jm, 'breaker');
    await w.jm.jobs.update(job2.id, { circuit_state: 'open' });
    assert.equal((await w.am.checkPeriodic()).raised, 1);
    assert.equal((await w.am.checkPeriodic()).raised, 0);
    await w.jm.jobs.update(job2.id, { circuit_state: 'closed' });
    assert.equal((await w.am.checkPeriodic()).resolved, 1);
  } finally {
    await w.close();
  }
});

test('an attempt that will be retried raises nothing; the final attempt does', async () => {
  const w = await world(config());
  try {
    const job = await addJob(w.jm, 'retrying', { retries: 1 });
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 }, { willRetry: true });
    await w.am.idle();
    assert.equal((await w.am.list({})).total, 0);
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await w.am.idle();
    assert.deepEqual((await w.am.list({ open: true })).alerts.map((a) => [a.alert_type, a.count]), [['failure', 1]]);
  } finally {
    await w.close();
  }
});

test('acknowledge: sets acknowledged_at, keeps the alert open; unknown id is NotFoundError', async () => {
  const w = await world(config());
  try {
    const job = await addJob(w.jm, 'ackme');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 3 });
    await w.am.idle();
    const [a] = (await w.am.list({ open: true })).alerts;
    const acked = await w.am.acknowledge(a!.id);
    assert.equal(acked.acknowledged_at, iso(w.clock.now()));
    assert.equal(acked.resolved_at, null);
    assert.equal((await w.am.list({ open: true })).total, 1);
    await assert.rejects(w.am.acknowledge(9999), NotFoundError);
    // The API takes the manager as its alerts service.
    const service: AlertsService = w.am;
    assert.equal((await service.acknowledge(a!.id)).id, a!.id);
    // No channel configured at all: the alert says so instead of staying pending.
    assert.equal((await w.am.repo.byId(a!.id))!.notification_status, 'none');
    // Once resolved there is nothing left to acknowledge: refused, saying so.
    await finishRun(w.jm, job.id, { status: 'succeeded' });
    await w.am.idle();
    const gone = (await w.am.repo.byId(a!.id))!;
    await assert.rejects(w.am.acknowledge(a!.id), (e: Error) => e instanceof ConflictError && e.message === `alert #${a!.id} (failure) resolved at ${gone.resolved_at}: only an open alert can be acknowledged`);
  } finally {
    await w.close();
  }
});

test('a dead SMTP server never blocks recording or throws; the failure is recorded on the alert, still pending a retry', async () => {
  const w = await world(config({ email: { smtp_url: 'smtp://127.0.0.1:1', to: ['ops@example.org'], retries: 1 }, retry_backoff_ms: 1000 }));
  try {
    const job = await addJob(w.jm, 'nomail');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await w.am.idle();
    const [a] = (await w.am.list({ open: true })).alerts;
    assert.equal(a!.notification_status, 'pending', 'a retry is scheduled');
    await w.clock.advance(1000);
    await w.am.idle();
    const row = (await w.am.repo.byId(a!.id))!;
    assert.equal(row.notification_status, 'pending');
    assert.match(row.notification_error!, /^email ops@example.org: connect ECONNREFUSED 127\.0\.0\.1:1$/);
    const [d] = await w.am.repo.deliveries({ alertId: a!.id });
    assert.deepEqual([d!.attempts, d!.status, d!.next_attempt_at], [2, 'pending', iso(w.clock.now() + 2000)]);
  } finally {
    await w.close();
  }
});

test('an SMTP server that never answers does not hold up recording: the alert is written, its mail still pending', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => void sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as AddressInfo).port;
  const w = await world(config({ email: { smtp_url: `smtp://127.0.0.1:${port}`, to: ['ops@example.org'], timeout_ms: 60_000, retries: 0 } }));
  try {
    const job = await addJob(w.jm, 'slowmail');
    const t0 = Date.now();
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 });
    await until(async () => (await w.am.list({ open: true })).total === 1, 'the alert row');
    await until(async () => (await w.am.repo.deliveries()).length === 1 && sockets.size === 1, 'the mail attempt to begin');
    assert.ok(Date.now() - t0 < 30_000, 'well before the 60 s SMTP timeout');
    const [d] = await w.am.repo.deliveries();
    assert.deepEqual([d!.status, d!.attempts], ['pending', 0]);
  } finally {
    for (const s of sockets) s.destroy();
    await w.close();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

/** The subjects of the mails about one job since `start`, once no more arrive for 300 ms. */
async function settledSubjects(start: number, job: string): Promise<string[]> {
  let n = -1;
  while (n !== smtp.mails.length) {
    n = smtp.mails.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return smtp.mails.slice(start).map((m) => m.subject ?? '').filter((s) => s.includes(` ${job}:`));
}

test('a run that hangs and then times out, or finishes slow: HANGING and its outcome, no "RECOVERED"', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, hanging_factor: 3 }));
  try {
    for (const [name, outcome, last] of [
      ['slowpoke', { status: 'timeout', exit_code: null, duration_ms: 600_000 }, /^\[smart-cron\] TIMED OUT slowpoke: timed out after 10m00s/],
      ['crawler', { status: 'succeeded', exit_code: 0, duration_ms: 250_000 }, /^\[smart-cron\] SLOW crawler: ran 4m10s/],
    ] as const) {
      const start = smtp.mails.length;
      const job = await addJob(w.jm, name, { timeout_seconds: 600 });
      await w.jm.jobs.update(job.id, { baseline_duration_seconds: 60 });
      const started = iso(w.clock.now());
      const run = (await w.jm.history.insertOnce({ job_id: job.id, scheduled_for: started, trigger: 'manual', status: 'running', queued_at: started, started_at: started }))!;
      await w.clock.advance(200_000);
      await w.am.checkPeriodic();
      await w.jm.recordExecution(run.id, outcome);
      await w.am.idle();
      const subjects = await settledSubjects(start, name);
      // Two mails (in whichever order the SMTP server took them), and no third saying "RECOVERED".
      assert.equal(subjects.length, 2, subjects.join(' | '));
      assert.ok(subjects.some((s) => s.startsWith(`[smart-cron] HANGING ${name}: running for 3m20s`)), subjects.join(' | '));
      assert.ok(subjects.some((s) => last.test(s)), subjects.join(' | '));
      const hanging = (await w.am.list({ jobId: job.id })).alerts.find((a) => a.alert_type === 'hanging')!;
      assert.ok(hanging.resolved_at, 'the hanging alert ends with the run, quietly');
    }
  } finally {
    await w.close();
  }
});

test('a failed run on time does not end a miss; the next good one ends both, in one notice', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, missed_grace_seconds: 300 }));
  const start = smtp.mails.length;
  try {
    const job = await addJob(w.jm, 'misser'); // 0 * * * *, next run 11:00
    await w.clock.advance(66 * 60_000); // 11:06: overdue
    await w.am.checkPeriodic();
    await w.jm.jobs.update(job.id, { next_scheduled_run: '2026-03-02T12:00:00.000Z' });
    await w.clock.advance(54 * 60_000); // 12:00
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1 }, { trigger: 'schedule', scheduledFor: '2026-03-02T12:00:00.000Z', startedAt: '2026-03-02T12:00:01.000Z' });
    await w.am.idle();
    assert.deepEqual((await w.am.list({ open: true })).alerts.map((a) => a.alert_type).sort(), ['failure', 'missed']);
    await w.clock.advance(3600_000); // 13:00
    await finishRun(w.jm, job.id, { status: 'succeeded' }, { trigger: 'schedule', scheduledFor: '2026-03-02T13:00:00.000Z', startedAt: '2026-03-02T13:00:01.000Z' });
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).total, 0);
    const subjects = await settledSubjects(start, 'misser');
    assert.deepEqual(
      subjects.map((s) => s.replace(/:.*/, '')).sort(),
      ['[smart-cron] FAILED misser', '[smart-cron] MISSED misser', '[smart-cron] RECOVERED misser'],
      subjects.join(' | '),
    );
    assert.ok(subjects.includes('[smart-cron] RECOVERED misser: succeeded after 1 failed run'), subjects.join(' | '));
  } finally {
    await w.close();
  }
});

test('a miss closed by the periodic check because the job was disabled ends quietly: no "RECOVERED" for a job that did not run', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, missed_grace_seconds: 300 }));
  const start = smtp.mails.length;
  try {
    await addJob(w.jm, 'retired'); // 0 * * * *, next run 11:00
    await w.clock.advance(66 * 60_000); // 11:06: overdue
    assert.equal((await w.am.checkPeriodic()).raised, 1);
    await w.jm.disableJob('retired');
    assert.equal((await w.am.checkPeriodic()).resolved, 1);
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).total, 0);
    const subjects = await settledSubjects(start, 'retired');
    assert.deepEqual(subjects.map((x) => x.replace(/:.*/, '')), ['[smart-cron] MISSED retired'], subjects.join(' | '));
  } finally {
    await w.close();
  }
});

test('the run that closes the circuit: one "RECOVERED" for the failures and the circuit, none after', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] } }));
  const start = smtp.mails.length;
  try {
    const job = await addJob(w.jm, 'failer');
    for (let i = 0; i < 5; i++) {
      await finishRun(w.jm, job.id, { status: 'failed', exit_code: 3 });
      await w.clock.advance(15_000);
    }
    // As the dispatcher does: the circuit opens after the fifth failure was recorded.
    await w.jm.jobs.update(job.id, { circuit_state: 'open', circuit_opened_at: iso(w.clock.now()), circuit_open_count: 1 });
    await w.am.checkPeriodic();
    await w.am.idle();
    // A person runs it by hand and it succeeds; the dispatcher closes the circuit after it is recorded.
    await finishRun(w.jm, job.id, { status: 'succeeded' });
    await w.jm.jobs.update(job.id, { circuit_state: 'closed', circuit_opened_at: null, circuit_open_count: 0 });
    await w.am.idle();
    assert.equal((await w.am.list({ open: true })).total, 0, 'failure, consecutive_failures and circuit_open all ended');
    await w.clock.advance(2000);
    await finishRun(w.jm, job.id, { status: 'succeeded' });
    await w.am.checkPeriodic();
    await w.am.idle();
    const subjects = await settledSubjects(start, 'failer');
    const recovered = subjects.filter((s) => s.includes('RECOVERED'));
    assert.deepEqual(recovered, ['[smart-cron] RECOVERED failer: succeeded after 5 failed runs'], subjects.join(' | '));
    const mail = smtp.mails.slice(start).find((m) => m.subject === recovered[0])!;
    for (const t of ['failure', 'consecutive_failures', 'circuit_open']) assert.match(mail.text!, new RegExp(`^- #\\d+ ${t} `, 'm'));
  } finally {
    await w.close();
  }
});

test('threshold 1: one failure, one mail (FAILED); a sub-MB peak reads in tenths, not "0 MB"', async () => {
  const w = await world(config({ email: { smtp_url: smtp.url, to: ['ops@example.org'] }, consecutive_failure_threshold: 1 }));
  const start = smtp.mails.length;
  try {
    const job = await addJob(w.jm, 'f1');
    await finishRun(w.jm, job.id, { status: 'failed', exit_code: 1, peak_memory_mb: 0.4 });
    await w.am.idle();
    const subjects = await settledSubjects(start, 'f1');
    assert.deepEqual(subjects, ['[smart-cron] FAILED f1: exit code 1']);
    const mail = smtp.mails.slice(start).find((m) => m.subject === subjects[0])!;
    assert.match(mail.text!, /^Peak mem: {2}0\.4 MB$/m);
  } finally {
    await w.close();
  }
});
