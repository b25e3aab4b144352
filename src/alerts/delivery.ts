/**
 * Getting a notice out on every channel. Each channel and notice is one row in
 * smart_cron_alert_deliveries, and the row, not this process, is what carries the delivery: it
 * holds the notice, and while it is `pending` the time of its next attempt. A failed attempt is
 * retried from the table with a growing backoff for hours, after a restart too, by whichever
 * daemon claims the row (a compare-and-set, so where daemons share the table one row is sent
 * by one of them), until it goes out, its alert resolves, or the retry window ends. The alert's
 * notification_status follows its rows.
 *
 * A per-channel hourly rate limit holds back alert and recovery notices over it (critical ones
 * excepted) as `suppressed` rows; one digest of them goes out as soon as the channel has room.
 *
 * Nothing here throws at its caller: every failure ends up in a delivery row and the log.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { iso, parseIso, type Clock, type TimerHandle } from '../clock.js';
import type { AlertsRepo, DeliveryRow } from '../storage/repos/alerts.js';
import { digestNotice, type Notice } from './format.js';
import type { AlertLogger } from './notifiers/log.js';

export interface Channel {
  /** Rate-limit bucket: the channel and its destination (may hold secrets: only its hash is stored). */
  key: string;
  channel: 'email' | 'webhook';
  /** The destination, safe to print. */
  target: string;
  /** Retries at least this many times (a zero: none); past that, until the retry window ends. */
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

export interface DelivererOptions {
  rateLimitPerHour: number;
  /** The first retry's delay; each further one waits twice as long, up to MAX_BACKOFF_MS. */
  backoffMs: number;
  /** The configured channel a stored row was for (null: no longer configured). */
  channelOf(row: Pick<DeliveryRow, 'channel' | 'target' | 'route'>): Channel | null;
}

const HOUR = 3600_000;
/** Retries wait ever longer, but never more than this between two attempts. */
export const MAX_BACKOFF_MS = 30 * 60_000;
/** A delivery is retried for this long after it was created; then it is failed for good. */
export const RETRY_WINDOW_MS = 6 * HOUR;
/** A claim outlasts any one attempt; a daemon that dies mid-attempt loses its rows after it. */
const CLAIM_MS = 5 * 60_000;
/** How often a started deliverer looks for rows due (left by a restart, or another daemon). */
const POLL_MS = 30_000;
/** How long close() waits for attempts in flight before leaving them pending for the next start. */
export const CLOSE_WAIT_MS = 1500;

/** The channel's rate-limit bucket as stored: a hash, since a webhook URL may carry a token. */
export function routeOf(ch: Pick<Channel, 'key'>): string {
  return createHash('sha256').update(ch.key).digest('hex').slice(0, 16);
}

export function backoff(baseMs: number, attempt: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempt - 1, 30), MAX_BACKOFF_MS);
}

type Attemptable = Pick<DeliveryRow, 'id' | 'attempts' | 'created_at' | 'last_error'>;

export class Deliverer {
  /** Who holds a claim: one name per deliverer, so a stop gives back only its own rows. */
  private readonly me = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private wakeAt: { at: number; timer: TimerHandle } | null = null;
  private inflight = new Set<Promise<unknown>>();
  /** Rows this deliverer is attempting now (claimed). */
  private attempting = new Set<number>();
  /** Counting a channel's hour and inserting the row happen one notice at a time. */
  private admitting: Promise<unknown> = Promise.resolve();
  private sweeping: Promise<void> | null = null;
  private sweepAgain = false;
  private started = false;
  private closed = false;
  /** Set when close() stopped waiting: late results are left to the next start, unrecorded. */
  private abandoned = false;

  constructor(
    private readonly repo: AlertsRepo,
    private readonly clock: Clock,
    private readonly logger: AlertLogger,
    private readonly opts: DelivererOptions,
  ) {}

  /**
   * Send a notice on each channel. Resolves after the first attempt on every channel (retries
   * follow from the table); tests and `alerts test` read the outcome, the daemon does not wait.
   * `urgent` (critical alerts): never held back by the rate limit, though it counts.
   */
  deliver(notice: Notice, channels: Channel[], opts: { retry?: boolean; urgent?: boolean } = {}): Promise<DeliveryOutcome[]> {
    return this.track(this.run(notice, channels, opts.retry ?? true, opts.urgent ?? false));
  }

  /** Resume the deliveries a previous daemon left pending, and keep looking for due rows. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.sweep();
  }

  private async run(notice: Notice, channels: Channel[], retry: boolean, urgent: boolean): Promise<DeliveryOutcome[]> {
    const outcomes: (DeliveryOutcome | Promise<DeliveryOutcome>)[] = [];
    // Every row first, then the attempts in parallel: a slow SMTP server delays no webhook, and
    // the alert's status is never computed from half of its deliveries.
    const rows: { row: DeliveryRow; ch: Channel; index: number }[] = [];
    for (const ch of channels) {
      const row = await this.insert(notice, ch, retry, urgent);
      const base = { channel: ch.channel, target: ch.target, deliveryId: row.id, attempts: 0, error: null };
      if (row.status === 'suppressed') outcomes.push({ ...base, status: 'suppressed' });
      else if (this.closed) outcomes.push({ ...base, status: 'pending' });
      else rows.push({ row, ch, index: outcomes.push(null as never) - 1 });
    }
    for (const r of rows) outcomes[r.index] = this.attempt(r.row, r.ch, notice, retry);
    const done = await Promise.all(outcomes);
    if (this.abandoned) return done;
    if (notice.kind === 'alert' && notice.alertId !== null) {
      if (channels.length === 0) await this.repo.update(notice.alertId, { notification_status: 'none' });
      else await this.settle(notice.alertId);
    }
    return done;
  }

  /** The row for one channel: pending (claimed by us, to attempt now), or suppressed when over the channel's hour. */
  private insert(notice: Notice, ch: Channel, retry: boolean, urgent: boolean): Promise<DeliveryRow> {
    const next = this.admitting.then(async () => {
      const now = this.clock.now();
      const route = routeOf(ch);
      const limited = notice.kind === 'alert' || notice.kind === 'recovery';
      const held = limited && !urgent && !(await this.admit(ch, route, notice, now));
      const claim = held || this.closed ? { claimed_by: null, claimed_until: null } : { claimed_by: this.me, claimed_until: iso(now + CLAIM_MS) };
      return this.repo.insertDelivery({
        alert_id: notice.alertId,
        channel: ch.channel,
        target: ch.target,
        kind: notice.kind,
        status: held ? 'suppressed' : 'pending',
        attempts: 0,
        created_at: iso(now),
        route,
        notice: JSON.stringify(notice),
        // Without retries (a test), nothing is ever due again: no later start sends it.
        next_attempt_at: held || !retry ? null : iso(now),
        ...claim,
      });
    });
    this.admitting = next.catch(() => {});
    return next;
  }

  /** True when the channel has room in the last hour (counted from the table, so a restart forgets nothing). */
  private async admit(ch: Channel, route: string, notice: Notice, now: number): Promise<boolean> {
    const counted = await this.repo.countedSince(route, iso(now - HOUR));
    const limit = this.opts.rateLimitPerHour;
    if (counted.length < limit) return true;
    this.logger.warn(`alert notification held back on ${ch.channel} ${ch.target} (rate limit ${limit}/h): ${notice.subject}`);
    // The digest goes out once the oldest notice that keeps the channel full is an hour old.
    this.wake(parseIso(counted[counted.length - limit]!) + HOUR);
    return false;
  }

  private async attempt(row: Attemptable, ch: Channel, notice: Notice, retry: boolean): Promise<DeliveryOutcome> {
    const n = row.attempts + 1;
    const base = { channel: ch.channel, target: ch.target, deliveryId: row.id };
    this.attempting.add(row.id);
    try {
      const over = await this.overFor(notice);
      if (over) {
        // The alert resolved while this waited: telling of it now would only mislead.
        const error = `not sent: ${over}${row.last_error ? ` (last error: ${row.last_error})` : ''}`;
        await this.repo.updateDelivery(row.id, { status: 'failed', last_error: error, next_attempt_at: null, claimed_by: null, claimed_until: null });
        await this.settle(notice.alertId);
        return { ...base, attempts: row.attempts, status: 'failed', error };
      }
      let error: string | null = null;
      try {
        await ch.send(notice);
      } catch (e) {
        error = (e as Error).message;
      }
      // close() stopped waiting for us: the row stays pending (its claim given back) for the next start.
      if (this.abandoned) return { ...base, attempts: row.attempts, status: 'pending', error };
      return await this.record(row, n, ch, notice, retry, error);
    } catch (e) {
      // The database itself failed: say so, but never let it escape into the daemon.
      if (!this.abandoned) this.logger.error(`alert delivery #${row.id}: cannot record its state: ${(e as Error).message}`);
      return { ...base, attempts: n, status: 'failed', error: (e as Error).message };
    } finally {
      this.attempting.delete(row.id);
    }
  }

  private async record(row: Attemptable, n: number, ch: Channel, notice: Notice, retry: boolean, error: string | null): Promise<DeliveryOutcome> {
    const base = { channel: ch.channel, target: ch.target, deliveryId: row.id, attempts: n };
    const now = this.clock.now();
    const unclaimed = { claimed_by: null, claimed_until: null };
    if (error === null) {
      await this.repo.updateDelivery(row.id, { status: 'sent', attempts: n, last_error: null, delivered_at: iso(now), next_attempt_at: null, ...unclaimed });
      await this.settle(notice.alertId, notice);
      return { ...base, status: 'sent', error: null };
    }
    const delay = backoff(this.opts.backoffMs, n);
    const final = !retry || ch.retries === 0 || (n > ch.retries && now + delay > parseIso(row.created_at) + RETRY_WINDOW_MS);
    const what = `alert delivery #${row.id} (${notice.kind}) by ${ch.channel} to ${ch.target}`;
    if (final) {
      await this.repo.updateDelivery(row.id, { status: 'failed', attempts: n, last_error: error, next_attempt_at: null, ...unclaimed });
      this.logger.error(`${what} failed after ${n} attempt${n === 1 ? '' : 's'}: ${error}`);
      await this.settle(notice.alertId, notice);
      return { ...base, status: 'failed', error };
    }
    await this.repo.updateDelivery(row.id, { status: 'pending', attempts: n, last_error: error, next_attempt_at: iso(now + delay), ...unclaimed });
    // Stopping, no timer of ours will fire: the row waits in the table for the next start.
    this.logger.warn(`${what} failed (attempt ${n}): ${error}; ${this.closed ? 'left pending for the next start' : `retrying in ${delay} ms`}`);
    if (!this.closed) this.wake(now + delay);
    await this.settle(notice.alertId, notice);
    return { ...base, status: 'pending', error };
  }

  /** Why an alert notice is no longer worth sending (its alert resolved or is gone), or null. */
  private async overFor(notice: Notice): Promise<string | null> {
    if (notice.kind !== 'alert' || notice.alertId === null) return null;
    const a = await this.repo.byId(notice.alertId);
    if (!a) return `alert #${notice.alertId} no longer exists`;
    return a.resolved_at ? `alert #${a.id} resolved at ${a.resolved_at}` : null;
  }

  /** An alert resolved: give up its notices nobody is attempting now (those in flight check for themselves). */
  async dropFor(alertId: number, resolvedAt: string): Promise<void> {
    if (await this.repo.dropPending(alertId, iso(this.clock.now()), `not sent: alert #${alertId} resolved at ${resolvedAt}`)) await this.settle(alertId);
  }

  /**
   * The alert's notification_status follows its rows: pending while any is (with the last
   * errors so far), suppressed when the rate limit held back every one, else failed if any
   * failed, else sent.
   */
  private async settle(alertId: number | null, notice?: Notice): Promise<void> {
    if (alertId === null || (notice && notice.kind !== 'alert')) return;
    // Per channel its latest row: a notice sent again (a repeat after a failure) supersedes the failed one.
    const latest = new Map<string, DeliveryRow>();
    for (const r of await this.repo.deliveries({ alertId, kind: 'alert' })) latest.set(r.route ?? `${r.channel} ${r.target}`, r);
    const rows = [...latest.values()];
    if (rows.length === 0) return;
    const errors = (rs: DeliveryRow[]) => (rs.length ? rs.map((r) => `${r.channel} ${r.target}: ${r.last_error}`).join('; ') : null);
    const live = rows.filter((r) => r.status !== 'suppressed');
    if (live.length === 0) {
      await this.repo.update(alertId, { notification_status: 'suppressed', notification_error: null });
      return;
    }
    const pending = live.filter((r) => r.status === 'pending');
    const failed = live.filter((r) => r.status === 'failed');
    const sent = live.filter((r) => r.delivered_at).map((r) => r.delivered_at!);
    await this.repo.update(alertId, {
      notification_status: pending.length ? 'pending' : failed.length ? 'failed' : 'sent',
      notification_error: pending.length ? errors(pending.filter((r) => r.last_error)) : errors(failed),
      notified_at: sent.length ? sent.sort()[0]! : null,
    });
  }

  // ---------------------------------------------------------------- from the table

  /** Run a sweep at `at` (the earliest asked for wins). */
  private wake(at: number): void {
    if (this.closed) return;
    if (this.wakeAt && this.wakeAt.at <= at) return;
    this.wakeAt?.timer.cancel();
    const timer = this.clock.setTimer(at - this.clock.now(), () => {
      if (this.wakeAt?.timer === timer) this.wakeAt = null;
      void this.sweep();
    });
    this.wakeAt = { at, timer };
  }

  /** Attempt every row due, send the digests that have room; one sweep at a time. */
  private sweep(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    const p = this.track(
      (async () => {
        do {
          this.sweepAgain = false;
          await this.sweepOnce();
        } while (this.sweepAgain && !this.closed);
      })(),
    ).finally(() => (this.sweeping = null));
    this.sweeping = p;
    return p;
  }

  private async sweepOnce(): Promise<void> {
    const looked = this.clock.now();
    const rows = await this.repo.claimDue(iso(looked), this.me, iso(looked + CLAIM_MS));
    await Promise.all(rows.map((r) => this.resume(r)));
    await this.digests();
    if (this.closed) return;
    const now = this.clock.now();
    const next = await this.repo.nextFree(iso(now));
    if (next !== null) {
      const at = parseIso(next);
      // Fell due while this look was under way (the clock moved during its queries): look again
      // now, not at a timer; one set for an instant already past may never fire in virtual time.
      if (at > looked && at <= this.clock.now()) this.sweepAgain = true;
      // Due at our look but not ours: another daemon won it; look again a little later.
      else this.wake(Math.max(at, now + (rows.length ? 0 : 1000)));
    }
    if (this.started) this.wake(this.clock.now() + POLL_MS);
  }

  private async resume(row: DeliveryRow): Promise<void> {
    const ch = this.opts.channelOf(row);
    const notice = parseNotice(row.notice);
    if (!ch || !notice) {
      const error = !ch ? `${row.channel} ${row.target} is no longer configured` : 'the stored notice cannot be read';
      await this.repo.updateDelivery(row.id, { status: 'failed', last_error: error, next_attempt_at: null, claimed_by: null, claimed_until: null });
      this.logger.error(`alert delivery #${row.id} (${row.kind}) given up: ${error}`);
      if (row.kind === 'alert') await this.settle(row.alert_id);
      return;
    }
    await this.attempt(row, ch, notice, true);
  }

  /** One digest per channel of what the rate limit held back, once the channel has room again. */
  private async digests(): Promise<void> {
    const byRoute = new Map<string, DeliveryRow[]>();
    for (const r of await this.repo.heldBack()) byRoute.set(r.route ?? '', [...(byRoute.get(r.route ?? '') ?? []), r]);
    for (const [route, held] of byRoute) {
      if (this.closed) return;
      const ch = this.opts.channelOf(held[0]!);
      if (!ch) continue;
      const now = this.clock.now();
      const counted = await this.repo.countedSince(route, iso(now - HOUR));
      const limit = this.opts.rateLimitPerHour;
      if (counted.length >= limit) {
        this.wake(parseIso(counted[counted.length - limit]!) + HOUR);
        continue;
      }
      const row = await this.repo.insertDelivery({
        alert_id: null,
        channel: ch.channel,
        target: ch.target,
        kind: 'digest',
        status: 'pending',
        attempts: 0,
        created_at: iso(now),
        route,
        next_attempt_at: iso(now),
        claimed_by: this.me,
        claimed_until: iso(now + CLAIM_MS),
      });
      // Another daemon may be listing the same rows: each row goes into one digest only.
      if ((await this.repo.assignDigest(held.map((r) => r.id), row.id)) === 0) {
        await this.repo.deleteDelivery(row.id);
        continue;
      }
      const mine = await this.repo.deliveries({ digestId: row.id });
      const items = mine.map((r) => ({ alertId: r.alert_id, subject: parseNotice(r.notice)?.subject ?? `${r.kind} #${r.alert_id}`, at: r.created_at }));
      const notice = digestNotice(items, mine[0]!.created_at, iso(now));
      await this.repo.updateDelivery(row.id, { notice: JSON.stringify(notice) });
      await this.attempt(row, ch, notice, true);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private track<T>(p: Promise<T>): Promise<T> {
    const guarded = p.catch((e) => {
      if (!this.abandoned) this.logger.error(`alert delivery: ${(e as Error).message}`);
      return [] as unknown as T;
    });
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
    return guarded;
  }

  /** Resolves when no attempt is in progress (retries due later may still be waiting). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Stop: no more sweeps; wait a moment for attempts in flight (a mail server that does not
   * answer must not hold up a stop), then give back the claims of those still going: their
   * rows stay pending, due at once, for the next start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeAt?.timer.cancel();
    this.wakeAt = null;
    let timer: NodeJS.Timeout | undefined;
    // Real time, not the injected clock: what is waited for is real network I/O.
    const done = await Promise.race([this.idle().then(() => true), new Promise<false>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS, false)))]);
    clearTimeout(timer);
    if (done) return;
    this.abandoned = true;
    const left = [...this.attempting];
    await this.repo.releaseClaims(left, this.me).catch(() => {});
    if (left.length) this.logger.warn(`alert deliveries: ${left.length} attempt${left.length === 1 ? '' : 's'} still waiting on a server at stop, left pending for the next start`);
  }
}

function parseNotice(text: string | null): Notice | null {
  if (!text) return null;
  try {
    const n = JSON.parse(text) as Notice;
    return typeof n?.subject === 'string' && typeof n.kind === 'string' ? n : null;
  } catch {
    return null;
  }
}
