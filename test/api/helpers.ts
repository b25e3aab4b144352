/**
 * A real JobManager on a real SQLite file in a temp dir, a server built on it, and, until
 * the Dispatcher lands, a minimal Executor that queues runs as history rows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iso, VirtualClock, type Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { openApp, type App } from '../../src/daemon/app.js';
import { EventBus, type SlotUsage } from '../../src/events.js';
import { cancelRun } from '../../src/execution/cancel.js';
import type { Executor, RunRequest } from '../../src/execution/types.js';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import type { Api } from '../../src/api/types.js';
import type { RunRow } from '../../src/storage/schema.js';
import type { Response as InjectResponse } from 'light-my-request';

export type { InjectResponse };

export class TestExecutor implements Executor {
  private seq = 0;
  constructor(
    private readonly app: App,
    private readonly bus: EventBus,
  ) {}

  async requestRun(req: RunRequest): Promise<RunRow> {
    const job = await this.app.jobs.getJob(req.job);
    const now = iso(this.app.clock.now());
    const run = await this.app.jobs.history.insertOnce({
      job_id: job.id,
      scheduled_for: now,
      attempt: ++this.seq,
      trigger: 'manual',
      status: 'queued',
      queued_at: now,
      slot: 'default',
      priority: job.priority,
      args: req.args ? JSON.stringify(req.args) : null,
      env_extra: req.env ? JSON.stringify(req.env) : null,
    });
    this.bus.emit('run.queued', run!);
    return run!;
  }

  /** The real rule (cancel.ts) with nothing running here: a queued run is skipped, a running one gets the request. */
  async cancelRun(runId: number, reason = 'cancelled'): Promise<RunRow> {
    return (await cancelRun({ history: this.app.jobs.history, clock: this.app.clock, onSkipped: (r) => this.bus.emit('run.finished', r) }, runId, reason)).run;
  }

  async slots(): Promise<SlotUsage[]> {
    const active = await this.app.jobs.history.active();
    return Object.entries(this.app.config.slots).map(([slot, b]) => ({
      node: this.app.config.nodeId,
      slot,
      ...b,
      current_running_jobs: active.filter((r) => r.slot === slot && r.status === 'running').length,
      current_memory_mb: 0,
      current_cpu_percent: 0,
      queued: active.filter((r) => r.slot === slot && r.status === 'queued').length,
    }));
  }

  async queued(): Promise<RunRow[]> {
    return (await this.app.jobs.history.active()).filter((r) => r.status === 'queued');
  }
}

export interface Harness {
  dir: string;
  app: App;
  bus: EventBus;
  executor: TestExecutor;
  clock: VirtualClock;
  server: Api;
  token: string;
  auth: { authorization: string };
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<ServerOptions, 'executor'>> {
  clock?: Clock;
  /** Build the executor (default: TestExecutor). */
  executor?: (app: App, bus: EventBus) => Executor;
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'smart-cron-api-'));
  const config = loadConfig({ home: dir, env: {}, nodeId: 'test-node' });
  const clock = new VirtualClock(Date.UTC(2026, 2, 1, 12, 0, 0));
  const app = await openApp({ config, clock: opts.clock ?? clock });
  const bus = new EventBus();
  const executor = new TestExecutor(app, bus);
  const token = randomBytes(32).toString('hex');
  const server = buildServer({ app, bus, token, webRoot: join(dir, 'no-web'), ...opts, executor: opts.executor ? opts.executor(app, bus) : executor });
  await server.ready();
  return {
    dir,
    app,
    bus,
    executor,
    clock,
    server,
    token,
    auth: { authorization: `Bearer ${token}` },
    async close() {
      await server.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function addJob(h: Harness, name: string, extra: Record<string, unknown> = {}) {
  const { job } = await h.app.jobs.registerJob({ name, schedule: '*/5 * * * *', command: ['/bin/true'], ...extra } as never, { source: 'manual', byUser: true });
  return job;
}
