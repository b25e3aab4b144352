/**
 * Getting a notice out on every channel: one row in smart_cron_alert_deliveries per channel
 * and notice, attempts with exponential backoff on the injected clock, the alert's
 * notification_status kept in step, and a per-channel hourly rate limit whose overflow is
 * sent as one digest when the window ends.
 *
 * Nothing here throws at its caller: every failure ends up in a delivery row and the log.
 */
import { iso, type Clock, type TimerHandle } from '../clock.js';
import type { AlertsRepo } from '../storage/repos/alerts.js';
import { digestNotice, type Notice, type Suppressed } from './format.js';
import type { AlertLogger } from './notifiers/log.js';

export interface Channel {
  /** Rate-limit bucket: the channel and its destination. */
  key: string;
  channel: 'email' | 'webhook';
  /** The destination, safe to print. */
  target: string;
  retries: number;
  send(notice: Notice): Promise<void>;
}

export interface DeliveryOutcome {
  channel: string;
  target: string;
  status: 'sent' | 'failed' | 'pending' | 'suppressed';
  deliveryId: number | null;
  attempts: number;
  error: string | null;
}

interface Window {
  start: number;
  count: number;
  suppressed: Suppressed[];
  channel: Channel;
  timer: TimerHandle;
}

const HOUR = 3600_000;

export class Deliverer {
  private windows = new Map<string, Window>();
  private timers = new Set<TimerHandle>();
  private inflight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly repo: AlertsRepo,
    private readonly clock: Clock,
    private readonly logger: AlertLogger,
    private readonly opts: { rateLimitPerHour: number; backoffMs: number },
  ) {}

  /**
   * Send a notice on each channel. Resolves after the first attempt on every channel (later
   * retries run on timers); tests and `alerts test` read the outcome, the daemon does not wait.
   */
  deliver(notice: Notice, channels: Channel[], opts: { retry?: boolean } = {}): Promise<DeliveryOutcome[]> {
    return this.track(this.run(notice, channels, opts.retry ?? true));
  }

  private async run(notice: Notice, channels: Channel[], retry: boolean): Promise<DeliveryOutcome[]> {
    const outcomes: (DeliveryOutcome | Promise<DeliveryOutcome>)[] = [];
    const rows: { id: number; ch: Channel; index: number }[] = [];
    // Every row first, then the attempts in parallel: a slow SMTP server delays no webhook, and
    // the alert's status is never computed from half of its deliveries.
    for (const ch of channels) {
      if ((notice.kind === 'alert' || notice.kind === 'recovery') && !this.admit(ch, notice)) {
        outcomes.push({ channel: ch.channel, target: ch.target, status: 'suppressed', deliveryId: null, attempts: 0, error: null });
        continue;
      }
      const row = await this.repo.insertDelivery({
        alert_id: notice.alertId,
        channel: ch.channel,
        target: ch.target,
        kind: notice.kind,
        status: 'pending',
        attempts: 0,
        created_at: iso(this.clock.now()),
      });
      rows.push({ id: row.id, ch, index: outcomes.length });
      outcomes.push(null as never);
    }
    for (const r of rows) outcomes[r.index] = this.attempt(r.id, r.ch, notice, 1, retry ? r.ch.retries : 0);
    const done = await Promise.all(outcomes);
    if (notice.kind === 'alert' && notice.alertId !== null) {
      if (channels.length === 0) await this.repo.update(notice.alertId, { notification_status: 'none' });
      else if (done.every((o) => o.status === 'suppressed')) await this.repo.update(notice.alertId, { notification_status: 'suppressed' });
    }
    return done;
  }

  /** Count a notification against its channel's hour; false (and remembered for the digest) when over. */
  private admit(ch: Channel, notice: Notice): boolean {
    const now = this.clock.now();
    let w = this.windows.get(ch.key);
    if (!w) {
      const timer = this.clock.setTimer(HOUR, () => this.closeWindow(ch.key));
      this.timers.add(timer);
      w = { start: now, count: 0, suppressed: [], channel: ch, timer };
      this.windows.set(ch.key, w);
    }
    w.channel = ch;
    if (w.count < this.opts.rateLimitPerHour) {
      w.count++;
      return true;
    }
    w.suppressed.push({ alertId: notice.alertId, subject: notice.subject, at: iso(now) });
    this.logger.warn(`alert notification held back on ${ch.channel} ${ch.target} (rate limit ${this.opts.rateLimitPerHour}/h): ${notice.subject}`);
    return false;
  }

  private closeWindow(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.timers.delete(w.timer);
    this.windows.delete(key);
    if (w.suppressed.length === 0 || this.closed) return;
    const notice = digestNotice(w.suppressed, iso(w.start), iso(this.clock.now()));
    void this.deliver(notice, [w.channel]);
  }

  private async attempt(id: number, ch: Channel, notice: Notice, n: number, retries: number): Promise<DeliveryOutcome> {
    let error: string | null = null;
    try {
      await ch.send(notice);
    } catch (e) {
      error = (e as Error).message;
    }
    const base = { channel: ch.channel, target: ch.target, deliveryId: id, attempts: n };
    try {
      if (error === null) {
        await this.repo.updateDelivery(id, { status: 'sent', attempts: n, last_error: null, delivered_at: iso(this.clock.now()) });
        await this.settle(notice);
        return { ...base, status: 'sent', error: null };
      }
      const final = n > retries || this.closed;
      await this.repo.updateDelivery(id, { status: final ? 'failed' : 'pending', attempts: n, last_error: error });
      if (final) {
        this.logger.error(`alert delivery #${id} (${notice.kind}) by ${ch.channel} to ${ch.target} failed after ${n} attempt${n === 1 ? '' : 's'}: ${error}`);
        await this.settle(notice);
        return { ...base, status: 'failed', error };
      }
      const delay = this.opts.backoffMs * 2 ** (n - 1);
      this.logger.warn(`alert delivery #${id} by ${ch.channel} to ${ch.target} failed (attempt ${n} of ${retries + 1}): ${error}; retrying in ${delay} ms`);
      const timer = this.clock.setTimer(delay, () => {
        this.timers.delete(timer);
        void this.track(this.attempt(id, ch, notice, n + 1, retries));
      });
      this.timers.add(timer);
      return { ...base, status: 'pending', error };
    } catch (e) {
      // The database itself failed: say so, but never let it escape into the daemon.
      this.logger.error(`alert delivery #${id}: cannot record its state: ${(e as Error).message}`);
      return { ...base, status: error === null ? 'sent' : 'failed', error };
    }
  }

  /** The alert's notification_status follows its deliveries: pending while any is, failed if any failed, else sent. */
  private async settle(notice: Notice): Promise<void> {
    if (notice.kind !== 'alert' || notice.alertId === null) return;
    const rows = await this.repo.deliveries({ alertId: notice.alertId, kind: 'alert' });
    if (rows.length === 0 || rows.some((r) => r.status === 'pending')) return;
    const failed = rows.filter((r) => r.status === 'failed');
    const sent = rows.filter((r) => r.delivered_at).map((r) => r.delivered_at!);
    await this.repo.update(notice.alertId, {
      notification_status: failed.length ? 'failed' : 'sent',
      notification_error: failed.length ? failed.map((r) => `${r.channel} ${r.target}: ${r.last_error}`).join('; ') : null,
      notified_at: sent.length ? sent.sort()[0]! : null,
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const guarded = p.catch((e) => {
      this.logger.error(`alert delivery: ${(e as Error).message}`);
      return [] as unknown as T;
    });
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
    return guarded;
  }

  /** Resolves when no attempt is in progress (scheduled retries and digests may still be waiting). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** Stop: cancel pending retries (their rows stay 'pending', visible) and digest timers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.windows.clear();
    await this.idle();
  }
}
