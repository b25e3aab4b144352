/**
 * Prometheus metrics, in a registry per server (never prom-client's global one, so two
 * servers in one process, as in tests, do not share counters).
 *
 * Fed by: the bus (run.started -> queue wait; run.finished -> runs, duration, peak memory),
 * the executor at scrape time (slot usage and queue length), the alerts table at scrape time,
 * and the Dispatcher through observeLateness(ms): the daemon passes
 * `(ms) => metrics.observeLateness(ms)` to it, so execution/ never imports the API.
 */
import type { Counter, Histogram } from 'prom-client';
import type { EventBus, SlotUsage } from '../events.js';
import type { Executor } from '../execution/types.js';
import type { Database } from '../storage/database.js';
import type { RunRow } from '../storage/schema.js';
import { requireCjs } from '../require.js';
import { openAlertCounts } from './alerts.js';

// A CommonJS package: required, not imported (see require.ts).
const client = requireCjs('prom-client') as typeof import('prom-client');

const MB = 1024 * 1024;
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600];
const MEMORY_BUCKETS = [16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384].map((m) => m * MB);
const WAIT_BUCKETS = [0.01, 0.1, 1, 5, 15, 60, 300, 900, 3600];
const LATENESS_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60];

export interface MetricsSources {
  bus: EventBus;
  executor: Executor;
  database: Database;
}

export class ApiMetrics {
  readonly registry = new client.Registry();
  private readonly runs: Counter<'job' | 'status'>;
  private readonly duration: Histogram<'slot'>;
  private readonly peakMemory: Histogram<'slot'>;
  private readonly queueWait: Histogram<'slot'>;
  private readonly lateness: Histogram<never>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly names = new Map<number, string>();
  private slotsMemo: { at: number; value: Promise<SlotUsage[]> } | null = null;
  private readonly unsubscribe: () => void;

  constructor(private readonly src: MetricsSources) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });
    this.runs = new client.Counter({ name: 'smart_cron_runs_total', help: 'Finished runs by job and final status', labelNames: ['job', 'status'], registers: [r] });
    this.duration = new client.Histogram({ name: 'smart_cron_run_duration_seconds', help: 'Run durations', labelNames: ['slot'], buckets: DURATION_BUCKETS, registers: [r] });
    this.peakMemory = new client.Histogram({ name: 'smart_cron_run_peak_memory_bytes', help: 'Peak memory of runs', labelNames: ['slot'], buckets: MEMORY_BUCKETS, registers: [r] });
    this.queueWait = new client.Histogram({ name: 'smart_cron_queue_wait_seconds', help: 'Time runs waited in the queue before starting', labelNames: ['slot'], buckets: WAIT_BUCKETS, registers: [r] });
    this.lateness = new client.Histogram({ name: 'smart_cron_scheduler_lateness_seconds', help: 'How late the scheduler turned a due tick into a run', buckets: LATENESS_BUCKETS, registers: [r] });
    this.httpDuration = new client.Histogram({
      name: 'smart_cron_api_request_duration_seconds',
      help: 'API request latency',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [r],
    });

    const slotGauge = (name: string, help: string, pick: (s: SlotUsage) => number) => {
      const self = this;
      new client.Gauge({
        name,
        help,
        labelNames: ['node', 'slot'],
        registers: [r],
        async collect() {
          this.reset();
          for (const s of await self.slotUsage()) this.set({ node: s.node, slot: s.slot }, pick(s));
        },
      });
    };
    slotGauge('smart_cron_slot_running_jobs', 'Runs executing in the slot', (s) => s.current_running_jobs);
    slotGauge('smart_cron_slot_max_concurrent_jobs', 'Concurrency budget of the slot', (s) => s.max_concurrent_jobs);
    slotGauge('smart_cron_slot_memory_reserved_bytes', 'Memory reserved by runs in the slot', (s) => s.current_memory_mb * MB);
    slotGauge('smart_cron_slot_memory_budget_bytes', 'Memory budget of the slot', (s) => s.max_memory_mb * MB);
    slotGauge('smart_cron_slot_cpu_percent', 'CPU reserved by runs in the slot (100 = the whole machine)', (s) => s.current_cpu_percent);
    slotGauge('smart_cron_slot_cpu_budget_percent', 'CPU budget of the slot', (s) => s.max_cpu_percent);
    slotGauge('smart_cron_queue_length', 'Runs waiting for capacity, per slot', (s) => s.queued);

    const database = src.database;
    new client.Gauge({
      name: 'smart_cron_alerts_open',
      help: 'Alerts not yet resolved, by severity',
      labelNames: ['severity'],
      registers: [r],
      async collect() {
        for (const [severity, n] of Object.entries(await openAlertCounts(database))) this.set({ severity }, n);
      },
    });

    const onStarted = (run: RunRow) => {
      if (run.wait_ms !== null && run.wait_ms >= 0) this.queueWait.observe({ slot: run.slot ?? 'unknown' }, run.wait_ms / 1000);
    };
    const onFinished = (run: RunRow) => void this.recordFinished(run).catch(() => {});
    const onJobChanged = (e: { id: number }) => void this.names.delete(e.id);
    src.bus.on('run.started', onStarted);
    src.bus.on('run.finished', onFinished);
    src.bus.on('job.changed', onJobChanged);
    this.unsubscribe = () => {
      src.bus.off('run.started', onStarted);
      src.bus.off('run.finished', onFinished);
      src.bus.off('job.changed', onJobChanged);
    };
  }

  /** The Dispatcher's hook: ms between a tick's due time and the run being queued. */
  observeLateness(ms: number): void {
    if (Number.isFinite(ms)) this.lateness.observe(Math.max(0, ms) / 1000);
  }

  private async recordFinished(run: RunRow): Promise<void> {
    const slot = run.slot ?? 'unknown';
    if (run.duration_ms !== null) this.duration.observe({ slot }, run.duration_ms / 1000);
    if (run.peak_memory_mb !== null) this.peakMemory.observe({ slot }, run.peak_memory_mb * MB);
    this.runs.inc({ job: await this.jobName(run.job_id), status: run.status });
  }

  private async jobName(id: number): Promise<string> {
    const cached = this.names.get(id);
    if (cached) return cached;
    const row = await this.src.database.db.selectFrom('smart_cron_integrated_jobs').select('name').where('id', '=', id).executeTakeFirst();
    const name = row?.name ?? `#${id}`;
    if (this.names.size > 50_000) this.names.clear();
    this.names.set(id, name);
    return name;
  }

  /** One executor call per scrape, shared by the slot gauges. */
  private slotUsage(): Promise<SlotUsage[]> {
    const now = Date.now();
    if (!this.slotsMemo || now - this.slotsMemo.at > 500) {
      this.slotsMemo = { at: now, value: this.src.executor.slots().catch(() => []) };
    }
    return this.slotsMemo.value;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.unsubscribe();
  }
}
