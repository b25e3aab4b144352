/**
 * A development stand-in for the daemon: the real API server and JobManager on a temp home,
 * with a fake executor that "runs" jobs in memory, and seeded history and alerts. For working
 * on the dashboard while the daemon is not there; the e2e tests use the real daemon.
 *
 *   node --import tsx test/e2e/dev-api.ts [--port 7421] [--jobs 40]
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildServer } from '../../src/api/server.js';
import { iso } from '../../src/clock.js';
import { initHome } from '../../src/daemon/home.js';
import { openApp, type App } from '../../src/daemon/app.js';
import { EventBus, type SlotUsage } from '../../src/events.js';
import type { Executor, RunRequest } from '../../src/execution/types.js';
import type { JobDefinition } from '../../src/jobs/definition.js';
import type { RunRow } from '../../src/storage/schema.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '7421' }, jobs: { type: 'string', default: '40' } } });

const SLOTS: SlotUsage[] = [
  { node: 'devbox', slot: 'default', max_concurrent_jobs: 5, max_memory_mb: 3072, max_cpu_percent: 80, current_running_jobs: 0, current_memory_mb: 0, current_cpu_percent: 0, queued: 0 },
  { node: 'devbox', slot: 'heavy', max_concurrent_jobs: 2, max_memory_mb: 4096, max_cpu_percent: 90, current_running_jobs: 0, current_memory_mb: 0, current_cpu_percent: 0, queued: 0 },
  { node: 'devbox', slot: 'light', max_concurrent_jobs: 10, max_memory_mb: 1024, max_cpu_percent: 50, current_running_jobs: 0, current_memory_mb: 0, current_cpu_percent: 0, queued: 0 },
];

class FakeExecutor implements Executor {
  private running = new Map<number, RunRow>();
  constructor(
    private app: App,
    private bus: EventBus,
  ) {}

  async requestRun(req: RunRequest): Promise<RunRow> {
    const jm = this.app.jobs;
    const job = await jm.getJob(req.job);
    const now = iso(Date.now());
    const run = (await jm.history.insertOnce({ job_id: job.id, scheduled_for: now, trigger: 'manual', status: 'queued', queued_at: now, slot: 'default', node: 'devbox', reservation_mb: job.estimated_memory_mb }))!;
    this.bus.emit('run.queued', run);
    setTimeout(async () => {
      await jm.history.update(run.id, { status: 'running', started_at: iso(Date.now()), wait_ms: 400, pid: 4242 });
      const started = (await jm.history.byId(run.id))!;
      this.running.set(run.id, started);
      this.bus.emit('run.started', started);
      this.bus.emit('slots', await this.slots());
      setTimeout(async () => {
        this.running.delete(run.id);
        const fail = job.name.includes('fail');
        const r = await jm.recordExecution(run.id, {
          status: fail ? 'failed' : 'succeeded',
          exit_code: fail ? 1 : 0,
          duration_ms: 2100,
          peak_memory_mb: 120 + Math.random() * 80,
          memory_source: 'sampled',
          cpu_percent: 35,
          cpu_time_ms: 700,
          output_tail: `starting ${job.name}\nprocessing 1200 rows\n${fail ? 'error: connection refused\n' : 'done\n'}`,
          output_bytes: 60,
          error_message: fail ? 'exited with code 1' : null,
        });
        this.bus.emit('run.finished', r.run);
        this.bus.emit('slots', await this.slots());
        if (fail) {
          const a = await this.app.database.db
            .insertInto('smart_cron_performance_alerts')
            .values({ job_id: job.id, run_id: run.id, alert_type: 'failure', severity: 'error', message: `${job.name} failed: exited with code 1`, count: 1, created_at: iso(Date.now()), updated_at: iso(Date.now()) })
            .returningAll()
            .executeTakeFirstOrThrow();
          this.bus.emit('alert.raised', a);
        }
      }, 2500);
    }, 400);
    return run;
  }

  async cancelRun(runId: number): Promise<RunRow> {
    const r = await this.app.jobs.recordExecution(runId, { status: 'interrupted', error_message: 'cancelled' });
    return r.run;
  }

  async slots(): Promise<SlotUsage[]> {
    const n = this.running.size;
    return SLOTS.map((s) => (s.slot === 'default' ? { ...s, current_running_jobs: n + 1, current_memory_mb: 900 + n * 150, current_cpu_percent: 30 + n * 10 } : s.slot === 'heavy' ? { ...s, current_running_jobs: 1, current_memory_mb: 3500, current_cpu_percent: 60 } : s));
  }

  async queued(): Promise<RunRow[]> {
    return [];
  }
}

const CATEGORIES = ['backup', 'reporting', 'sync', 'cleanup', 'mail'];
const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;

async function seed(app: App, count: number): Promise<void> {
  const jm = app.jobs;
  const day = 86_400_000;
  for (let i = 0; i < count; i++) {
    const name = i === 0 ? 'nightly-backup' : i === 1 ? 'flaky-fail-sync' : `job-${String(i).padStart(5, '0')}-${CATEGORIES[i % 5]}`;
    const { job } = await jm.registerJob(
      {
        name,
        schedule: i % 3 === 0 ? '0 3 * * *' : `*/${5 + (i % 20)} * * * *`,
        command: ['/usr/bin/env', 'echo', name],
        category: CATEGORIES[i % 5]!,
        priority: PRIORITIES[i % 4]!,
        estimated_memory_mb: 128 + (i % 7) * 64,
        timeout_seconds: 600,
        tags: i % 2 ? ['nightly', 'db'] : ['app'],
        description: i === 0 ? 'Dumps the app database and ships it offsite' : undefined,
      } as unknown as JobDefinition,
      { source: i % 9 === 8 ? 'discovered' : 'manual', byUser: true },
    );
    if (i % 9 === 8) await jm.disableJob(job.id);
    if (i >= 20) continue;
    // History over ten days so the trends have something to show.
    const runs = i === 0 ? 40 : 6;
    for (let k = runs; k > 0; k--) {
      const t = Date.now() - (k * 10 * day) / runs;
      const fail = (i === 1 && k <= 3) || (i % 5 === 4 && k === 1);
      const run = (await jm.history.insertOnce({ job_id: job.id, scheduled_for: iso(t), trigger: 'schedule', status: 'running', queued_at: iso(t), started_at: iso(t + 200), wait_ms: 200, slot: 'default', node: 'devbox' }))!;
      await jm.recordExecution(run.id, {
        status: fail ? 'failed' : 'succeeded',
        finished_at: iso(t + 60_000),
        exit_code: fail ? 1 : 0,
        duration_ms: 30_000 + Math.sin(k) * 8000 + i * 1000,
        peak_memory_mb: 200 + Math.cos(k) * 40 + i * 10,
        memory_source: 'sampled',
        cpu_percent: 20 + k,
        cpu_time_ms: 4000,
        output_tail: `run ${k}\nok\n`,
        output_bytes: 10,
        error_message: fail ? 'exited with code 1' : null,
      });
    }
  }
  const now = iso(Date.now());
  await app.database.db
    .insertInto('smart_cron_performance_alerts')
    .values([
      { job_id: 2, alert_type: 'consecutive_failures', severity: 'critical', message: 'flaky-fail-sync failed 3 times in a row', count: 3, created_at: now, updated_at: now },
      { job_id: 1, alert_type: 'high_duration', severity: 'warning', message: 'nightly-backup took 2.4 × its baseline (72 s vs 30 s)', count: 1, created_at: now, updated_at: now },
    ])
    .execute();
}

const home = mkdtempSync(join(tmpdir(), 'smart-cron-dev-'));
await initHome({ home });
const app = await openApp({ home });
await seed(app, Number(values.jobs));
const bus = new EventBus();
const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
const server = buildServer({ app, executor: new FakeExecutor(app, bus), bus, token });
await server.listen({ host: '127.0.0.1', port: Number(values.port) });
console.log(`dev API on http://127.0.0.1:${values.port}  home ${home}\ntoken ${token}`);
