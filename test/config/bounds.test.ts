/**
 * config.yaml's limits: every time setting within what Node's timers hold (and sane), the lease
 * several heartbeats long, URLs checked whole, and messages that say the range in words. Also
 * the real clock's long timers and a prune far into the past, which must never throw.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { MAX_TIMER_MS, systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { JobManager } from '../../src/jobs/manager.js';
import { pruneHistory } from '../../src/jobs/retention.js';
import { openDatabase } from '../../src/storage/database.js';
import { insertJob, insertRun } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

function home(configText: string): string {
  const dir = tempDir('smart-cron-bounds-');
  writeFileSync(join(dir, 'config.yaml'), configText);
  return dir;
}

/** [label, file text, field, pieces the message must contain] */
const BAD: [string, string, string, string[]][] = [
  ['a heartbeat past what a timer holds', 'node: { heartbeat_seconds: 3000000 }\n', 'node.heartbeat_seconds', ['node.heartbeat_seconds = 3000000', 'expected a number from 0.5 to 3600']],
  ['a heartbeat of a millisecond', 'node: { heartbeat_seconds: 0.001 }\n', 'node.heartbeat_seconds', ['node.heartbeat_seconds = 0.001', 'expected a number from 0.5 to 3600']],
  ['a lease of years', 'node: { lease_seconds: 1000000000 }\n', 'node.lease_seconds', ['node.lease_seconds = 1000000000', 'expected a number from 1 to 86400']],
  ['a kill grace past what a timer holds', 'execution: { kill_grace_seconds: 3000000 }\n', 'execution.kill_grace_seconds', ['execution.kill_grace_seconds = 3000000', 'expected a number from 0 to 3600']],
  ['a retry backoff of months', 'alerts: { retry_backoff_ms: 10000000000 }\n', 'alerts.retry_backoff_ms', ['alerts.retry_backoff_ms = 10000000000', 'expected a whole number from 1 to 3600000']],
  ['a mail timeout of months', 'alerts: { email: { timeout_ms: 10000000000 } }\n', 'alerts.email.timeout_ms', ['alerts.email.timeout_ms = 10000000000', 'expected a whole number from 100 to 600000']],
  ['a webhook timeout of months', 'alerts: { webhooks: [{ url: "https://hooks.example.org/x", timeout_ms: 10000000000 }] }\n', 'alerts.webhooks.0.timeout_ms', ['alerts.webhooks.0.timeout_ms = 10000000000', 'expected a whole number from 100 to 600000']],
  ['history kept past any date', 'retention: { history_days: 999999999 }\n', 'retention.history_days', ['retention.history_days = 999999999', 'expected a number > 0 and <= 36500']],
  // The lease against the heartbeat: the node would read unresponsive, and others would fail it over.
  ['a heartbeat as long as the lease', 'node: { heartbeat_seconds: 30 }\n', 'node.lease_seconds', ['node.lease_seconds = 30 with node.heartbeat_seconds = 30', 'at least 3 heartbeats long', 'lease_seconds >= 90']],
  ['a lease shorter than the heartbeat', 'node: { heartbeat_seconds: 10, lease_seconds: 5 }\n', 'node.lease_seconds', ['node.lease_seconds = 5 with node.heartbeat_seconds = 10', 'lease_seconds >= 30']],
  ['a lease of two heartbeats', 'node: { heartbeat_seconds: 5, lease_seconds: 10 }\n', 'node.lease_seconds', ['lease_seconds >= 15']],
  // Messages: a union says its alternatives with "or", one rule's parts with "and".
  ['a negative host reserve', 'host: { reserve_mb: -5 }\n', 'host.reserve_mb', ['host.reserve_mb = -5: expected "auto" or a number >= 0']],
  ['half a run', 'retention: { max_runs_per_job: 0.5 }\n', 'retention.max_runs_per_job', ['retention.max_runs_per_job = 0.5: expected a whole number >= 1']],
  ['a built-in slot misspelt', 'slots:\n  defualt: { max_memory_mb: 2048 }\n', 'slots.defualt', ['slots.defualt: not a built-in slot (did you mean "default"?)', 'max_concurrent_jobs, max_memory_mb, max_cpu_percent']],
  ['a slot named auto', 'slots:\n  auto: { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 50 }\n', 'slots.auto', ['"auto" cannot be a slot name', 'choose another name']],
  ['a webhook URL without a host', 'alerts: { webhooks: [{ url: "http://" }] }\n', 'alerts.webhooks.0.url', ['alerts.webhooks.0.url = "http://": expected an http:// or https:// URL with a host']],
  ['a webhook URL with a bad port (its password not shown)', 'alerts: { webhooks: [{ url: "https://u:hunter2@hooks.example.org:99999/x" }] }\n', 'alerts.webhooks.0.url', ['alerts.webhooks.0.url = ', 'with a host and an optional port from 1 to 65535']],
  ['a public URL that is no URL', 'api: { public_url: "not a url" }\n', 'api.public_url', ['api.public_url = "not a url": expected an http:// or https:// URL']],
  ['a public URL without a host', 'api: { public_url: "https://" }\n', 'api.public_url', ['api.public_url = "https://": expected an http:// or https:// URL with a host']],
];

for (const [label, text, field, pieces] of BAD) {
  test(`config bounds: ${label} -> refused, naming the key and what is expected`, () => {
    const h = home(text);
    assert.throws(
      () => loadConfig({ home: h, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
        assert.ok(e.message.startsWith(join(h, 'config.yaml')), `names the file: ${e.message}`);
        assert.equal(e.field, field, e.message);
        for (const p of pieces) assert.ok(e.message.includes(p), `"${e.message}" should contain ${JSON.stringify(p)}`);
        assert.ok(!e.message.includes('hunter2'), 'no password in the message');
        return true;
      },
    );
  });
}

test('config bounds: values at the edges, and the lease at three heartbeats, are accepted', () => {
  for (const text of [
    'node: { heartbeat_seconds: 0.5, lease_seconds: 1.5 }\n',
    'node: { heartbeat_seconds: 1, lease_seconds: 4 }\n', // the cluster tests' settings
    'node: { heartbeat_seconds: 3600, lease_seconds: 86400 }\n',
    'execution: { kill_grace_seconds: 0 }\nretention: { history_days: 36500 }\n',
    'alerts: { retry_backoff_ms: 3600000, email: { timeout_ms: 600000 }, webhooks: [{ url: "https://hooks.example.org/x", timeout_ms: 100 }] }\n',
    'api: { public_url: "https://cron.example.org/" }\n',
    'slots:\n  heavy2: { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 50 }\n  heavy: { max_memory_mb: 8192 }\n',
  ]) {
    assert.doesNotThrow(() => loadConfig({ home: home(text), env: {} }), text);
  }
});

test('node id: a bad one names where it came from (the flag, the environment variable)', () => {
  const h = home('');
  assert.throws(() => loadConfig({ home: h, env: { SMART_CRON_NODE_ID: 'bad id' } }), /^ConfigError: SMART_CRON_NODE_ID: node id "bad id" is invalid \(expected letters/);
  assert.throws(() => loadConfig({ home: h, nodeId: 'bad id', env: {} }), /^ConfigError: --node-id: node id "bad id" is invalid/);
});

test('the real clock: a delay past 2^31-1 ms neither fires at once nor warns (TimeoutOverflowWarning)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  let fired = 0;
  const t = systemClock.setTimer(MAX_TIMER_MS + 1, () => fired++);
  const inf = systemClock.setTimer(Infinity, () => fired++);
  await new Promise((r) => setTimeout(r, 50));
  t.cancel();
  inf.cancel();
  process.off('warning', onWarning);
  assert.equal(fired, 0, 'a 24.8-day sleep fired within 50 ms');
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});

test('the real clock: a long sleep is re-armed until its real due time, never early', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const due = 3 * MAX_TIMER_MS + 5000; // about 75 days
  let firedAt: number | null = null;
  systemClock.setTimer(due, () => (firedAt = Date.now()));
  for (let i = 0; i < 3; i++) t.mock.timers.tick(MAX_TIMER_MS);
  assert.equal(firedAt, null, 'not before its time');
  t.mock.timers.tick(4999);
  assert.equal(firedAt, null, 'not a millisecond early');
  t.mock.timers.tick(1);
  assert.equal(firedAt, due);
  // A cancelled long sleep stays cancelled across its pieces.
  let cancelledFired = false;
  const h = systemClock.setTimer(2 * MAX_TIMER_MS, () => (cancelledFired = true));
  t.mock.timers.tick(MAX_TIMER_MS + 10);
  h.cancel();
  t.mock.timers.tick(2 * MAX_TIMER_MS);
  assert.equal(cancelledFired, false);
  mock.timers.reset();
});

test('prune: a cut-off before any date a clock can show keeps everything instead of throwing "Invalid time value"', async () => {
  const dir = tempDir('smart-cron-prune-');
  const database = await openDatabase(`sqlite:${join(dir, 'smart-cron.db')}`);
  try {
    const now = Date.UTC(2026, 0, 5);
    const job = await insertJob(database, 'nightly', {}, now);
    await insertRun(database, job.id, { status: 'succeeded' }, now - 400 * 86400_000);
    const jm = new JobManager(database, systemClock);
    const r = await pruneHistory(jm, { historyDays: 999_999_999, maxRunsPerJob: 10, runsDir: join(dir, 'runs'), nowMs: now });
    assert.deepEqual(r, { runs: 0, logs: 0 });
    const kept = await pruneHistory(jm, { historyDays: 36500, maxRunsPerJob: 10, runsDir: join(dir, 'runs'), nowMs: now });
    assert.equal(kept.runs, 0);
    assert.equal((await pruneHistory(jm, { historyDays: 30, maxRunsPerJob: 10, runsDir: join(dir, 'runs'), nowMs: now })).runs, 1, 'a usual cut-off still prunes');
  } finally {
    await database.close();
  }
});
