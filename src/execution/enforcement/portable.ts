/**
 * Enforcement without cgroups: the run's process group (plus every descendant we have seen,
 * even one that moved to another group), oom_score_adj 1000 so the kernel's OOM killer
 * picks the job before the editor the user cares about, and /proc sampling at the shared
 * sampler's interval with a kill on the memory limit.
 *
 * Cost matters (100 runs x 10 ticks/s): each watched process keeps its /proc files
 * open and re-reads them with pread. PSS (smaps_rollup) makes the kernel walk the page
 * tables — ~0.1 ms even for `sleep` — so it is read only for processes above 16 MB, at most
 * every 2 s or when RSS moved, and in between PSS is estimated from the RSS change. Before a
 * kill on the limit, PSS is re-read for real. Memory comes from statm every tick, CPU from stat
 * every 5th; children lists are re-read only when the kernel handed out new pids. Orphans
 * reparented away from the tree are found by a scan of /proc every 10 s shared by all runs
 * (the process-group signal reaches them anyway).
 */
import fs from 'node:fs';
import { lastPid, listPids, readPssBytes, readStat, smapsRollupReadable, WatchedProcess } from '../procfs.js';
import type {
  BackendCapabilities,
  ConfineRequest,
  Confinement,
  EnforcementBackend,
  FinalUsage,
  SavedConfinement,
  UsageSample,
} from './types.js';

const SMALL_BYTES = 16 * 1024 * 1024;
const PSS_MAX_AGE_MS = 2000;
const SCAN_EVERY_MS = 10_000;
/** CPU time and state come from stat every this many ticks; memory (statm) every tick. */
const STAT_EVERY = 5;

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

export class ProcessGroupTracker {
  readonly members = new Map<number, WatchedProcess>();
  /** null until a sample has seen a live process: a run too short to sample has no peak, not 0 MB. */
  peakBytes: number | null = null;
  cpuMaxMs = 0;
  lastBytes = 0;
  private started = false;
  private ticks = 0;
  private walkedAt = -2;

  constructor(
    readonly pgid: number,
    private readonly usePss: boolean,
    private readonly scanner: GroupScanner,
  ) {}

  /** Walk known members and their children; drop the dead. */
  refresh(now: number, forcePss = false, fullStat = forcePss): number {
    if (!this.started) {
      this.started = true;
      this.members.set(this.pgid, new WatchedProcess(this.pgid));
    }
    for (const pid of this.scanner.orphansOf(this.pgid, now)) {
      if (this.members.has(pid)) continue;
      // The scan result may be seconds old: the pid may have been reused since.
      const st = readStat(pid);
      if (st && st.pgrp === this.pgid) this.members.set(pid, new WatchedProcess(pid));
    }
    fullStat = fullStat || this.ticks++ % STAT_EVERY === 0;
    const last = this.scanner.lastPid(now);
    const walk = last !== this.walkedAt || last < 0;
    this.walkedAt = last;
    let bytes = 0;
    let cpu = 0;
    let seen = 0;
    const queue = [...this.members.values()];
    for (let i = 0; i < queue.length; i++) {
      const w = queue[i]!;
      let rss: number | null;
      if (fullStat || w.fresh) {
        const st = w.readStat();
        rss = !st || st.state === 'Z' || st.state === 'X' ? null : st.rssBytes;
        if (st) w.cpuMs = st.cpuMs + st.childCpuMs;
      } else rss = w.readRss();
      if (rss === null) {
        w.close();
        this.members.delete(w.pid);
        continue;
      }
      if (walk || w.fresh) {
        for (const c of w.readChildren()) {
          if (!this.members.has(c)) {
            const nw = new WatchedProcess(c);
            this.members.set(c, nw);
            queue.push(nw);
          }
        }
      }
      w.fresh = false;
      seen++;
      cpu += w.cpuMs;
      bytes += this.memoryOf(w, rss, now, forcePss);
    }
    this.lastBytes = bytes;
    if (seen > 0 && (this.peakBytes === null || bytes > this.peakBytes)) this.peakBytes = bytes;
    if (cpu > this.cpuMaxMs) this.cpuMaxMs = cpu;
    return bytes;
  }

  private memoryOf(w: WatchedProcess, rss: number, now: number, force: boolean): number {
    if (!this.usePss || (rss < SMALL_BYTES && !force)) return rss;
    const stale =
      w.pssBytes === null ||
      now - w.pssReadAt > PSS_MAX_AGE_MS ||
      Math.abs(rss - w.rssAtPss) > Math.max(8 * 1024 * 1024, w.rssAtPss * 0.1);
    if (force || stale) {
      const pss = readPssBytes(w.pid);
      if (pss === null) return rss;
      w.pssBytes = pss;
      w.rssAtPss = rss;
      w.pssReadAt = now;
      return pss;
    }
    return Math.min(rss, Math.max(0, w.pssBytes! + (rss - w.rssAtPss)));
  }

  signalAll(sig: NodeJS.Signals): void {
    kill(-this.pgid, sig);
    for (const pid of this.members.keys()) kill(pid, sig);
  }

  close(): void {
    for (const w of this.members.values()) w.close();
    this.members.clear();
  }
}

/**
 * What all runs share: the rate-limited full /proc scan for group members the tree walk cannot
 * see (a double fork whose middle process died between two ticks), and the last-pid probe.
 */
export class GroupScanner {
  private lastScan = -Infinity;
  private byGroup = new Map<number, number[]>();
  private readonly groups = new Map<number, Map<number, unknown>>();
  private pidAt = -Infinity;
  private pid = -1;

  register(pgid: number, members: Map<number, unknown>): void {
    this.groups.set(pgid, members);
  }
  unregister(pgid: number): void {
    this.groups.delete(pgid);
  }

  lastPid(now: number): number {
    if (now !== this.pidAt) {
      this.pidAt = now;
      this.pid = lastPid();
    }
    return this.pid;
  }

  orphansOf(pgid: number, now: number, force = false): number[] {
    if (force || now - this.lastScan >= SCAN_EVERY_MS) this.scan(now);
    return this.byGroup.get(pgid) ?? [];
  }

  private scan(now: number): void {
    this.lastScan = now;
    this.byGroup = new Map();
    if (this.groups.size === 0) return;
    const known = new Set<number>();
    for (const m of this.groups.values()) for (const pid of m.keys()) known.add(pid);
    for (const pid of listPids()) {
      if (known.has(pid)) continue;
      const st = readStat(pid);
      if (!st || !this.groups.has(st.pgrp) || st.state === 'Z') continue;
      const list = this.byGroup.get(st.pgrp) ?? [];
      list.push(pid);
      this.byGroup.set(st.pgrp, list);
    }
  }
}

class PortableConfinement implements Confinement {
  readonly sampledLimitBytes: number | null;
  private tracker: ProcessGroupTracker | null = null;

  constructor(
    readonly saved: SavedConfinement,
    private readonly backend: PortableBackend,
  ) {
    this.sampledLimitBytes = saved.memoryLimitBytes;
  }

  readonly placeFiles: readonly string[] = [];

  attach(pid: number): void {
    this.tracker = new ProcessGroupTracker(pid, this.backend.usePss, this.backend.scanner);
    this.backend.scanner.register(pid, this.tracker.members);
    try {
      // Inherited by everything the shim starts: the job dies first when the host runs out.
      fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
    } catch {
      /* best effort: a hardened /proc may refuse; the sampled limit still applies */
    }
  }

  sample(now: number): UsageSample {
    const t = this.tracker!;
    let bytes = t.refresh(now);
    if (this.sampledLimitBytes !== null && bytes > this.sampledLimitBytes && this.backend.usePss) {
      // Estimated PSS may be stale: confirm with real readings before anyone is killed.
      bytes = t.refresh(now, true);
    }
    return { memoryBytes: bytes, cpuTimeMs: t.cpuMaxMs, oomKills: 0 };
  }

  hasTasks(): boolean {
    const t = this.tracker;
    if (!t) return false;
    this.backend.scanner.orphansOf(t.pgid, Date.now(), true);
    t.refresh(Date.now(), false, true);
    return t.members.size > 0;
  }

  signalAll(sig: NodeJS.Signals): void {
    this.tracker?.signalAll(sig);
  }

  killAll(): void {
    this.tracker?.signalAll('SIGKILL');
  }

  finish(): FinalUsage {
    const t = this.tracker;
    return { peakBytes: t ? t.peakBytes : null, source: 'sampled', cpuTimeMs: t ? t.cpuMaxMs : null, oomKills: 0 };
  }

  release(): void {
    if (this.tracker) {
      this.backend.scanner.unregister(this.tracker.pgid);
      this.tracker.close();
    }
  }
}

export class PortableBackend implements EnforcementBackend {
  readonly name = 'portable' as const;
  readonly capabilities: BackendCapabilities = {
    memoryLimit: 'sampled',
    exactPeak: false,
    cpuQuota: false,
    oomCounter: false,
    slotLimits: false,
    killsEscapees: false,
  };
  readonly scanner = new GroupScanner();
  readonly usePss: boolean;

  constructor(opts: { usePss?: boolean } = {}) {
    this.usePss = opts.usePss ?? smapsRollupReadable();
  }

  describe(): string {
    return `portable: process group, oom_score_adj 1000, /proc sampling (${this.usePss ? 'PSS from smaps_rollup' : 'RSS'}), kill on limit; no CPU quota`;
  }

  configureSlots(): void {
    /* nothing to create: slot budgets are the load balancer's reservations */
  }

  prepare(req: ConfineRequest): Confinement {
    const limit = req.memoryLimitMb ? Math.round(req.memoryLimitMb * 1024 * 1024) : null;
    return new PortableConfinement({ backend: 'portable', paths: [], memoryLimitBytes: limit }, this);
  }

  reattach(saved: SavedConfinement, pid: number): Confinement {
    const c = new PortableConfinement({ ...saved, backend: 'portable', paths: [] }, this);
    c.attach(pid);
    return c;
  }

  dispose(): void {
    /* nothing created */
  }
}
