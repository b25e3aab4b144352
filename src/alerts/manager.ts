/**
 * AlertManager: the life of an alert. The rules say what holds; this keeps one open row per
 * (job, type), counts repeats instead of adding rows, resolves alerts when their condition
 * clears (with one recovery notice), lets a person acknowledge them, and hands notices to the
 * delivery layer without ever making the caller wait for a mail server.
 */
import type { Kysely } from 'kysely';
import { iso, type Clock } from '../clock.js';
import type { FileConfig } from '../config/schema.js';
import { ValidationError } from '../errors.js';
import type { EventBus } from '../events.js';
import { parseJson } from '../jobs/job.js';
import type { RecordResult } from '../jobs/manager.js';
import { AlertsRepo, type AlertListFilter, type AlertView } from '../storage/repos/alerts.js';
import { HistoryRepo } from '../storage/repos/history.js';
import { JobsRepo } from '../storage/repos/jobs.js';
import type { AlertRow, DB, JobRow, RunRow } from '../storage/schema.js';
import { acknowledgeAlert } from './acknowledge.js';
import { Deliverer, routeOf, type Channel, type DeliveryOutcome } from './delivery.js';
import { alertNotice, recoveryNotice, testNotice } from './format.js';
import { EmailNotifier } from './notifiers/email.js';
import { alertLine, resolvedLine, stderrLogger, type AlertLogger } from './notifiers/log.js';
import { WebhookNotifier, type WebhookSettings } from './notifiers/webhook.js';
import { ALERT_TYPES, evaluatePeriodic, evaluateRun, RECOVERY_TYPES, type AlertType, type Finding, type Thresholds, type Verdict } from './rules.js';

export interface AlertsConfig {
  alerts: FileConfig['alerts'];
  api?: { host?: string; port?: number; public_url?: string };
}

export interface AlertManagerOptions {
  db: Kysely<DB>;
  clock: Clock;
  config: AlertsConfig;
  bus?: EventBus;
  logger?: AlertLogger;
}

export interface TestResult {
  ok: boolean;
  results: DeliveryOutcome[];
}

export class AlertManager {
  readonly repo: AlertsRepo;
  private readonly jobs: JobsRepo;
  private readonly history: HistoryRepo;
  private readonly clock: Clock;
  private readonly bus?: EventBus;
  private readonly logger: AlertLogger;
  private readonly deliverer: Deliverer;
  private readonly email: EmailNotifier;
  private readonly webhooks: WebhookNotifier[];
  private readonly thresholds: Thresholds;
  private readonly baseUrl: string;
  private readonly cfg: FileConfig['alerts'];
  /** Rule evaluation runs one at a time, so two runs of a job never both open "the" alert. */
  private queue: Promise<unknown> = Promise.resolve();
  private pending = new Set<Promise<unknown>>();

  constructor(opts: AlertManagerOptions) {
    this.repo = new AlertsRepo(opts.db);
    this.jobs = new JobsRepo(opts.db);
    this.history = new HistoryRepo(opts.db);
    this.clock = opts.clock;
    this.bus = opts.bus;
    this.logger = opts.logger ?? stderrLogger;
    const a = (this.cfg = opts.config.alerts);
    this.thresholds = {
      highMemoryFactor: a.high_memory_factor,
      highDurationFactor: a.high_duration_factor,
      highMemoryMinExcessMb: a.high_memory_min_excess_mb,
      highDurationMinExcessSeconds: a.high_duration_min_excess_seconds,
      hangingFactor: a.hanging_factor,
      consecutiveFailureThreshold: a.consecutive_failure_threshold,
      missedGraceSeconds: a.missed_grace_seconds,
    };
    const api = opts.config.api ?? {};
    this.baseUrl = api.public_url ?? `http://${api.host ?? '127.0.0.1'}:${api.port ?? 7420}`;
    this.email = new EmailNotifier(a.email);
    this.webhooks = a.webhooks.map((w) => new WebhookNotifier(w));
    this.deliverer = new Deliverer(this.repo, this.clock, this.logger, {
      rateLimitPerHour: a.rate_limit_per_hour,
      backoffMs: a.retry_backoff_ms ?? 1000,
      channelOf: (row) => this.channelOf(row),
    });
  }

  /**
   * Subscribe to JobManager's 'recorded'. Returns at once; the returned promise settles when the
   * alert rows are written (never rejects). Notifications go out after that, in the background.
   */
  readonly onRecorded = (result: RecordResult): Promise<void> => {
    if (!result.applied) return Promise.resolve();
    return this.serial(`run #${result.run.id}`, async () => {
      const verdict = evaluateRun(result.job, result.run, this.thresholds);
      // Another attempt of the same tick follows: judge the tick by its final outcome, not each attempt.
      if (result.willRetry) verdict.raise = [];
      await this.apply(result.job, verdict, result.run);
    });
  };

  /**
   * Skipped ticks never pass through recordExecution; give them here (the planner's onSkipped)
   * so a tick skipped by the misfire policy raises `missed`.
   */
  readonly onSkipped = (run: RunRow): Promise<void> => {
    if (run.status !== 'skipped') return Promise.resolve();
    return this.serial(`skipped run #${run.id}`, async () => {
      const job = await this.jobs.byId(run.job_id);
      if (job) await this.apply(job, evaluateRun(job, run, this.thresholds), run);
    });
  };

  /** Missed, queued-too-long, hanging and circuit checks; call every 30 s (and once at start-up). */
  checkPeriodic(): Promise<{ raised: number; resolved: number }> {
    return this.serial('periodic check', async () => {
      const now = this.clock.now();
      // Only the jobs that can get a finding or have an alert to clear: the rest would get an
      // empty verdict, and reading every row every 30 s is most of an idle daemon's memory churn.
      const rows = await this.jobs.periodicCandidates(now, ALERT_TYPES);
      const live = await this.history.active();
      const byId = new Map(rows.map((j) => [j.id, j]));
      // One query for every open alert, not one per job: most jobs have none and need no write.
      const open = new Map<number, AlertRow[]>();
      for (const a of await this.repo.openOfTypes(ALERT_TYPES)) if (a.job_id !== null) open.set(a.job_id, [...(open.get(a.job_id) ?? []), a]);
      let raised = 0;
      let resolved = 0;
      for (const v of evaluatePeriodic(now, rows, live, this.thresholds)) {
        const mine = open.get(v.jobId) ?? [];
        if (v.raise.length === 0 && !mine.some((a) => v.clear.includes(a.alert_type as AlertType))) continue;
        const r = await this.apply(byId.get(v.jobId)!, v, null, mine);
        raised += r.raised;
        resolved += r.resolved;
      }
      return { raised, resolved };
    }, { raised: 0, resolved: 0 });
  }

  /** The SMTP server alerts go through, safe to print. */
  get smtpServer(): string {
    return this.email.server;
  }

  async list(f: AlertListFilter = {}): Promise<{ alerts: AlertView[]; total: number }> {
    return this.repo.list(f);
  }

  async acknowledge(id: number): Promise<AlertRow> {
    return acknowledgeAlert(this.repo, id, iso(this.clock.now()));
  }

  /** Send a test notice now, one attempt per channel, and report each outcome with its exact error. */
  async test(opts: { email?: string; webhook?: string; format?: 'json' | 'slack' } = {}): Promise<TestResult> {
    const channels: Channel[] = [];
    if (opts.email) channels.push(this.emailChannel([opts.email]));
    if (opts.webhook) channels.push(this.webhookChannel(new WebhookNotifier({ url: opts.webhook, format: opts.format ?? 'json', timeout_ms: 5000, retries: 0 })));
    if (!opts.email && !opts.webhook) {
      if (this.cfg.email.to.length) channels.push(this.emailChannel(this.cfg.email.to));
      for (const w of this.webhooks) channels.push(this.webhookChannel(w));
    }
    if (channels.length === 0) {
      throw new ValidationError('no alert channel to test: set alerts.email.to or alerts.webhooks in config.yaml, or pass --email ADDR / --webhook URL', 'alerts');
    }
    const results = await this.deliverer.deliver(testNotice(iso(this.clock.now())), channels, { retry: false });
    return { ok: results.every((r) => r.status === 'sent'), results };
  }

  /** The daemon's: resume the deliveries a previous run left pending, and retry from the table from now on. */
  start(): void {
    this.deliverer.start();
  }

  /** Resolves when rule evaluation and in-progress deliveries are done (scheduled retries may still wait). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.deliverer.idle();
  }

  /** Rule evaluation finishes (database work); deliveries get a short wait, the rest stay pending for the next start. */
  async close(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.deliverer.close();
    this.email.close();
  }

  // ---------------------------------------------------------------- lifecycle

  private serial<T>(what: string, fn: () => Promise<T>, fallback?: T): Promise<T> {
    const p = this.queue.then(fn).catch((e) => {
      this.logger.error(`alerts: ${what} failed: ${(e as Error).message}`);
      return fallback as T;
    });
    this.queue = p;
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  private async apply(job: JobRow, v: Verdict, run: RunRow | null, known?: AlertRow[]): Promise<{ raised: number; resolved: number }> {
    if (v.raise.length === 0 && v.clear.length === 0) return { raised: 0, resolved: 0 };
    const open = new Map((known ?? (await this.repo.openForJob(job.id))).map((a) => [a.alert_type, a]));
    let raised = 0;
    for (const f of v.raise) if (await this.raise(job, f, open.get(f.type), run)) raised++;
    const gone: AlertRow[] = [];
    const now = iso(this.clock.now());
    for (const type of v.clear) {
      const a = open.get(type);
      if (!a || !(await this.repo.resolve(a.id, now))) continue;
      const row = (await this.repo.byId(a.id))!;
      await this.deliverer.dropFor(row.id, now);
      gone.push(row);
      this.logger.info(resolvedLine(job.name, type));
      this.bus?.emit('alert.resolved', row);
    }
    // However many alerts one good run ends, the people hear about it once. An alert the periodic
    // check closes (the job was disabled, its alert switched off) ends quietly: nothing recovered.
    const recovered = gone.filter((a) => RECOVERY_TYPES.includes(a.alert_type as AlertType));
    if (recovered.length && run?.status === 'succeeded') {
      void this.deliverer.deliver(recoveryNotice(recovered.map(forNotice), job, run, this.baseUrl), this.channelsFor(job));
    }
    return { raised, resolved: gone.length };
  }

  /** Open a new alert or count a repeat; true when something new happened. */
  private async raise(job: JobRow, f: Finding, open: AlertRow | undefined, run: RunRow | null): Promise<boolean> {
    const now = iso(this.clock.now());
    if (open) {
      const sameOccurrence = f.kind === 'state' ? open.run_id === f.runId : f.runId !== null && open.run_id === f.runId;
      if (sameOccurrence) {
        if (open.message !== f.message) await this.repo.update(open.id, { message: f.message });
        return false;
      }
      const row = await this.repo.repeat(open.id, {
        message: f.message,
        severity: f.severity,
        run_id: f.runId ?? open.run_id,
        updated_at: now,
      });
      this.logger.warn(alertLine(job.name, f.type, f.severity));
      this.bus?.emit('alert.raised', row);
      // Its notice was given up (a long outage): this occurrence is another chance to be heard there.
      if (row.notification_status === 'failed') await this.notify(row, job, run, await this.unreached(row.id));
      return true;
    }
    const row = await this.repo.insert({
      job_id: job.id,
      run_id: f.runId,
      alert_type: f.type,
      severity: f.severity,
      message: f.message,
      count: 1,
      created_at: now,
      updated_at: now,
      notification_status: 'pending',
    });
    this.logger.warn(alertLine(job.name, f.type, f.severity));
    this.bus?.emit('alert.raised', row);
    await this.notify(row, job, run);
    return true;
  }

  /** Hand the alert's notice to the deliverer (which does not make us wait); `only`: to these routes. */
  private async notify(row: AlertRow, job: JobRow, run: RunRow | null, only?: Set<string>): Promise<void> {
    const runRow = run && run.id === row.run_id ? run : row.run_id !== null ? ((await this.history.byId(row.run_id)) ?? null) : null;
    const channels = this.channelsFor(job).filter((c) => !only || only.has(routeOf(c)));
    void this.deliverer.deliver(alertNotice(forNotice(row), job, runRow, this.baseUrl), channels, { urgent: row.severity === 'critical' });
  }

  /** The routes where the alert's notice failed and never went out. */
  private async unreached(alertId: number): Promise<Set<string>> {
    const rows = await this.repo.deliveries({ alertId, kind: 'alert' });
    const sent = new Set(rows.filter((r) => r.status === 'sent').map((r) => r.route));
    return new Set(rows.filter((r) => r.status === 'failed' && r.route && !sent.has(r.route)).map((r) => r.route!));
  }

  // ---------------------------------------------------------------- channels

  private channelsFor(job: Pick<JobRow, 'alert_emails'>): Channel[] {
    const own = parseJson<string[]>(job.alert_emails, []);
    const to = own.length ? own : this.cfg.email.to;
    return [...(to.length ? [this.emailChannel(to)] : []), ...this.webhooks.map((w) => this.webhookChannel(w))];
  }

  private emailChannel(to: string[]): Channel {
    const target = [...to].sort().join(', ');
    return { key: `email:${target}`, channel: 'email', target, retries: this.cfg.email.retries ?? 2, send: (n) => this.email.send(to, n) };
  }

  private webhookChannel(w: WebhookNotifier): Channel {
    const s: WebhookSettings = w.settings;
    return { key: `webhook:${s.url}`, channel: 'webhook', target: w.target, retries: s.retries ?? 3, send: (n) => w.send(n) };
  }

  /** The configured channel a stored delivery was for (a retry after a restart), or null when it is gone. */
  private channelOf(row: { channel: string; target: string; route: string | null }): Channel | null {
    const candidates = row.channel === 'email' ? [this.emailChannel(row.target.split(', '))] : this.webhooks.map((w) => this.webhookChannel(w));
    return candidates.find((c) => routeOf(c) === row.route) ?? null;
  }
}

/**
 * The alert as a notice tells it: without its notification fields, which describe the notice
 * itself and would be stale the moment it is sent ("pending" in every webhook body).
 */
function forNotice(a: AlertRow): AlertRow {
  const { notification_status: _status, notification_error: _error, notified_at: _at, ...rest } = a;
  return rest as AlertRow;
}
