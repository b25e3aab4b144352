/**
 * cgroup v2 with a delegated subtree (systemd Delegate=yes, a container's own namespace, or
 * root). Layout: <ours>/<group>/<slot>/<runId>; the slot directory carries the slot budget
 * (memory.max, cpu.max), the run leaf the job's limit with memory.oom.group=1 so an OOM ends
 * the run as a whole. Exact peak from memory.peak (Linux 5.19+), OOM kills from memory.events,
 * everything killed at once with cgroup.kill (5.14+; else freeze and kill).
 *
 * v2 forbids processes in a cgroup whose controllers are delegated further ("no internal
 * processes"), so when our own cgroup holds only the daemon we move the daemon into a leaf
 * "<ours>/daemon" first; if other processes share our cgroup we refuse (they are not ours to move).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuCount, ProcFile } from '../procfs.js';
import { MemcgReaper, RECLAIM } from './memcg-reaper.js';
import {
  applyPlan,
  procsFile,
  cgMkdir,
  cgPids,
  cgRead,
  cgReadNumber,
  cgWrite,
  isWritable,
  ownDirIn,
  finishedRunDirs,
  readHostCgroups,
  removeSlotTree,
  signalPids,
  type HostCgroups,
} from './cgroupfs.js';
import type {
  BackendCapabilities,
  ConfinePlan,
  ConfineRequest,
  Confinement,
  EnforcementBackend,
  FinalUsage,
  SavedConfinement,
  SlotLimits,
  UsageSample,
} from './types.js';

const PERIOD_US = 100_000;

export interface V2Probe {
  ok: boolean;
  reason: string;
  mount: string | null;
  ownDir: string | null;
  controllers: string[];
  delegated: boolean;
  hasPeak: boolean;
  hasKill: boolean;
}

function controllersOf(dir: string): string[] {
  try {
    return cgRead(path.join(dir, 'cgroup.controllers')).trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

export function probeCgroup2(host: HostCgroups = readHostCgroups()): V2Probe {
  const none = { mount: null, ownDir: null, controllers: [], delegated: false, hasPeak: false, hasKill: false };
  const mount = host.mounts.find((m) => m.version === 2);
  if (!mount) return { ok: false, reason: 'no cgroup2 file system mounted', ...none };
  if (host.self.v2 === null) return { ok: false, reason: 'this process has no cgroup v2 path', ...none, mount: mount.mountPoint };
  const ownDir = ownDirIn(mount, host.self.v2);
  if (!ownDir) return { ok: false, reason: `our cgroup ${host.self.v2} is outside the mount at ${mount.mountPoint}`, ...none, mount: mount.mountPoint };
  const controllers = controllersOf(ownDir);
  const delegated = isWritable(ownDir) && isWritable(path.join(ownDir, 'cgroup.subtree_control'));
  const hasPeak = fs.existsSync(path.join(ownDir, 'memory.peak')) || ownDir === mount.mountPoint;
  const hasKill = fs.existsSync(path.join(ownDir, 'cgroup.kill')) || ownDir === mount.mountPoint;
  const base = { mount: mount.mountPoint, ownDir, controllers, delegated, hasPeak, hasKill };
  if (!controllers.includes('memory')) {
    return { ok: false, reason: `cgroup2 at ${mount.mountPoint} offers no memory controller to ${host.self.v2} (bound to cgroup v1, or not delegated)`, ...base };
  }
  if (!delegated) return { ok: false, reason: `cgroup2 subtree ${ownDir} is not writable by us (not delegated)`, ...base };
  return { ok: true, reason: `cgroup2 subtree ${ownDir} delegated with ${controllers.join(' ')}`, ...base };
}

/** cpu.max for a share of the host's CPUs; `max` for 100 % or more (see pctToQuota in cgroup1.ts). */
function pctToMax(pct: number): string {
  if (pct >= 100) return `max ${PERIOD_US}`;
  return `${Math.max(1000, Math.round((PERIOD_US * cpuCount() * pct) / 100))} ${PERIOD_US}`;
}

/** Turn on controllers for the children of dir (only those dir itself has). */
function enableSubtree(dir: string, wanted: string[]): void {
  const have = controllersOf(dir);
  const add = wanted.filter((c) => have.includes(c));
  if (add.length) cgWrite(path.join(dir, 'cgroup.subtree_control'), add.map((c) => `+${c}`).join(' '));
}

export class Cgroup2Confinement implements Confinement {
  readonly sampledLimitBytes = null;
  private readonly dir: string;
  private readonly current: ProcFile;
  private readonly cpuStat: ProcFile;
  private readonly events: ProcFile;
  /** Kernels without memory.peak (before 5.19): the highest memory.current seen while the run lived. */
  private sampledPeak: number | null = null;

  constructor(
    readonly saved: SavedConfinement,
    /** Empties the run's cgroup (its memory) before removing it (memcg-reaper.ts). */
    private readonly reaper: MemcgReaper = sharedReaper(),
  ) {
    this.dir = saved.paths[0]!;
    this.current = new ProcFile(path.join(this.dir, 'memory.current'));
    this.cpuStat = new ProcFile(path.join(this.dir, 'cpu.stat'));
    this.events = new ProcFile(path.join(this.dir, 'memory.events'));
  }

  get placeFiles(): string[] {
    return [procsFile(this.dir)];
  }

  attach(pid: number, placed = false): void {
    if (!placed) cgWrite(procsFile(this.dir), pid);
  }

  /** CPU time and the OOM counter every 5th tick (and at the end); memory every tick. */
  sample(_now?: number, full = false): UsageSample {
    const mem = Number(this.current.read() ?? 0);
    // The closing samples (full) come after the run's exit: what is left then is page cache, not
    // the run's use, so a run that ended before any sample has no peak ("not measured"), not 0 MB.
    if (!full && (this.sampledPeak === null || mem > this.sampledPeak)) this.sampledPeak = mem;
    if (full || this.ticks++ % 5 === 0) {
      const usec = /^usage_usec (\d+)/m.exec(this.cpuStat.read() ?? '');
      const oom = /^oom_kill (\d+)/m.exec(this.events.read() ?? '');
      this.last = { cpuTimeMs: usec ? Number(usec[1]) / 1000 : null, oomKills: oom ? Number(oom[1]) : 0 };
    }
    return { memoryBytes: mem, ...this.last };
  }
  private ticks = 0;
  private last: { cpuTimeMs: number | null; oomKills: number } = { cpuTimeMs: null, oomKills: 0 };

  private pids(): number[] {
    return cgPids(path.join(this.dir, 'cgroup.procs'));
  }

  hasTasks(): boolean {
    return this.pids().length > 0;
  }

  signalAll(sig: NodeJS.Signals): void {
    signalPids(this.pids(), sig);
  }

  killAll(): void {
    const kill = path.join(this.dir, 'cgroup.kill');
    if (fs.existsSync(kill)) {
      try {
        cgWrite(kill, 1);
        return;
      } catch {
        /* fall through to the freeze-and-kill path */
      }
    }
    const freeze = path.join(this.dir, 'cgroup.freeze');
    try {
      cgWrite(freeze, 1);
      signalPids(this.pids(), 'SIGKILL');
    } catch {
      signalPids(this.pids(), 'SIGKILL');
    } finally {
      try {
        cgWrite(freeze, 0);
      } catch {
        /* gone */
      }
    }
  }

  finish(): FinalUsage {
    const s = this.sample(0, true);
    const peak = cgReadNumber(path.join(this.dir, 'memory.peak'));
    return {
      peakBytes: peak ?? this.sampledPeak,
      source: peak !== null ? 'cgroup' : 'sampled',
      cpuTimeMs: s.cpuTimeMs,
      oomKills: s.oomKills,
    };
  }

  release(): void {
    this.current.close();
    this.cpuStat.close();
    this.events.close();
    this.reaper.add(this.dir);
  }
}

let shared: MemcgReaper | null = null;
/** For confinements found again without a cgroup2 backend of ours (reattach.ts). */
function sharedReaper(): MemcgReaper {
  return (shared ??= new MemcgReaper(undefined, RECLAIM));
}

export class Cgroup2Backend implements EnforcementBackend {
  readonly name = 'cgroup2' as const;
  readonly capabilities: BackendCapabilities;
  private readonly root: string;
  private readonly slotCpu = new Map<string, string>();
  private readonly reaper: MemcgReaper;

  constructor(
    readonly probe: V2Probe = probeCgroup2(),
    readonly groupName = 'smart-cron',
    opts: { reapDelayMs?: number } = {},
  ) {
    this.reaper = new MemcgReaper(opts.reapDelayMs, RECLAIM);
    if (!probe.ok || !probe.ownDir) throw new Error(`cgroup2 backend unavailable: ${probe.reason}`);
    const own = probe.ownDir;
    const wanted = ['memory', 'cpu'];
    const isRoot = own === probe.mount;
    if (!isRoot && !wanted.every((c) => !probe.controllers.includes(c) || subtreeHas(own, c))) {
      const procs = cgPids(path.join(own, 'cgroup.procs'));
      if (procs.some((p) => p !== process.pid)) {
        throw new Error(
          `cgroup2: cannot enable controllers in ${own}: it also holds processes other than the daemon (${procs.join(', ')}); give smart-cron a cgroup of its own (systemd Delegate=yes)`,
        );
      }
      if (procs.length) {
        cgMkdir(path.join(own, 'daemon'));
        cgWrite(path.join(own, 'daemon', 'cgroup.procs'), process.pid);
      }
      enableSubtree(own, wanted);
    }
    this.root = path.join(own, groupName);
    cgMkdir(this.root);
    enableSubtree(this.root, wanted);
    this.capabilities = {
      memoryLimit: 'kernel',
      exactPeak: probe.hasPeak,
      cpuQuota: controllersOf(this.root).includes('cpu'),
      oomCounter: true,
      slotLimits: true,
      killsEscapees: true,
    };
  }

  describe(): string {
    return `cgroup2: per-run cgroups under ${this.root}; kernel memory limit with oom.group, ${this.capabilities.exactPeak ? 'exact peak (memory.peak)' : 'sampled peak (no memory.peak)'}, OOM counter${this.capabilities.cpuQuota ? ', CPU quota' : ''}`;
  }

  private slotDir(slot: string): string {
    const dir = path.join(this.root, slot);
    if (!fs.existsSync(dir)) {
      cgMkdir(dir);
      enableSubtree(dir, ['memory', 'cpu']);
    }
    return dir;
  }

  configureSlots(slots: Record<string, SlotLimits>): void {
    for (const [slot, lim] of Object.entries(slots)) {
      const dir = this.slotDir(slot);
      cgWrite(path.join(dir, 'memory.max'), Math.round(lim.max_memory_mb * 1024 * 1024));
      if (this.capabilities.cpuQuota) {
        const max = pctToMax(lim.max_cpu_percent);
        cgWrite(path.join(dir, 'cpu.max'), max);
        this.slotCpu.set(slot, max);
      }
    }
  }

  prepare(req: ConfineRequest): Confinement {
    const plan = this.plan(req);
    applyPlan(plan);
    return new Cgroup2Confinement(plan.saved, this.reaper);
  }

  plan(req: ConfineRequest): ConfinePlan {
    const dir = path.join(this.slotDir(req.slot), req.runId);
    const limit = req.memoryLimitMb ? Math.round(req.memoryLimitMb * 1024 * 1024) : null;
    const writes: [string, string][] = [];
    if (limit !== null) writes.push([path.join(dir, 'memory.max'), String(limit)]);
    writes.push([path.join(dir, 'memory.oom.group'), '1']);
    if (req.cpuPercent && this.capabilities.cpuQuota) writes.push([path.join(dir, 'cpu.max'), pctToMax(req.cpuPercent)]);
    return { mkdirs: [dir], writes, placeFiles: [procsFile(dir)], saved: { backend: 'cgroup2', paths: [dir], memoryLimitBytes: limit } };
  }

  reattach(saved: SavedConfinement): Confinement {
    return new Cgroup2Confinement(saved, this.reaper);
  }

  /** After a crash: empty and remove the cgroups of runs that are over (a live one is adopted). */
  sweep(): void {
    for (const dir of finishedRunDirs(this.root)) this.reaper.add(dir);
  }

  dispose(): void {
    // Ours, and those of runs found again without us (collectFinishedRun) under our directory.
    for (const r of [this.reaper, shared]) r?.flush([this.root]);
    removeSlotTree(this.root);
  }
}

function subtreeHas(dir: string, c: string): boolean {
  try {
    return cgRead(path.join(dir, 'cgroup.subtree_control')).split(/\s+/).includes(c);
  } catch {
    return false;
  }
}

