/**
 * The Runner: spawn one run, hold it to its limits, measure it, report how it ended.
 * No database, no scheduling: the Dispatcher calls this and records what it returns.
 *
 * API (for the Dispatcher)
 *
 *   const backend = detectBackend(cfg.execution.enforcement);      // once, at start-up
 *   backend.configureSlots(cfg.slots);                              // per-slot kernel budgets
 *   const sampler = new Sampler({ intervalMs: cfg.execution.sample_interval_ms });
 *   const opts = runnerOptionsFromConfig(cfg.execution, sampler);
 *
 *   const h = startRun(spec, backend, opts);       // never throws; returns at once
 *   // store h.pid, h.pidStart, h.runDir, h.logPath in the history row (status running)
 *   h.currentUsage();                              // { memoryMb, cpuPercent } from the last tick
 *   h.cancel('user request');                      // TERM group, grace, KILL group, cgroup kill
 *   const o: RunOutcome = await h.done;            // never rejects; its fields fill the history row
 *
 *   // after a daemon restart, for each history row still 'running' on this node:
 *   const h2 = adoptRun({ runId, pid, pidStart, runDir }, backend, opts);
 *   const o2 = h2 ? await h2.done : await collectFinishedRun({ runId, pid, pidStart, runDir }, opts);
 *
 *   h.abandon();   // graceful daemon stop that leaves the job running for the next daemon to adopt
 *
 * RunSpec.argv runs without a shell (argv[0] looked up in PATH); shell: true runs argv[0] as
 * one /bin/sh -c line (further argv become $1...). Every run sits under the shim (shim.ts);
 * its output goes to runDir/output.log (output.ts). cpuPercent, in a spec and in results, is
 * a percent of the whole machine (100 = all CPUs), like the slots' max_cpu_percent.
 * Time: timeouts, the kill grace and durations use opts.clock; with a VirtualClock, a run
 * that times out or leaves children behind needs the clock advanced to finish.
 * Status: our own kill decides first (timeout, memory_limit, interrupted), then the kernel's
 * OOM counter (oom_killed), then the exit status (succeeded when 0, else failed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { BackendName, Confinement, EnforcementBackend } from './enforcement/types.js';
import { reattachConfinement } from './enforcement/reattach.js';
import { OutputFollower, type OutputResult } from './output.js';
import { cpuCount, fdPosition, isSameProcess, processGroupMembers, startToken, tokenPrefix, WatchedProcess } from './procfs.js';
import type { Sampler, SampleTarget } from './sampler.js';
import { HelperSpawnError, type SpawnHelper } from './spawn-helper.js';
import {
  baseOutcome,
  buildOutcome,
  lookupUser,
  preflight,
  readExitFile,
  readUnstarted,
  readRunFile,
  round1,
  safeId,
  shimArgs,
  type AdoptRecord,
  type RunFile,
  type RunOutcome,
} from './shim.js';
export { argvForScript, buildOutcome, collectFinishedRun } from './shim.js';
export type { AdoptRecord, RunOutcome, RunStatusFinal } from './shim.js';

export interface RunSpec {
  runId: string | number;
  jobName: string;
  argv: string[];
  shell?: boolean;
  cwd?: string;
  /** Merged on top of the daemon's environment; SMART_CRON_JOB and SMART_CRON_RUN_ID are added. */
  env?: Record<string, string>;
  runAsUser?: string | null;
  /** 0 = no timeout. */
  timeoutMs: number;
  memoryLimitMb?: number | null;
  cpuPercent?: number | null;
  slot: string;
  /** Created if missing: <home>/runs/<runId> (see runDirFor). */
  runDir: string;
  /**
   * When to start the command (ms since the epoch). A later instant holds the run: its process
   * is spawned and confined now, and the shim sleeps until the instant before it execs the
   * command, so prepared runs start on time however busy the daemon is then. Default: at once.
   */
  startAt?: number;
}

export interface RunnerOptions {
  sampler: Sampler;
  killGraceMs: number;
  outputTailBytes: number;
  logMaxBytes: number;
  clock?: Clock;
  /** The environment runs inherit; default process.env. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Fork shims through this helper (spawn-helper.ts) instead of forking this process. */
  spawner?: SpawnHelper | null;
}

export interface RunUsage {
  memoryMb: number;
  cpuPercent: number;
}

export interface RunHandle {
  readonly runId: string;
  /** The shim's pid (= process group id); null when nothing was spawned. */
  readonly pid: number | null;
  readonly pidStart: string | null;
  readonly startedAt: number;
  readonly runDir: string;
  readonly logPath: string;
  readonly backend: BackendName;
  readonly done: Promise<RunOutcome>;
  /** When the command was released to run (ms), once that instant has come; null when it never was. */
  readonly released: Promise<number | null>;
  /** Settles once pid is known (at once unless a spawn helper forks the shim) or the start failed. */
  readonly ready: Promise<void>;
  /** 'timeout' ends with status timeout; any other reason with interrupted. Idempotent. */
  cancel(reason?: string): void;
  currentUsage(): RunUsage;
  /** Stop supervising without touching the processes (shutdown for a later adoption); done never settles. */
  abandon(): void;
}

export function runDirFor(home: string, runId: string | number): string {
  return path.join(home, 'runs', String(runId));
}

export function runnerOptionsFromConfig(
  exec: { kill_grace_seconds: number; output_tail_bytes: number; log_max_bytes: number },
  sampler: Sampler,
  clock: Clock = systemClock,
  spawner: SpawnHelper | null = null,
): RunnerOptions {
  return {
    sampler,
    clock,
    spawner,
    killGraceMs: exec.kill_grace_seconds * 1000,
    outputTailBytes: exec.output_tail_bytes,
    logMaxBytes: exec.log_max_bytes,
  };
}

const MB = 1024 * 1024;

class Run implements RunHandle, SampleTarget {
  readonly runId: string;
  pid: number | null = null;
  pidStart: string | null = null;
  startedAt: number;
  readonly runDir: string;
  readonly logPath: string;
  readonly backend: BackendName;
  readonly done: Promise<RunOutcome>;
  readonly released: Promise<number | null>;
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  /** The spawn helper is forking the shim: pid not known yet. */
  private spawning = false;
  private resolve!: (o: RunOutcome) => void;
  private resolveReleased!: (at: number | null) => void;
  /** Until a held run's start instant. */
  private holdTimer: TimerHandle | null = null;
  private readonly clock: Clock;
  private follower: OutputFollower | null = null;
  private conf: Confinement | null = null;
  private timers: TimerHandle[] = [];
  private stop: { status: 'timeout' | 'memory_limit' | 'interrupted'; message: string } | null = null;
  private termAt: number | null = null;
  private killAt: number | null = null;
  private mainExit: { code: number | null; signal: string | null } | null = null;
  private mainEndedAt = 0;
  private finalizing = false;
  private abandoned = false;
  private usage: RunUsage = { memoryMb: 0, cpuPercent: 0 };
  private prevCpu: { at: number; ms: number } | null = null;
  private watched: WatchedProcess | null = null;
  timeoutMs = 0;
  memoryLimitMb: number | null = null;

  constructor(
    runId: string | number,
    runDir: string,
    backend: EnforcementBackend,
    private readonly opts: RunnerOptions,
  ) {
    this.runId = String(runId);
    this.runDir = runDir;
    this.logPath = path.join(runDir, 'output.log');
    this.backend = backend.name;
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.done = new Promise((r) => (this.resolve = r));
    this.released = new Promise((r) => (this.resolveReleased = r));
    this.ready = new Promise((r) => (this.resolveReady = r));
    // Whatever ends the run settles `released` too (null unless the command was started).
    void this.done.then(() => this.resolveReleased(null));
  }

  start(spec: RunSpec, backend: EnforcementBackend): void {
    this.timeoutMs = spec.timeoutMs;
    this.memoryLimitMb = spec.memoryLimitMb ?? null;
    // The run directory and its log are made by the spawn helper, in the request that forks the
    // shim (run_as_user runs excepted: their status directory is made here first). Measured on a
    // busy daemon, each cost this thread 0.3-0.4 ms (a new directory or file on ext4), and through
    // libuv's pool several event-loop turns (2-3 ms each): 10-15 ms of every start.
    if (this.opts.spawner && !spec.runAsUser) {
      const err = this.launch(spec, backend, null, true);
      if (err) this.failStart(err);
      else if (!this.spawning) this.resolveReady();
      return;
    }
    const created = fs.mkdirSync(this.runDir, { recursive: true }) !== undefined;
    const logFd = fs.openSync(this.logPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND, 0o640);
    try {
      if (!created) {
        // A run directory reused (a run id started again): no stale exit status may be read.
        fs.rmSync(path.join(this.runDir, 'exit'), { force: true });
        fs.rmSync(path.join(this.runDir, 'status'), { recursive: true, force: true });
      }
      this.follower = new OutputFollower(this.logPath, this.limits(), false, this.writerPos);
      const err = this.launch(spec, backend, logFd);
      if (err) this.failEarly(err, logFd);
    } finally {
      fs.closeSync(logFd);
      if (!this.spawning) this.resolveReady();
    }
  }

  /** A start through the spawn helper failed before any shim existed. */
  private failStart(message: string): void {
    this.spawning = false;
    this.failEarly(message, null);
    this.resolveReady();
  }

  private limits() {
    return { tailBytes: this.opts.outputTailBytes, logMaxBytes: this.opts.logMaxBytes };
  }

  /**
   * Returns a reason when the run could not be started. logFd: the run's log, for a shim we fork
   * ourselves (null with the spawn helper); helperMakesDir: the helper makes the run directory and
   * the log (start()), and the log is followed once it exists.
   */
  private launch(spec: RunSpec, backend: EnforcementBackend, logFd: number | null, helperMakesDir = false): string | null {
    if (!Array.isArray(spec.argv) || spec.argv.length === 0) return 'empty command: argv has no program to run';
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.baseEnv ?? process.env)) if (v !== undefined) env[k] = v;
    let ids: { uid: number; gid: number } | undefined;
    if (spec.runAsUser) {
      const u = lookupUser(spec.runAsUser);
      if (!u) return `run_as_user '${spec.runAsUser}': no such user`;
      const me = process.getuid?.() ?? -1;
      if (me !== 0 && u.uid !== me) return `run_as_user '${spec.runAsUser}' needs the daemon to run as root (it runs as uid ${me})`;
      if (me === 0) ids = { uid: u.uid, gid: u.gid };
      Object.assign(env, { HOME: u.home, USER: u.name, LOGNAME: u.name });
    }
    Object.assign(env, spec.env ?? {}, { SMART_CRON_JOB: spec.jobName, SMART_CRON_RUN_ID: this.runId });
    const argv = spec.shell ? ['/bin/sh', '-c', spec.argv[0]!, spec.jobName, ...spec.argv.slice(1)] : spec.argv;
    // As cron does: a run without a working directory starts in its user's home, the same
    // wherever it is started from (the daemon's directory is / under systemd, a one-shot
    // `smart-cron run` is wherever its shell was).
    const cwd = spec.cwd ?? env.HOME ?? os.homedir();
    const why = preflight(argv, cwd, env.PATH);
    if (why) return why;
    // A shim running as another user writes its exit file into a directory of its own: the
    // run directory stays root's, so the job cannot plant symlinks where root writes later.
    let statusDir = this.runDir;
    if (ids) {
      statusDir = path.join(this.runDir, 'status');
      fs.mkdirSync(statusDir, { mode: 0o700 });
      fs.chownSync(statusDir, ids.uid, ids.gid);
    }
    const req = {
      runId: safeId(this.runId),
      slot: safeId(spec.slot || 'default'),
      memoryLimitMb: spec.memoryLimitMb ?? undefined,
      cpuPercent: spec.cpuPercent ?? undefined,
    };
    const helper = this.opts.spawner;
    // With the spawn helper, a cgroup backend's directories and limits are made by the helper.
    const plan = helper && backend.plan ? backend.plan(req) : null;
    if (!plan) {
      try {
        this.conf = backend.prepare(req);
      } catch (e) {
        return `enforcement (${backend.name}) could not confine the run: ${(e as Error).message}`;
      }
    }
    this.startedAt = this.clock.now();
    // run.json: all but the pid, known now. A held run counts from its instant.
    const held = (spec.startAt ?? 0) - this.startedAt >= 1;
    const fields: Omit<RunFile, 'pid' | 'pidStart'> = {
      runId: this.runId,
      jobName: spec.jobName,
      argv,
      startedAt: held ? spec.startAt! : this.startedAt,
      timeoutMs: spec.timeoutMs,
      memoryLimitMb: this.memoryLimitMb,
      confinement: plan ? plan.saved : this.conf!.saved,
    };
    const shim = ['/bin/sh', ...shimArgs(statusDir, argv)];
    if (helper) {
      this.spawning = true;
      const placeFiles = plan ? plan.placeFiles : this.conf!.placeFiles;
      const confine = plan ? { mkdirs: plan.mkdirs, writes: plan.writes } : {};
      const runDir = helperMakesDir ? this.runDir : undefined;
      // The helper writes run.json too: on this thread it cost ~0.25 ms a run (a new file on ext4).
      const runFile = { path: this.runFilePath, tokenPrefix: tokenPrefix(), fields };
      helper.spawn({ cwd, logPath: this.logPath, runDir, runFile, env, argv: shim, placeFiles, ids, ...confine }, (exit) => {
        if (exit) this.onMainExit(exit);
        // The helper died: the shim lives on, orphaned; follow it by its pid, like an adopted run.
        else if (this.pid !== null && !this.mainExit) this.watched = new WatchedProcess(this.pid);
      }).then(
        (s) => {
          this.spawning = false;
          try {
            if (plan) this.conf = backend.reattach(plan.saved, s.pid);
            this.follower ??= new OutputFollower(this.logPath, this.limits(), false, this.writerPos);
            // Ready once the handshake is out: a pid the dispatcher stores then belongs to a run
            // that has been let go (or refused), so a daemon killed from then on leaves a run that
            // the next one adopts, never a shim still waiting for its "go".
            const pidStart = s.startTime === null ? null : `${tokenPrefix()}${s.startTime}`;
            this.spawned(s.pid, pidStart, spec, backend, s.failed, { placed: true, fields: null }, (text) => (text === null ? s.close() : s.go(text)));
            this.resolveReady();
          } catch (e) {
            // Here nothing above us would catch it (an unhandled rejection ends the daemon): the
            // shim is let go unstarted, and the run fails with the reason.
            this.pid ??= s.pid;
            this.stop = { status: 'interrupted', message: '' };
            this.failMessage = `supervisor error: ${(e as Error).message}`;
            s.close();
            this.resolveReady();
          }
        },
        // Nothing was forked, and the helper undid what it had made of the confinement.
        (e: Error) =>
          this.failStart(
            e instanceof HelperSpawnError && e.stage === 'confine'
              ? `enforcement (${backend.name}) could not confine the run: ${e.message}`
              : `cannot start '${argv[0]}': ${e.message}`,
          ),
      );
      return null;
    }
    let child: ChildProcess;
    try {
      child = spawn(shim[0]!, shim.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: ['pipe', logFd ?? 'ignore', logFd ?? 'ignore'],
        ...(ids ?? {}),
      });
    } catch (e) {
      return `cannot start '${argv[0]}': ${(e as Error).message}`;
    }
    if (child.pid === undefined) {
      // The 'error' event follows (EAGAIN, EPERM for setuid, ...).
      child.once('error', (e) => this.failEarly(`cannot start '${argv[0]}': ${e.message}`, null));
      return null;
    }
    child.stdin!.on('error', () => {
      /* the shim died before reading "go": its exit reports it */
    });
    child.on('exit', (code, signal) => this.onMainExit({ code, signal }));
    this.spawned(child.pid, startToken(child.pid), spec, backend, null, { placed: false, fields }, (text) => (text === null ? child.stdin!.end() : child.stdin!.end(text)));
    return null;
  }

  private get runFilePath(): string {
    return path.join(this.runDir, 'run.json');
  }

  /**
   * The shim exists: finish placing it (the spawn helper placed it in its cgroups when `placed`),
   * write run.json (`fields` and the pid; null: the helper wrote it), and send the start handshake
   * (null: close its stdin unstarted). `failed`: what the helper could not do. A failure other
   * than run.json's write throws.
   */
  private spawned(
    pid: number,
    pidStart: string | null,
    spec: RunSpec,
    backend: EnforcementBackend,
    failed: { stage: 'place' | 'runfile'; message: string } | null,
    how: { placed: boolean; fields: Omit<RunFile, 'pid' | 'pidStart'> | null },
    handshake: (text: string | null) => void,
  ): void {
    this.pid = pid;
    this.pidStart = pidStart;
    const runFile = this.runFilePath;
    // Without run.json (a full disk) the command never starts: the run fails, saying why.
    const unwritten = (why: string) => {
      this.stop = { status: 'interrupted', message: '' };
      this.failMessage = `cannot write ${runFile}: ${why}`;
      handshake(null);
    };
    let why = failed?.stage === 'place' ? failed.message : null;
    if (!why) {
      try {
        this.conf!.attach(pid, how.placed);
      } catch (e) {
        why = (e as Error).message;
      }
    }
    if (why) {
      this.stop = { status: 'interrupted', message: '' };
      handshake(null); // EOF without "go": the shim exits 125 and never runs the command
      this.failMessage = `enforcement (${backend.name}) could not place the run: ${why}`;
      return;
    }
    if (failed?.stage === 'runfile') return unwritten(failed.message);
    if (this.stop || this.abandoned) {
      // Cancelled (or the daemon let go) while the helper was forking: it never starts.
      handshake(null);
      return;
    }
    const held = (spec.startAt ?? 0) - this.clock.now() >= 1;
    // run.json is on disk before the command may start: a restarted daemon finds the run by it.
    const go = () => {
      if (this.stop) return handshake(null);
      const holdMs = held ? spec.startAt! - this.clock.now() : 0;
      // The kernel times the start (the shim sleeps, then execs), not this process's event loop.
      handshake(holdMs >= 1 ? `go ${(holdMs / 1000).toFixed(3)}\n` : 'go\n');
      // Let go of meanwhile (a daemon stopping without drain): it runs, for the next daemon to adopt.
      if (this.abandoned) return;
      if (holdMs >= 1) {
        this.startedAt = spec.startAt!;
        this.holdTimer = this.clock.setTimer(holdMs, () => this.release());
      } else {
        this.release();
      }
    };
    if (how.fields) {
      const rf: RunFile = { pid, pidStart, ...how.fields };
      try {
        fs.writeFileSync(runFile, JSON.stringify(rf, null, 1)); // (on this thread: see start())
      } catch (e) {
        return unwritten((e as Error).message);
      }
    }
    go();
  }

  /** The command runs from now (or from the instant it was held until): timers and sampling. */
  private release(): void {
    this.holdTimer = null;
    if (this.stop || this.abandoned || this.finalizing) return;
    this.begin();
    this.resolveReleased(this.startedAt);
  }

  private failMessage: string | null = null;
  private readonly writerPos = (): number | null => (this.pid === null ? null : fdPosition(this.pid, 1));

  /** Timers and sampling, for started and adopted runs alike. */
  begin(): void {
    if (this.timeoutMs > 0 && Number.isFinite(this.timeoutMs)) {
      const left = this.startedAt + this.timeoutMs - this.clock.now();
      const secs = round1(this.timeoutMs / 1000);
      this.timers.push(this.clock.setTimer(left, () => this.cancel('timeout', `timed out after ${secs} s`)));
    }
    this.opts.sampler.add(this);
  }

  adopt(rf: RunFile, conf: Confinement, pid: number, pidStart: string): void {
    this.pid = pid;
    this.pidStart = pidStart;
    this.startedAt = rf.startedAt;
    this.timeoutMs = rf.timeoutMs;
    this.memoryLimitMb = rf.memoryLimitMb;
    this.conf = conf;
    this.watched = new WatchedProcess(pid);
    this.follower = new OutputFollower(this.logPath, this.limits(), true, this.writerPos);
    this.begin();
    this.resolveReleased(this.startedAt);
  }

  /** The output as followed (none when the log was never followed: a start that failed early). */
  private outputSoFar(): OutputResult {
    return this.follower?.finish() ?? { outputTail: '', outputBytes: 0, outputTruncated: false, logPath: this.logPath };
  }

  failEarly(message: string, logFd: number | null): void {
    try {
      const line = `smart-cron: ${message}\n`;
      if (logFd !== null) fs.writeSync(logFd, line);
      else {
        // A start through the helper that failed before it made the run directory: made here.
        fs.mkdirSync(this.runDir, { recursive: true });
        fs.appendFileSync(this.logPath, line);
        this.follower ??= new OutputFollower(this.logPath, this.limits(), false);
      }
    } catch {
      /* the message is in the outcome anyway */
    }
    this.conf?.release();
    const out = this.outputSoFar();
    const now = this.clock.now();
    // The command never ran: no start time (a tick prepared ahead would otherwise keep its
    // instant, after the failure), no duration.
    this.resolve({ ...baseOutcome('failed', now, now, out, message), started: false });
    // Its outcome is known: whoever waits for the start (the launcher) goes on. A start that threw
    // (the run directory could not be made) resolved neither before, and its run stayed running.
    this.resolveReady();
  }

  cancel(reason = 'cancelled', message?: string): void {
    // Once the main process has exited, leftovers are being reaped anyway.
    if (this.stop || this.abandoned || this.finalizing || (this.pid === null && !this.spawning)) return;
    const status = reason === 'timeout' ? 'timeout' : 'interrupted';
    this.stop = { status, message: message ?? (status === 'timeout' ? 'timed out' : `cancelled: ${reason}`) };
    // Still being forked by the spawn helper: it will not be started (see spawned()).
    if (this.pid === null) return;
    // Held before its start: TERM ends the shim's sleep, and the shim exits unstarted.
    this.holdTimer?.cancel();
    this.holdTimer = null;
    this.terminate(false);
  }

  /** TERM now and KILL after the grace (or KILL now). */
  private terminate(immediate: boolean): void {
    const now = this.clock.now();
    if (!immediate && this.termAt === null) {
      this.termAt = now;
      this.signalGroup('SIGTERM');
      this.timers.push(this.clock.setTimer(this.opts.killGraceMs, () => this.terminate(true)));
      return;
    }
    if (this.killAt !== null) return;
    this.killAt = now;
    this.signalGroup('SIGKILL');
    this.conf?.killAll();
  }

  private signalGroup(sig: NodeJS.Signals): void {
    if (this.pid === null) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      /* group empty */
    }
    this.conf?.signalAll(sig);
  }

  currentUsage(): RunUsage {
    return { ...this.usage };
  }

  abandon(): void {
    this.abandoned = true;
    this.holdTimer?.cancel(); // a held run still starts at its instant, for the next daemon to adopt
    for (const t of this.timers) t.cancel();
    this.opts.sampler.remove(this);
    this.follower?.close();
    this.watched?.close();
  }

  sample(now: number): void {
    if (this.finalizing || this.abandoned || !this.conf) return;
    const u = this.conf.sample(now);
    let pct = this.usage.cpuPercent;
    if (u.cpuTimeMs !== null) {
      if (this.prevCpu && now > this.prevCpu.at) pct = ((u.cpuTimeMs - this.prevCpu.ms) / (now - this.prevCpu.at) / cpuCount()) * 100;
      this.prevCpu = { at: now, ms: u.cpuTimeMs };
    }
    this.usage = { memoryMb: round1(u.memoryBytes / MB), cpuPercent: round1(Math.max(0, pct)) };
    const limit = this.conf.sampledLimitBytes;
    if (limit !== null && u.memoryBytes > limit && !this.stop) {
      this.stop = {
        status: 'memory_limit',
        message: `memory ${round1(u.memoryBytes / MB)} MB exceeded the limit of ${round1(limit / MB)} MB (sampled); killed`,
      };
      this.terminate(true);
    } else if (u.oomKills > 0 && this.killAt === null) {
      // The kernel killed part of the run at its limit: end the rest too (v1 has no oom.group).
      this.terminate(true);
    }
    this.follower?.tick();
    if (this.watched && !this.mainExit) {
      const st = this.watched.readStat();
      if (!st || st.state === 'Z' || st.state === 'X') this.onMainExit(null);
    }
  }

  private onMainExit(exit: { code: number | null; signal: string | null } | null): void {
    if (this.finalizing || this.abandoned) return;
    this.mainExit = exit;
    this.mainEndedAt = this.clock.now();
    if (this.holdTimer) {
      // A short command held until its instant can end before our timer for that instant fires.
      this.holdTimer.cancel();
      this.holdTimer = null;
      if (!this.stop && this.mainEndedAt >= this.startedAt) this.resolveReleased(this.startedAt);
    }
    this.finalizing = true;
    void this.finalize().catch((e: unknown) => {
      // Never leave the Dispatcher waiting: report what we know.
      const out = { outputTail: '', outputBytes: 0, outputTruncated: false, logPath: this.logPath };
      this.resolve(baseOutcome('failed', this.startedAt, this.clock.now(), out, `supervisor error: ${(e as Error).message}`));
    });
  }

  private alive(): boolean {
    if (this.pid === null) return false;
    let group = false;
    try {
      process.kill(-this.pid, 0);
      group = processGroupMembers(this.pid).length > 0;
    } catch {
      group = false;
    }
    return group || (this.conf?.hasTasks() ?? false);
  }

  /** Leftovers (background children) get TERM, the grace, then KILL, like a timeout. */
  private async reapLeftovers(): Promise<void> {
    const sleep = (ms: number) => new Promise<void>((r) => this.clock.setTimer(ms, r));
    if (!this.alive()) return;
    if (this.termAt === null && this.killAt === null) this.terminate(false);
    const giveUpAt = this.clock.now() + this.opts.killGraceMs + 5000;
    while (this.alive() && this.clock.now() < giveUpAt) await sleep(25);
  }

  private async finalize(): Promise<void> {
    const conf = this.conf!;
    await this.reapLeftovers();
    for (const t of this.timers) t.cancel();
    this.opts.sampler.remove(this);
    this.watched?.close();
    const last = conf.sample(this.clock.now(), true);
    const usage = conf.finish();
    conf.release();
    const exit = readExitFile(this.runDir);
    const out = this.outputSoFar();
    const endedAt = this.mainExit ? this.mainEndedAt : (exit?.endedAt ?? this.mainEndedAt);
    this.resolve(
      buildOutcome({
        startedAt: this.startedAt,
        endedAt,
        mainExit: this.mainExit,
        exit,
        stop: this.failMessage ? null : this.stop,
        failMessage: this.failMessage,
        oomKills: Math.max(usage.oomKills, last.oomKills),
        memoryLimitMb: this.memoryLimitMb,
        usage,
        out,
        backend: this.backend,
        killedHard: this.killAt !== null,
        signalled: this.termAt !== null || this.killAt !== null,
        unstarted: exit === null && readUnstarted(this.runDir),
      }),
    );
  }
}

export function startRun(spec: RunSpec, backend: EnforcementBackend, opts: RunnerOptions): RunHandle {
  const run = new Run(spec.runId, spec.runDir, backend, opts);
  try {
    run.start(spec, backend);
  } catch (e) {
    run.failEarly(`cannot start run ${spec.runId}: ${(e as Error).message}`, null);
  }
  return run;
}


/**
 * Supervise a run started by an earlier daemon. Null when its process is gone (or the pid now
 * belongs to another process); then collectFinishedRun gives the outcome.
 */
export function adoptRun(record: AdoptRecord, backend: EnforcementBackend, opts: RunnerOptions): RunHandle | null {
  if (!isSameProcess(record.pid, record.pidStart)) return null;
  const rf = readRunFile(record.runDir) ?? fallbackRunFile(record, opts);
  let conf;
  try {
    conf = reattachConfinement(rf.confinement, record.pid, backend, safeId(record.runId));
  } catch {
    // A run.json that names someone else's cgroup: follow the process group only.
    conf = reattachConfinement({ backend: 'portable', paths: [], memoryLimitBytes: rf.confinement.memoryLimitBytes }, record.pid, null);
  }
  const run = new Run(record.runId, record.runDir, backend, opts);
  run.adopt(rf, conf, record.pid, record.pidStart);
  return run;
}

function fallbackRunFile(record: AdoptRecord, opts: RunnerOptions): RunFile {
  return {
    runId: String(record.runId),
    jobName: '',
    argv: [],
    startedAt: (opts.clock ?? systemClock).now(),
    timeoutMs: 0,
    memoryLimitMb: null,
    pid: record.pid,
    pidStart: record.pidStart,
    confinement: { backend: 'portable', paths: [], memoryLimitBytes: null },
  };
}

