/**
 * Workflows with real processes: the engine the daemon builds (buildEngine over openApp, a real
 * SQLite file in a fresh home), portable enforcement. Mutex groups under load (intervals never
 * overlap), a chain writing to one file in order, and a job that fails once and then succeeds
 * on its retry (one retry attempt, final outcome succeeded, no failure alert left open).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AlertManager } from '../../src/alerts/manager.js';
import { initHome } from '../../src/daemon/home.js';
import { openApp, type App } from '../../src/daemon/app.js';
import { buildEngine, type Engine } from '../../src/daemon/engine.js';
import { DependencyRepo } from '../../src/jobs/dependencies.js';
import type { RunRow } from '../../src/storage/schema.js';
import { tempDir } from '../helpers/tmp.js';

const NEVER = '0 0 1 1 *';

async function setup(): Promise<{ home: string; app: App; engine: Engine; close(): Promise<void> }> {
  const home = tempDir('smart-cron-workflow-');
  await initHome({ home });
  writeFileSync(join(home, 'config.yaml'), 'execution: { enforcement: portable, kill_grace_seconds: 1, sample_interval_ms: 50 }\n');
  const app = await openApp({ home });
  // Plenty of host memory: admission is not what these tests are about (the machine is shared and busy).
  const engine = buildEngine(app, { host: { memAvailableMb: () => 1e6, memoryPressure: () => null } });
  app.jobs.on('changed', () => engine.dispatcher.kick());
  return {
    home,
    app,
    engine,
    async close() {
      await engine.dispatcher.stop({ drain: true });
      engine.release();
      await app.close();
    },
  };
}

/** A 6-field cron line (UTC) for one second, `aheadMs` from now. */
function onceAt(aheadMs: number): string {
  const t = new Date(Math.ceil((Date.now() + aheadMs) / 1000) * 1000);
  return `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runsOf(app: App, name: string): Promise<RunRow[]> {
  const job = await app.jobs.getJob(name);
  return (await app.jobs.history.list({ jobId: job.id, limit: 100 })).reverse();
}

const finished = (rows: RunRow[]) => rows.filter((r) => r.status !== 'queued' && r.status !== 'running');

test('mutex group under load: six jobs of one group due at one tick never overlap; a job outside the group runs beside them', async () => {
  const e = await setup();
  try {
    const schedule = onceAt(3000);
    const group = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
    for (const name of [...group, 'free']) {
      await e.app.jobs.registerJob(
        { name, schedule, timezone: 'UTC', command: ['sleep', '0.4'], mutex_group: name === 'free' ? null : 'db' },
        { source: 'manual', byUser: true },
      );
    }
    e.engine.dispatcher.start();
    const rows = await until('all runs recorded', async () => {
      const all = (await Promise.all([...group, 'free'].map((n) => runsOf(e.app, n)))).flat();
      return finished(all).length === group.length + 1 ? all : null;
    });
    const byJob = new Map<number, string>();
    for (const n of [...group, 'free']) byJob.set((await e.app.jobs.getJob(n)).id, n);
    const grouped = rows.filter((r) => byJob.get(r.job_id) !== 'free').sort((a, b) => a.started_at!.localeCompare(b.started_at!));
    assert.ok(grouped.every((r) => r.status === 'succeeded'), grouped.map((r) => `${r.status} ${r.error_message}`).join('\n'));
    for (let i = 1; i < grouped.length; i++) {
      const prev = grouped[i - 1]!;
      const cur = grouped[i]!;
      assert.ok(cur.started_at! >= prev.finished_at!, `${byJob.get(cur.job_id)} started ${cur.started_at} before ${byJob.get(prev.job_id)} finished ${prev.finished_at}`);
    }
    // They did wait (not merely happen to be apart): each later one queued at the tick and waited.
    assert.ok(grouped.slice(1).every((r) => (r.wait_ms ?? 0) >= 300), grouped.map((r) => r.wait_ms).join(','));
    const free = rows.find((r) => byJob.get(r.job_id) === 'free')!;
    assert.equal(free.status, 'succeeded');
    assert.ok(free.started_at! < grouped.at(-1)!.started_at!, 'the job outside the group did not wait for the group');
    const leases = await e.app.database.db.selectFrom('smart_cron_leases').selectAll().where('name', 'like', 'mutex:%').execute();
    assert.deepEqual(leases, []);
  } finally {
    await e.close();
  }
});

test('a chain a -> b -> c with real processes runs in order, each once', async () => {
  const e = await setup();
  try {
    const out = join(e.home, 'chain.txt');
    for (const n of ['a', 'b', 'c']) {
      await e.app.jobs.registerJob({ name: n, schedule: NEVER, timezone: 'UTC', shell: true, command: [`echo ${n} >> ${out}`] }, { source: 'manual', byUser: true });
    }
    const deps = new DependencyRepo(e.app.database.db);
    const id = async (n: string) => (await e.app.jobs.getJob(n)).id;
    await deps.add(await id('b'), await id('a'), 'triggers', { on: 'success' }, Date.now());
    await deps.add(await id('c'), await id('b'), 'triggers', { on: 'always' }, Date.now());
    e.engine.dispatcher.start();
    await e.engine.dispatcher.requestRun({ job: 'a' });
    await until('c recorded', async () => finished(await runsOf(e.app, 'c')).length === 1);
    assert.equal(readFileSync(out, 'utf8'), 'a\nb\nc\n');
    for (const n of ['b', 'c']) assert.deepEqual((await runsOf(e.app, n)).map((r) => `${r.trigger}:${r.status}`), ['dependency:succeeded'], n);
  } finally {
    await e.close();
  }
});

test('retry then success: one retry attempt, final outcome succeeded, the success child runs once, no failure alert left open', async () => {
  const e = await setup();
  try {
    const mark = join(e.home, 'tried-once');
    const alerts = new AlertManager({ db: e.app.database.db, clock: e.app.clock, config: { alerts: e.app.config.alerts, api: e.app.config.api }, logger: { warn() {}, info() {}, error() {} } });
    const pending: Promise<void>[] = [];
    e.app.jobs.on('recorded', (r) => void pending.push(alerts.onRecorded(r)));
    await e.app.jobs.registerJob(
      { name: 'flaky', schedule: NEVER, timezone: 'UTC', shell: true, command: [`test -f ${mark} || { touch ${mark}; echo first try fails >&2; exit 3; }`], retries: 1, retry_backoff_seconds: 1 },
      { source: 'manual', byUser: true },
    );
    await e.app.jobs.registerJob({ name: 'on-ok', schedule: NEVER, timezone: 'UTC', command: ['true'] }, { source: 'manual', byUser: true });
    await e.app.jobs.registerJob({ name: 'on-fail', schedule: NEVER, timezone: 'UTC', command: ['true'] }, { source: 'manual', byUser: true });
    const deps = new DependencyRepo(e.app.database.db);
    const flaky = (await e.app.jobs.getJob('flaky')).id;
    await deps.add((await e.app.jobs.getJob('on-ok')).id, flaky, 'triggers', { on: 'success' }, Date.now());
    await deps.add((await e.app.jobs.getJob('on-fail')).id, flaky, 'triggers', { on: 'failure' }, Date.now());
    e.engine.dispatcher.start();
    await e.engine.dispatcher.requestRun({ job: 'flaky' });
    await until('on-ok recorded', async () => finished(await runsOf(e.app, 'on-ok')).length === 1);
    const runs = await runsOf(e.app, 'flaky');
    assert.deepEqual(runs.map((r) => [r.attempt, r.trigger, r.status, r.exit_code]), [
      [1, 'manual', 'failed', 3],
      [2, 'retry', 'succeeded', 0],
    ]);
    assert.equal(runs[1]!.scheduled_for, runs[0]!.scheduled_for, 'the retry is another attempt of the same run key');
    assert.deepEqual((await runsOf(e.app, 'on-fail')).length, 0, 'the failure was not final');
    const job = await e.app.jobs.getJob('flaky');
    assert.equal(job.last_status, 'succeeded');
    assert.equal(job.consecutive_failures, 0);
    await Promise.all(pending);
    const open = await e.app.database.db.selectFrom('smart_cron_performance_alerts').selectAll().where('job_id', '=', flaky).where('resolved_at', 'is', null).execute();
    assert.deepEqual(open.map((a) => a.alert_type), [], 'no alert left open');
  } finally {
    await e.close();
  }
});

test('overlap replace with a run that ignores TERM: the newer tick starts only once the replaced run has exited (never both at once), and waits saying why', async () => {
  const e = await setup(); // kill_grace_seconds 1
  try {
    await e.app.jobs.registerJob(
      { name: 'stubborn', schedule: '*/2 * * * * *', timezone: 'UTC', shell: true, command: [`trap '' TERM; sleep 5`], overlap_policy: 'replace' },
      { source: 'manual', byUser: true },
    );
    e.engine.dispatcher.start();
    const reasons = new Set<string>();
    const rows = await until('two replaced runs and the one after them started', async () => {
      for (const r of await runsOf(e.app, 'stubborn')) if (r.wait_reason) reasons.add(r.wait_reason);
      const all = await runsOf(e.app, 'stubborn');
      return all.filter((r) => r.status === 'interrupted').length >= 2 && all.filter((r) => r.started_at !== null).length >= 3 ? all : null;
    }, 60_000);
    await e.app.jobs.disableJob('stubborn');
    const started = rows.filter((r) => r.started_at !== null && r.status !== 'queued');
    for (const [i, a] of started.entries()) {
      for (const b of started.slice(i + 1)) {
        if (a.finished_at === null) continue;
        assert.ok(Date.parse(b.started_at!) >= Date.parse(a.finished_at), `run #${b.id} started at ${b.started_at}, before run #${a.id} it replaced ended at ${a.finished_at}`);
      }
    }
    assert.ok([...reasons].some((r) => /^waits for run #\d+, which it replaces, to exit \(overlap policy replace\)$/.test(r)), [...reasons].join('; '));
  } finally {
    await e.close();
  }
});
