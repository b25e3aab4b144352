/**
 * The Dispatcher: the loop that turns due jobs into runs. It plans due ticks (Planner),
 * admits queued runs into slots in priority-then-age order (LoadBalancer), launches them
 * (Launcher), and records each outcome exactly once (JobManager.recordExecution). It wakes
 * at the next due time (capped, re-reading the clock on every wake) and whenever capacity
 * frees, so a waiting run starts the moment it fits, not on the next minute.
 */
import { join } from 'node:path';
import { iso, type Clock, type TimerHandle } from '../clock.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { EventBus } from '../events.js';
import { jobArgv, parseJson } from '../jobs/job.js';
import type { JobManager, RunOutcomeFields } from '../jobs/manager.js';
import { NodesRepo } from '../storage/repos/nodes.js';
import type { JobRow, RunRow } from '../storage/schema.js';
import { circuitForOutcome, passCircuit } from './circuit.js';
import type { Launched, Launcher, LaunchSpec } from './launch.js';
import { NEEDS_MEMORY, type LoadBalancer } from './load-balancer.js';
import { Planner } from './planner.js';
import { arePeers, QUEUED_COLUMNS, queueOrder, type QueuedRun } from './queue.js';
import { chooseSlot, reservationFor } from './slots.js';
import { queueManualRun } from './manual.js';
import { cancelRun } from './cancel.js';
import { retryDelayMs, settleSkippedRetries, shouldRetry } from './retry.js';
import { REQUIRES_WAIT_PREFIX, Workflow } from './workflow.js';
import type { Executor, RunRequest } from './types.js';
import type { SlotUsage } from '../events.js';

/** How often runs of ours are checked for a cancel request made elsewhere. */
const CANCEL_WATCH_MS = 1000;
/** How often the planning node looks for retries skipped elsewhere (settleRetries). */
const SETTLE_EVERY_MS = 1000;

/** A wait reason written by Dispatcher.notHere: the run needs another node. */
const isNotHereReason = (reason: string) => reason.startsWith('pinned to node "') || reason.startsWith('node_selector ') || reason.startsWith('needs slot "') || /^needs \d+ MB of memory \(more than node /.test(reason);

export interface DispatcherOptions {
  node: string;
  jobs: JobManager;
  lb: LoadBalancer;
  launcher: Launcher;
  clock: Clock;
  bus?: EventBus;
  runsDir: string;
  /** Longest sleep between wakes: changes made by other processes are seen within it. */
  maxSleepMs?: number;
  /**
   * How early a scheduled tick is planned, admitted and its process prepared (held at the start
   * handshake), so its command starts at the instant however many runs are due together
   * (config execution.start_lead_ms). 0: at the instant.
   */
  startLeadMs?: number;
  /** Argv for a script job (interpreter by type). */
  scriptArgv?: (path: string, type: string | null) => string[];
  /** Plan the schedule here (false on nodes that lost the scheduler lease). */
  canPlan?: () => Promise<boolean>;
  log?: (msg: string) => void;
  /** This node's labels: a job with a node_selector runs only on nodes that have all of its labels. */
  labels?: Record<string, string>;
  /** Only admit runs this accepts (a one-shot `smart-cron run` without a daemon). */
  runFilter?: (run: QueuedRun) => boolean;
  /** Called with each run's lateness (start - scheduled instant) in ms. */
  onLateness?: (ms: number) => void;
  /** Called with each tick the planner records as skipped (misfire, overlap, circuit). */
  onSkipped?: (run: RunRow) => void;
}

interface Active {
  run: RunRow;
  launched: Launched | null;
  cancelReason?: string;
  /** Set when the run is let go before its command started because it should not run at all. */
  skipReason?: string;
}

/**
 * How long before a held run's instant the dispatcher looks at its job once more: a job
 * disabled (or removed) within the start lead does not start. Enough for one indexed read and
 * a TERM to the waiting shim on a loaded machine; after that, the run starts.
 */
const LAST_LOOK_MS = 100;

export class Dispatcher implements Executor {
  private readonly planner: Planner;
  private readonly workflow: Workflow;
  private readonly active = new Map<number, Active>();
  private timer: TimerHandle | null = null;
  /** Wake-ups for retries waiting out their backoff (cancelled by stop()). */
  private readonly retryWakes = new Set<TimerHandle>();
  private cycling: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private admitting = true;
  private readonly finishing = new Set<Promise<void>>();
  /** The next look for cancel requests (cancel.ts), armed while runs are active here. */
  private cancelWatch: TimerHandle | null = null;
  /** Skipped retries: where the next look starts (retry.ts settleSkippedRetries), when it was, whether one is due now. */
  private settleFloor: number | null = null;
  private settledAt = -Infinity;
  private settleSoon = false;

  constructor(private readonly o: DispatcherOptions) {
    this.planner = new Planner({
      jobs: o.jobs,
      clock: o.clock,
      log: o.log,
      onQueued: (r) => o.bus?.emit('run.queued', r),
      onSkipped: (r) => {
        o.bus?.emit('run.finished', r);
        o.onSkipped?.(r);
      },
      // Wherever the running run is (here, another node): a run that ended meanwhile is no conflict.
      replace: (r, reason) => this.cancelRun(r.id, reason).then(
        () => {},
        () => {},
      ),
    });
    this.workflow = new Workflow({
      jobs: o.jobs,
      clock: o.clock,
      log: o.log,
      onQueued: (r) => {
        o.bus?.emit('run.queued', r);
        this.kick();
      },
    });
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    this.stopped = false;
    this.admitting = true;
    this.giveUpRecording = false;
    this.watchCancelRequests(); // for the runs adopted before the start (recovery)
    this.kick();
  }

  /** Queue the @reboot jobs (the daemon calls this once at start-up). */
  async planReboot(): Promise<void> {
    if (this.o.canPlan && !(await this.o.canPlan())) return;
    await this.planner.planReboot();
    this.kick();
  }

  /**
   * Stop planning and admitting. Running runs keep running; `drain` waits for them to be recorded.
   * A run held for its start instant starts then all the same (its shim times it), and a later
   * daemon adopts it like any other.
   */
  async stop(opts: { drain?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.admitting = false;
    this.timer?.cancel();
    this.timer = null;
    for (const t of this.retryWakes) t.cancel();
    this.retryWakes.clear();
    this.cancelWatch?.cancel();
    this.cancelWatch = null;
    if (!opts.drain) this.stopRetrying();
    if (this.cycling) await this.cycling;
    await this.persistSlots().catch(() => {}); // a cycle cut short by the stop did not
    if (opts.drain) await this.idle();
  }

  /** Resolves when no run of this dispatcher is running or being recorded. */
  async idle(): Promise<void> {
    while (this.active.size > 0 || this.finishing.size > 0) {
      await Promise.race([...this.finishing, ...[...this.active.values()].map((a) => a.launched?.done ?? Promise.resolve())]);
      await new Promise((r) => setImmediate(r));
    }
  }

  get runningCount(): number {
    return this.active.size;
  }

  /** Run a cycle as soon as possible (coalescing concurrent requests). */
  kick(): void {
    if (this.stopped) return;
    if (this.cycling) {
      this.again = true;
      return;
    }
    this.cycling = this.cycle().finally(() => {
      this.cycling = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** One pass: plan due ticks, admit what fits, and set the timer for the next wake. */
  async cycle(): Promise<void> {
    // Start in the event loop's own turn. With SQLite (synchronous under its promises) a cycle runs
    // entirely in microtasks; started from a timer or a run's end it ran inside Node's timer
    // processing, and with runs ending all the time cycle after cycle chained there without one
    // I/O event, HTTP request or other timer being served (200 per-second jobs: none for minutes).
    await new Promise<void>((r) => setImmediate(r));
    let planned: { at: number; horizon: number } | null = null;
    try {
      const now = this.o.clock.now();
      if (!this.o.canPlan || (await this.o.canPlan())) {
        const horizon = now + this.lead;
        await this.planner.planDue(now, horizon);
        planned = { at: now, horizon };
      }
      if (this.admitting) await this.admit();
      // The planning node settles skipped retries (any process may have skipped them): it has the alerts.
      if (planned) await this.settleRetries(now);
    } catch (e) {
      this.o.log?.(`dispatcher cycle failed: ${(e as Error).message}`);
    }
    await this.scheduleWake(planned);
  }

  private get lead(): number {
    return Math.max(0, this.o.startLeadMs ?? 0);
  }

  /**
   * Sleep until the earliest next run (less the start lead), at most maxSleepMs. A next run that
   * was already due when this cycle planned (or is due and this node does not plan: a one-shot
   * `run`, a node without the lease) is not ours to wake for: waking at once would spin until
   * someone else plans it. A tick inside the planned horizon that was not planned ahead (see
   * Planner.planDue) is woken for at its instant.
   */
  private async scheduleWake(planned: { at: number; horizon: number } | null = null): Promise<void> {
    if (this.stopped) return;
    this.timer?.cancel();
    const now = this.o.clock.now();
    const max = this.o.maxSleepMs ?? 1000;
    let next = now + max;
    // Only a node that plans prepares runs ahead; the others wake at the instants.
    const lead = planned ? this.lead : 0;
    try {
      const after = planned?.at ?? now;
      const horizon = planned?.horizon ?? now;
      const earliest = await this.o.jobs.jobs.earliestNextRun(iso(after));
      const at = earliest ? Date.parse(earliest) : NaN;
      if (at <= horizon) {
        next = Math.min(next, at);
        const beyond = await this.o.jobs.jobs.earliestNextRun(iso(horizon));
        if (beyond) next = Math.min(next, Date.parse(beyond) - lead);
      } else if (at > horizon) {
        next = Math.min(next, at - lead);
      }
    } catch {
      // the database is away: try again after the usual sleep
    }
    this.timer = this.o.clock.setTimer(Math.max(0, next - this.o.clock.now()), () => {
      this.timer = null;
      this.kick();
    });
  }

  /**
   * A retry skipped or cancelled before it ran makes the attempt before it final: its dependents
   * (on failure, always) are queued and it is judged by the alert rules, through the same
   * 'recorded' event a final outcome raises. Looked for every second, and at once after a skip here.
   */
  private async settleRetries(now: number): Promise<void> {
    if (!this.settleSoon && now - this.settledAt < SETTLE_EVERY_MS) return;
    this.settleSoon = false;
    this.settledAt = now;
    this.settleFloor = await settleSkippedRetries(this.o.jobs, now, this.settleFloor, async (attempt) => {
      await this.workflow.afterRun(attempt, false).catch((e: Error) => this.o.log?.(`dependencies of run #${attempt.id}: ${e.message}`));
      // Its outcome is final after all: on the circuit (before the alerts see it), then counted and announced.
      const job = await this.o.jobs.jobs.byId(attempt.job_id);
      if (!job) return;
      const circuit = circuitForOutcome(job, attempt.status, this.o.clock.now());
      if (circuit) await this.o.jobs.jobs.update(job.id, circuit);
      await this.o.jobs.finalizeAttempt(attempt);
    });
  }

  // ------------------------------------------------------------------ admission

  /** The queued runs this node may start, oldest id first (select what is needed of them). */
  private queuedQuery() {
    return this.o.jobs.database.db
      .selectFrom('smart_cron_job_history')
      .where('status', '=', 'queued')
      .where((eb) => eb.or([eb('node', 'is', null), eb('node', '=', this.o.node)]))
      .orderBy('id')
      .limit(2000);
  }

  /** These runs in the order admission tries them (queue.ts), with their jobs. */
  private async ordered<R extends QueuedRun>(rows: R[]): Promise<{ runs: R[]; jobs: Map<number, JobRow | undefined> }> {
    // The jobs of every queued run in one query (a burst of hundreds queued: not one each, every cycle).
    const jobs = await this.o.jobs.jobs.byIds(rows.map((r) => r.job_id));
    const runs = queueOrder(rows, (r) => {
      const job = jobs.get(r.job_id);
      return job && { memoryMb: reservationFor(job).memoryMb, durationS: job.baseline_duration_seconds ?? job.estimated_duration_seconds };
    });
    return { runs, jobs };
  }

  private async admit(): Promise<void> {
    const now = this.o.clock.now();
    const { runs: queued, jobs: jobCache } = await this.ordered(await this.queuedQuery().select(QUEUED_COLUMNS).execute());
    // The first run that did not fit, per slot and for the host: it holds back every later run
    // but its peers (queue.ts). The runs it holds back say so, in one statement per blocker.
    type Blocker = { run: QueuedRun; reason: string; anyRun: boolean; held: number[] };
    const blockedSlots = new Map<string, Blocker>();
    let hostBlock: Blocker | null = null;
    const heldBack = (slot: string, run: QueuedRun): boolean => {
      const by = [hostBlock, blockedSlots.get(slot)].find((b) => b && !arePeers(b.run, run));
      by?.held.push(run.id);
      return by !== undefined;
    };
    // Jobs with a run going (any node), and one such run: under overlap policy queue or forbid
    // their next queued run (a catch-up sequence, or the one queue keeps) waits for it; under
    // replace the newer run waits for the one it replaces (asked to stop when it was queued) to exit.
    const runningJobs = new Map(
      (await this.o.jobs.database.db.selectFrom('smart_cron_job_history').select(['job_id', 'id']).where('status', '=', 'running').orderBy('id').execute()).map((r) => [r.job_id, r.id]),
    );
    for (const run of queued) {
      if (!this.admitting) return;
      if (this.o.runFilter && !this.o.runFilter(run)) continue;
      if (run.not_before && Date.parse(run.not_before) > now) continue;
      if (run.deadline_at && Date.parse(run.deadline_at) < now) {
        await this.skip(run, `waited past its starting deadline (${run.deadline_at})${run.wait_reason ? `: ${run.wait_reason}` : ''}`);
        continue;
      }
      const job = jobCache.get(run.job_id);
      if (!job) continue;
      if (run.trigger !== 'manual' && !job.enabled) {
        await this.skip(run, 'job was disabled before the run could start');
        continue;
      }
      const elsewhere = this.notHere(job);
      if (elsewhere) {
        await this.sayNotHere(run, elsewhere);
        continue;
      }
      // A retry queued before the circuit opened (or by the failure that opened it) is not run
      // while it is open; once the cool-down is over, it may be the trial.
      if (run.trigger === 'retry') {
        const gate = await passCircuit(this.o.jobs, job, now, run.id);
        if (!gate.allow) {
          await this.skip(run, gate.reason);
          continue;
        }
      }
      const slot = chooseSlot(job);
      // A run held back by one that did not fit is passed over before any per-run query (a
      // burst of hundreds queued would cost a gate check each, every cycle). Runs waiting for a
      // requirement still go through the gate, which may skip them at their deadline, and are
      // checked for a blocker after it. (Blockers are added only below: one check a run suffices.)
      const waitsForRequirement = run.wait_reason?.startsWith(REQUIRES_WAIT_PREFIX) === true;
      if (!waitsForRequirement && heldBack(slot, run)) continue;
      // workflow.ts: runs waiting for requirements, and mutex groups
      const held = await this.workflow.gate(run, job, now);
      if (held) {
        if ('skip' in held) await this.skip(run, held.skip);
        continue;
      }
      const going = runningJobs.get(job.id);
      // A manual run follows the overlap policy only when its job says so (manual_respects_overlap).
      if (going !== undefined && job.overlap_policy !== 'allow' && (run.trigger !== 'manual' || job.manual_respects_overlap)) {
        const reason =
          job.overlap_policy === 'replace'
            ? `waits for run #${going}, which it replaces, to exit (overlap policy replace)`
            : `waits for the previous run to end (overlap policy ${job.overlap_policy})`;
        if (run.wait_reason !== reason) await this.o.jobs.history.update(run.id, { wait_reason: reason });
        continue;
      }
      if (waitsForRequirement && heldBack(slot, run)) continue;
      const reservation = reservationFor(job);
      const d = this.o.lb.canAdmit(slot, reservation);
      if (!d.ok) {
        if (d.never) {
          // A slot this node lacks, or more memory than it has, where another node may do: that
          // node runs it (as for a pinned job). Where none may, the run is skipped saying why,
          // rather than waiting for ever at the head of the queue.
          const there = await this.nodesWithSlot(slot);
          if (there.length && d.blocks === 'host') await this.sayNotHere(run, { key: NEEDS_MEMORY(reservation.memoryMb), reason: `${d.reason}; other nodes may: ${there.join(', ')}` });
          else if (there.length) await this.sayNotHere(run, { key: `needs slot ${JSON.stringify(slot)}`, reason: `needs slot ${JSON.stringify(slot)}, which this node (${JSON.stringify(this.o.node)}) does not have (nodes that have it: ${there.join(', ')})` });
          else await this.skip(run, d.reason);
          continue;
        }
        if (run.wait_reason !== d.reason) await this.o.jobs.history.update(run.id, { wait_reason: d.reason });
        const blocker: Blocker = { run, reason: d.reason, anyRun: d.anyRun === true, held: [] };
        if (d.blocks === 'host') hostBlock ??= blocker;
        else if (!blockedSlots.has(slot)) blockedSlots.set(slot, blocker);
        continue;
      }
      if (!(await this.workflow.takeMutex(run, job, now))) continue;
      // A tick planned ahead is admitted before its instant and started at it (the start lead).
      // A manual run's key is no instant (manual.ts): it starts now, and waited since its request.
      // "Now" is this run's admission, not the cycle's start: with PostgreSQL the claims before it
      // took round trips, and a run that ended meanwhile (whose room this one may take) must not
      // appear to have still been going when this one started.
      const admittedAt = this.o.clock.now();
      const manual = run.trigger === 'manual';
      const startAt = manual ? admittedAt : Math.max(admittedAt, Date.parse(run.scheduled_for));
      // A retry is due when its backoff is over: the backoff is not time spent waiting for room.
      const dueMs = manual ? Date.parse(run.queued_at) : Math.max(Date.parse(run.queued_at), Date.parse(run.scheduled_for), run.trigger === 'retry' && run.not_before ? Date.parse(run.not_before) : 0);
      // The claim returns the whole row (admission read only what it needed of it).
      const claimed = await this.o.jobs.history.transitionReturning(run.id, ['queued'], {
        status: 'running',
        node: this.o.node,
        slot,
        reservation_mb: reservation.memoryMb,
        reservation_cpu: reservation.cpuPercent,
        started_at: iso(startAt),
        wait_ms: Math.max(0, startAt - dueMs),
        wait_reason: null,
      });
      if (!claimed) {
        await this.workflow.releaseMutex(run.id); // another node took it
        continue;
      }
      runningJobs.set(job.id, run.id);
      const entry: Active = { run: claimed, launched: null };
      this.active.set(run.id, entry);
      this.watchCancelRequests();
      this.o.lb.acquire({ runId: run.id, slot, reservation, usedMb: () => entry.launched?.usedMb() ?? 0 });
      // Launches run side by side (each forks a shim and sets up a cgroup): the next admission
      // does not wait for this one's process to exist. launch() handles its own failures.
      void this.launch(entry, job, slot, startAt);
    }
    for (const b of [hostBlock, ...blockedSlots.values()]) {
      if (!b?.held.length) continue;
      // When no run could start (a full job count), that is the reason of all; it does not
      // change as the runs at the head come and go, so the rows are written once.
      const name = jobCache.get(b.run.job_id)?.name ?? `job #${b.run.job_id}`;
      await this.o.jobs.history.setWaitReason(b.held, b.anyRun ? b.reason : `waits its turn behind run #${b.run.id} (${name}), which does not fit: ${b.reason}`);
    }
    await this.persistSlots();
  }

  /**
   * Why this node does not run the job (null: it does): pinned to another node, or needing labels
   * this node lacks. Another node may take it; `key` is what it needs, the same on every node.
   */
  private notHere(job: JobRow): { key: string; reason: string } | null {
    if (job.pinned_node && job.pinned_node !== this.o.node) {
      const key = `pinned to node ${JSON.stringify(job.pinned_node)}`;
      return { key, reason: `${key} (this node is ${JSON.stringify(this.o.node)})` };
    }
    const selector = Object.entries(parseJson<Record<string, string>>(job.node_selector, {}));
    const labels = this.o.labels ?? {};
    if (selector.every(([k, v]) => labels[k] === v)) return null;
    const pairs = (entries: [string, string][]) => entries.map(([k, v]) => `${k}=${v}`).join(', ');
    const key = `node_selector ${pairs(selector)}`;
    const own = pairs(Object.entries(labels));
    return { key, reason: `${key} does not match this node (${JSON.stringify(this.o.node)}, ${own ? `labels ${own}` : 'no labels'})` };
  }

  /** The other nodes that are up and have this slot (their node rows). */
  private async nodesWithSlot(slot: string): Promise<string[]> {
    const nodes = await new NodesRepo(this.o.jobs.database.db).slotNames();
    return nodes.filter((n) => n.status === 'up' && n.id !== this.o.node && n.slots.includes(slot)).map((n) => n.id);
  }

  /**
   * Say on the run why it waits here, so that history, the dashboard and `run --wait` show it
   * instead of a run queued for no reason. Only over no reason or one of this kind that needs
   * something else (the job was re-pinned): with several nodes, one that can run the run says
   * why it waits there (a full slot), and the nodes that cannot must neither overwrite that nor
   * each other ("this node is a", "this node is b", … every cycle).
   */
  private async sayNotHere(run: QueuedRun, why: { key: string; reason: string }): Promise<void> {
    const current = run.wait_reason;
    if (current !== null && !(isNotHereReason(current) && !current.startsWith(`${why.key} `))) return;
    if (current === why.reason) return;
    // Compare-and-set: a node that can run it may have said why it waits there since the read.
    await this.o.jobs.database.db
      .updateTable('smart_cron_job_history')
      .set({ wait_reason: why.reason })
      .where('id', '=', run.id)
      .where('status', '=', 'queued')
      .where((eb) => (current === null ? eb('wait_reason', 'is', null) : eb('wait_reason', '=', current)))
      .execute();
  }

  private async launch(entry: Active, job: JobRow, slot: string, startAt: number): Promise<void> {
    const run = entry.run;
    // The slot rows show the reservation before the process exists.
    await this.o.lb.persist().catch(() => {});
    const held = startAt > this.o.clock.now();
    let spec: LaunchSpec;
    try {
      spec = { ...this.specFor(job, run, slot), startAt };
    } catch (e) {
      this.finish(entry, { status: 'failed', error_message: (e as Error).message, finished_at: iso(this.o.clock.now()) });
      return;
    }
    let launched: Launched;
    try {
      launched = await this.o.launcher.launch(spec);
    } catch (e) {
      this.finish(entry, { status: 'failed', error_message: `could not start: ${(e as Error).message}`, finished_at: iso(this.o.clock.now()) });
      return;
    }
    entry.launched = launched;
    // Recorded after the start is (run.started before run.finished, whatever ends first).
    let started!: () => void;
    const startHandled = new Promise<void>((r) => (started = r));
    launched.done.then((outcome) => startHandled.then(() => this.finish(entry, outcome)));
    try {
      // The pid is stored before the command is released: a restart finds the run either way.
      await this.o.jobs.history.update(run.id, { pid: launched.pid, pid_start: launched.pidStart, log_path: launched.logPath }).catch((e: Error) => this.o.log?.(`run #${run.id}: storing its pid failed: ${e.message}`));
      Object.assign(entry.run, { pid: launched.pid, log_path: launched.logPath });
      if (entry.cancelReason) launched.cancel(entry.cancelReason);
      const look = held && run.trigger !== 'manual' ? this.o.clock.setTimer(Math.max(0, startAt - LAST_LOOK_MS - this.o.clock.now()), () => void this.lastLook(entry, startAt)) : null;
      const at = launched.released ? await launched.released : this.o.clock.now();
      look?.cancel();
      if (at === null) return;
      if (held && at - startAt > 1) {
        // Prepared too late to be held (the process came after its instant): the row says when
        // the command really started.
        entry.run.started_at = iso(at);
        await this.o.jobs.history.update(run.id, { started_at: entry.run.started_at }).catch(() => {});
      }
      if (run.trigger === 'schedule' || run.trigger === 'catchup') this.o.onLateness?.(at - Date.parse(run.scheduled_for));
      this.o.bus?.emit('run.started', entry.run);
    } finally {
      started();
    }
  }

  /**
   * A scheduled run held for its instant was admitted up to the start lead ahead, when its job
   * was enabled: a person who disables (or removes) the job in between means it not to start.
   * The run is let go unstarted and recorded as skipped.
   */
  private async lastLook(entry: Active, startAt: number): Promise<void> {
    if (entry.cancelReason || !entry.launched) return;
    let job: JobRow | undefined;
    try {
      job = await this.o.jobs.jobs.byId(entry.run.job_id);
    } catch {
      return; // the database is away: the run starts as admitted
    }
    // Too late to let it go unstarted (a slow read): it starts as admitted, not killed at its start.
    if (job?.enabled || this.o.clock.now() >= startAt - 5) return;
    entry.skipReason = 'job was disabled before the run could start';
    this.cancelActive(entry.run.id, entry.skipReason);
  }

  private specFor(job: JobRow, run: RunRow, slot: string): LaunchSpec {
    const extraArgs = parseJson<string[]>(run.args, []);
    let argv: string[];
    if (job.script_path) {
      if (!this.o.scriptArgv) throw new ValidationError(`job ${job.name}: no way to run scripts configured`, 'script_path');
      argv = [...this.o.scriptArgv(job.script_path, job.script_type), ...extraArgs];
    } else {
      const cmd = jobArgv(job);
      if (!cmd || cmd.length === 0) throw new ValidationError(`job ${job.name} has no command`, 'command');
      argv = job.shell ? [extraArgs.length ? `${cmd[0]} ${extraArgs.map(shellQuote).join(' ')}` : cmd[0]!] : [...cmd, ...extraArgs];
    }
    return {
      runId: run.id,
      jobName: job.name,
      argv,
      shell: Boolean(job.shell),
      cwd: job.working_dir,
      env: {
        ...parseJson<Record<string, string>>(job.env, {}),
        ...parseJson<Record<string, string>>(run.env_extra, {}),
        SMART_CRON_JOB: job.name,
        SMART_CRON_RUN_ID: String(run.id),
      },
      runAsUser: job.run_as_user,
      timeoutMs: job.timeout_seconds * 1000,
      memoryLimitMb: job.memory_limit_mb,
      cpuPercent: null,
      slot,
      runDir: join(this.o.runsDir, String(run.id)),
    };
  }

  // ------------------------------------------------------------------ finishing

  private finish(entry: Active, outcome: RunOutcomeFields): void {
    const p = this.record(entry, outcome).finally(() => this.finishing.delete(p));
    this.finishing.add(p);
  }

  private async record(entry: Active, outcome: RunOutcomeFields): Promise<void> {
    const run = entry.run;
    if (entry.skipReason && outcome.started_at === null) {
      // Let go before its command started, as one that should not run: a skipped tick.
      outcome = { ...outcome, status: 'skipped', skip_reason: entry.skipReason, error_message: null, duration_ms: null, exit_code: null, signal: null, peak_memory_mb: null, memory_source: null, cpu_time_ms: null, cpu_percent: null };
    } else if (entry.cancelReason && outcome.status !== 'succeeded') {
      outcome = { ...outcome, status: 'interrupted', error_message: entry.cancelReason };
    }
    try {
      const job = await this.o.jobs.jobs.byId(run.job_id).catch(() => undefined);
      const retry = Boolean(job) && !entry.cancelReason && shouldRetry(job!, run, outcome.status);
      // An attempt a retry follows decides nothing yet: the tick's final outcome does (countRun).
      if (job && !retry) await this.decideCircuit(job, run.id, outcome.status);
      const res = await this.recordWithRetry(run.id, outcome, retry);
      if (res?.applied && retry) await this.queueRetry(res.run, job!);
      if (res?.applied) await this.workflow.afterRun(res.run, retry).catch((e: Error) => this.o.log?.(`dependencies of run #${run.id}: ${e.message}`));
      if (res) this.o.bus?.emit('run.finished', res.run);
    } finally {
      this.active.delete(run.id);
      this.o.lb.release(run.id);
      await this.workflow.releaseMutex(run.id).catch(() => {});
      // The cycle this kicks writes the slot rows (at the end of admit()), with whatever it starts
      // in the room this run left: one write, not two. A dispatcher that admits no more writes here.
      if (this.stopped || !this.admitting) await this.persistSlots().catch(() => {});
      this.kick();
    }
  }

  /**
   * The circuit this outcome leaves, written before the run is recorded: recordExecution hands
   * the job row to the alert rules as it is then, so they judge the run by the circuit it left
   * (a failed trial keeps the circuit_open alert; a success resolves it at once), not by the
   * half-open state of the trial. Only while the run is still unrecorded (a node that marked it
   * lost meanwhile decided it), and only over the state it was decided from (a run of the same
   * job recorded meanwhile wins). Written again on a second try, it changes nothing.
   */
  private async decideCircuit(job: JobRow, runId: number, status: RunOutcomeFields['status']): Promise<void> {
    const update = circuitForOutcome(job, status, this.o.clock.now());
    if (!update) return;
    await this.o.jobs.database.db
      .updateTable('smart_cron_integrated_jobs')
      .set(update)
      .where('id', '=', job.id)
      .where('circuit_state', '=', job.circuit_state)
      .where(({ exists, selectFrom }) => exists(selectFrom('smart_cron_job_history').select('id').where('id', '=', runId).where('status', 'in', ['queued', 'running'])))
      .execute()
      .catch((e: Error) => this.o.log?.(`run #${runId}: updating the circuit of ${job.name} failed: ${e.message}`));
  }

  /** Wakes the record retries when the daemon stops (see recordWithRetry). */
  private readonly retryWaits = new Set<() => void>();
  private giveUpRecording = false;

  private stopRetrying(): void {
    this.giveUpRecording = true;
    for (const wake of this.retryWaits) wake();
    this.retryWaits.clear();
  }

  /**
   * The result of a run is never dropped: if the database is away, keep trying. A daemon that
   * stops (without draining) stops trying: the row stays `running` with its pid, and the next
   * daemon records the run from the exit file its shim left, as for any run it adopts.
   */
  private async recordWithRetry(runId: number, outcome: RunOutcomeFields, willRetry = false) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.jobs.recordExecution(runId, outcome, { willRetry });
      } catch (e) {
        if (e instanceof NotFoundError) return null; // the job (and its history) was removed meanwhile
        if (this.giveUpRecording) {
          this.o.log?.(`recording run #${runId} failed (${(e as Error).message}); the daemon is stopping: the next one records it`);
          return null;
        }
        this.o.log?.(`recording run #${runId} failed (${(e as Error).message}); retrying`);
        await new Promise<void>((r) => {
          const done = () => {
            this.retryWaits.delete(done);
            timer.cancel();
            r();
          };
          const timer = this.o.clock.setTimer(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)), done);
          this.retryWaits.add(done);
        });
      }
    }
  }

  /** The next attempt of the same tick, after the job's backoff. */
  async queueRetry(run: RunRow, job: JobRow): Promise<RunRow | null> {
    const now = this.o.clock.now();
    const row = await this.o.jobs.history.insertOnce({
      job_id: run.job_id,
      scheduled_for: run.scheduled_for,
      attempt: run.attempt + 1,
      trigger: 'retry',
      status: 'queued',
      priority: job.priority,
      queued_at: iso(now),
      not_before: iso(now + retryDelayMs(job, run.attempt)),
      node: job.pinned_node,
      args: run.args,
      env_extra: run.env_extra,
    });
    if (row) {
      this.o.bus?.emit('run.queued', row);
      // Wake for it at its time. A stopped dispatcher sets none (it would only hold the process
      // open): the row waits in the queue for the next start, or the next daemon.
      if (!this.stopped) {
        const t = this.o.clock.setTimer(Math.max(0, Date.parse(row.not_before!) - now), () => {
          this.retryWakes.delete(t);
          this.kick();
        });
        this.retryWakes.add(t);
      }
    }
    return row;
  }

  private async skip(run: QueuedRun, reason: string): Promise<void> {
    const row = await this.o.jobs.history.skipQueued(run.id, reason, iso(this.o.clock.now()));
    if (row) this.skipped(row);
  }

  /** A queued run of this process was skipped; a retry's previous attempt is settled soon (settleRetries). */
  private skipped(row: RunRow): void {
    this.o.bus?.emit('run.finished', row);
    if (row.trigger === 'retry') this.settleSoon = true;
  }

  private async persistSlots(): Promise<void> {
    await this.o.lb.persist();
    if (this.o.bus && this.o.bus.listenerCount('slots') > 0) this.o.bus.emit('slots', await this.slots());
  }

  // ------------------------------------------------------------------ Executor

  async requestRun(req: RunRequest): Promise<RunRow> {
    const row = await queueManualRun(this.o.jobs, this.o.clock, req, {
      stopHere: (r, why) => this.cancelActive(r.id, why),
      onSkipped: (r) => this.skipped(r),
    });
    this.o.bus?.emit('run.queued', row);
    this.kick();
    return row;
  }

  async cancelRun(runId: number, reason = 'cancelled by user'): Promise<RunRow> {
    const { run, how } = await cancelRun(
      {
        history: this.o.jobs.history,
        clock: this.o.clock,
        stopHere: (r, why) => this.cancelActive(r.id, why),
        onSkipped: (r) => {
          this.skipped(r);
          this.kick();
        },
      },
      runId,
      reason,
    );
    // Another process stops it; this node's dashboards learn of the request now all the same.
    if (how === 'requested') this.o.bus?.emit('run.cancelling', run);
    return run;
  }

  /**
   * Stop a run of ours (its process group: TERM, grace, KILL); false when it is not ours. The
   * first time, the run (with the request on it) is announced as `run.cancelling`.
   */
  private cancelActive(runId: number, reason: string): boolean {
    const entry = this.active.get(runId);
    if (!entry) return false;
    if (entry.cancelReason) return true;
    entry.cancelReason = reason;
    entry.launched?.cancel(reason);
    this.o.bus?.emit('run.cancelling', { ...entry.run, cancel_requested: reason });
    return true;
  }

  /**
   * A request to stop a run of ours made elsewhere (the CLI, another node's API) is written on the
   * run (cancel.ts); while runs are active here, look every second. The timer is not re-armed once
   * nothing runs, and stop() cancels it.
   */
  private watchCancelRequests(): void {
    if (this.cancelWatch || this.stopped || this.active.size === 0) return;
    this.cancelWatch = this.o.clock.setTimer(CANCEL_WATCH_MS, () => {
      this.cancelWatch = null;
      void this.applyCancelRequests().finally(() => {
        if (this.active.size > 0) this.watchCancelRequests();
      });
    });
  }

  private async applyCancelRequests(): Promise<void> {
    if (this.active.size === 0) return;
    try {
      for (const r of await this.o.jobs.history.cancelRequests(this.o.node)) {
        if (this.active.has(r.id)) this.cancelActive(r.id, r.cancel_requested ?? 'cancelled by user');
      }
      // A run whose job was removed (with its history) meanwhile: its result has nowhere to go,
      // and the person who removed the job does not mean it to run on. Stopped, and said in the log.
      const ids = [...this.active.keys()];
      const still = new Set<number>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await this.o.jobs.database.db.selectFrom('smart_cron_job_history').select('id').where('id', 'in', ids.slice(i, i + 500)).execute();
        for (const r of rows) still.add(r.id);
      }
      for (const id of ids) {
        const entry = this.active.get(id);
        if (still.has(id) || !entry || entry.cancelReason) continue;
        this.o.log?.(`run #${id}: its job was removed; stopping it (TERM, grace, KILL)`);
        this.cancelActive(id, 'its job was removed');
      }
    } catch (e) {
      this.o.log?.(`reading cancel requests failed: ${(e as Error).message}`);
    }
  }

  async slots(): Promise<SlotUsage[]> {
    const rows = await this.queuedQuery().select('job_id').execute();
    const jobs = await this.o.jobs.jobs.byIds(rows.map((r) => r.job_id));
    const bySlot = new Map<string, number>();
    for (const r of rows) {
      const j = jobs.get(r.job_id);
      if (j) bySlot.set(chooseSlot(j), (bySlot.get(chooseSlot(j)) ?? 0) + 1);
    }
    return this.o.lb.snapshot(bySlot);
  }

  async queued(): Promise<RunRow[]> {
    return (await this.ordered(await this.queuedQuery().selectAll().execute())).runs;
  }

  /** Take over a run found running after a restart (its reservation is held again). */
  adoptActive(run: RunRow, job: JobRow, launched: Launched): void {
    const entry: Active = { run, launched };
    this.active.set(run.id, entry);
    this.o.lb.acquire({ runId: run.id, slot: run.slot ?? chooseSlot(job), reservation: { memoryMb: run.reservation_mb ?? 0, cpuPercent: run.reservation_cpu ?? 0 }, usedMb: () => launched.usedMb() });
    launched.done.then((outcome) => this.finish(entry, outcome));
    // Asked to stop before the last daemon could (or while none ran).
    if (run.cancel_requested) this.cancelActive(run.id, run.cancel_requested);
    this.watchCancelRequests();
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
