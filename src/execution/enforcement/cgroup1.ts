/**
 * cgroup v1: one directory per run in each hierarchy we use, under <base>/<group>/<slot>/.
 * memory (required): limit_in_bytes, max_usage_in_bytes = exact peak, oom_control's oom_kill
 * counter. cpu (optional): CFS quota. cpuacct (optional): exact CPU time. freezer (optional):
 * freeze, kill every task, thaw — nothing can fork away while we kill.
 * <base> is the hierarchy's root when we may write there, else our own cgroup (a container or a
 * service that was given its sub-tree).
 *
 * v1 has no memory.oom.group: the kernel kills one process at the limit and leaves the rest
 * running in a state nobody designed for, so on the first OOM kill we kill the whole run
 * ourselves; every backend ends a run at its memory limit as a whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuCount, ProcFile } from '../procfs.js';
import {
  applyPlan,
  procsFile,
  cgMkdir,
  cgPids,
  cgReadNumber,
  cgRmdirSoon,
  cgWrite,
  isWritable,
  ownDirIn,
  finishedRunDirs,
  readHostCgroups,
  removeSlotTree,
  signalPids,
  type HostCgroups,
} from './cgroupfs.js';
import { MemcgReaper } from './memcg-reaper.js';
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

export type V1Controller = 'memory' | 'cpu' | 'cpuacct' | 'freezer';
const WANTED: V1Controller[] = ['memory', 'cpu', 'cpuacct', 'freezer'];
const PERIOD_US = 100_000;

export interface V1Probe {
  ok: boolean;
  reason: string;
  /** Per controller: the directory our hierarchy goes under, or why not. */
  controllers: Partial<Record<V1Controller, { base: string | null; mount: string; writable: boolean; note: string }>>;
}

export function probeCgroup1(host: HostCgroups = readHostCgroups()): V1Probe {
  const controllers: V1Probe['controllers'] = {};
  for (const c of WANTED) {
    const mount = host.mounts.find((m) => m.version === 1 && m.controllers.includes(c));
    if (!mount) continue;
    const own = host.self.v1.get(c);
    const rootDir = mount.mountPoint;
    const ownDir = own !== undefined ? ownDirIn(mount, own) : null;
    if (isWritable(rootDir)) controllers[c] = { base: rootDir, mount: rootDir, writable: true, note: 'hierarchy root writable' };
    else if (ownDir && isWritable(ownDir)) controllers[c] = { base: ownDir, mount: rootDir, writable: true, note: `under our own cgroup ${own}` };
    else controllers[c] = { base: null, mount: rootDir, writable: false, note: 'not writable' };
  }
  const mem = controllers.memory;
  if (!mem) return { ok: false, reason: 'no cgroup v1 memory hierarchy mounted', controllers };
  if (!mem.writable) return { ok: false, reason: `cgroup v1 memory hierarchy at ${mem.mount} is not writable`, controllers };
  return { ok: true, reason: 'cgroup v1 memory hierarchy writable', controllers };
}

/**
 * cpu.cfs_quota_us for a share of the host's CPUs; -1 (no quota) for 100 % or more: such a quota
 * could never bind, and CFS bandwidth accounting would still run for every run in the group. (On
 * start lateness, 20 starts at one instant, the difference stayed within this VM's noise.)
 */
function pctToQuota(pct: number): number {
  if (pct >= 100) return -1;
  return Math.max(1000, Math.round((PERIOD_US * cpuCount() * pct) / 100));
}

export class Cgroup1Confinement implements Confinement {
  readonly sampledLimitBytes = null;
  private readonly mem: string;
  private readonly acct: string | null;
  private readonly freezer: string | null;
  private readonly usageFile: ProcFile;
  private readonly cpuFile: ProcFile | null;
  private readonly oomFile: ProcFile;
  private sawUnderOom = false;

  constructor(
    readonly saved: SavedConfinement,
    /** Empties the run's memory cgroup before removing it (memcg-reaper.ts). */
    private readonly reaper: MemcgReaper = sharedReaper(),
  ) {
    const find = (file: string): string | null => saved.paths.find((p) => fs.existsSync(path.join(p, file))) ?? null;
    this.mem = find('memory.limit_in_bytes') ?? saved.paths[0]!;
    this.acct = find('cpuacct.usage');
    this.freezer = find('freezer.state');
    this.usageFile = new ProcFile(path.join(this.mem, 'memory.usage_in_bytes'));
    this.cpuFile = this.acct ? new ProcFile(path.join(this.acct, 'cpuacct.usage')) : null;
    this.oomFile = new ProcFile(path.join(this.mem, 'memory.oom_control'));
  }

  get placeFiles(): string[] {
    return this.saved.paths.map(procsFile);
  }

  attach(pid: number, placed = false): void {
    if (!placed) for (const f of this.placeFiles) cgWrite(f, pid);
  }

  private oomKills(text: string | null): number {
    if (!text) return 0;
    const m = /^oom_kill (\d+)/m.exec(text);
    if (/^under_oom 1/m.test(text)) this.sawUnderOom = true;
    // Kernels before 4.13 have no oom_kill counter; having been under OOM is the best they say.
    return m ? Number(m[1]) : this.sawUnderOom ? 1 : 0;
  }

  /** CPU time and the OOM counter every 5th tick (and at the end); memory every tick. */
  sample(_now?: number, full = false): UsageSample {
    const mem = Number(this.usageFile.read() ?? 0);
    if (full || this.ticks++ % 5 === 0) {
      const cpuNs = this.cpuFile ? Number(this.cpuFile.read() ?? NaN) : NaN;
      this.last = { cpuTimeMs: Number.isFinite(cpuNs) ? cpuNs / 1e6 : null, oomKills: this.oomKills(this.oomFile.read()) };
    }
    return { memoryBytes: mem, ...this.last };
  }
  private ticks = 0;
  private last: { cpuTimeMs: number | null; oomKills: number } = { cpuTimeMs: null, oomKills: 0 };

  private pids(): number[] {
    const seen = new Set<number>();
    for (const dir of this.saved.paths) for (const p of cgPids(path.join(dir, 'cgroup.procs'))) seen.add(p);
    return [...seen];
  }

  hasTasks(): boolean {
    return this.pids().length > 0;
  }

  signalAll(sig: NodeJS.Signals): void {
    signalPids(this.pids(), sig);
  }

  killAll(): void {
    const state = this.freezer ? path.join(this.freezer, 'freezer.state') : null;
    try {
      if (state) {
        cgWrite(state, 'FROZEN');
        for (let i = 0; i < 50 && fs.readFileSync(state, 'utf8').trim() !== 'FROZEN'; i++) sleepMs(2);
      }
      for (let i = 0; i < 20; i++) {
        const pids = this.pids();
        if (pids.length === 0) break;
        signalPids(pids, 'SIGKILL');
        if (state) break; // frozen: nothing could fork meanwhile
        sleepMs(5);
      }
    } catch {
      // Freezing failed (freezer gone?): plain repeated kills still end it.
      signalPids(this.pids(), 'SIGKILL');
    } finally {
      if (state) {
        try {
          cgWrite(state, 'THAWED'); // SIGKILL is delivered only once the tasks run again
        } catch {
          /* cgroup already removed */
        }
      }
    }
  }

  finish(): FinalUsage {
    const s = this.sample(0, true);
    return {
      peakBytes: cgReadNumber(path.join(this.mem, 'memory.max_usage_in_bytes')),
      source: 'cgroup',
      cpuTimeMs: s.cpuTimeMs,
      oomKills: s.oomKills,
    };
  }

  release(): void {
    this.usageFile.close();
    this.cpuFile?.close();
    this.oomFile.close();
    for (const dir of this.saved.paths) {
      if (dir === this.mem) this.reaper.add(dir);
      else cgRmdirSoon(dir);
    }
  }
}

let shared: MemcgReaper | null = null;
/** For confinements found again without a cgroup1 backend of ours (reattach.ts). */
function sharedReaper(): MemcgReaper {
  return (shared ??= new MemcgReaper());
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class Cgroup1Backend implements EnforcementBackend {
  readonly name = 'cgroup1' as const;
  readonly capabilities: BackendCapabilities;
  /** controller -> <base>/<group>, one entry per controller (co-mounted ones share a directory). */
  private readonly roots = new Map<V1Controller, string>();
  private readonly slotQuota = new Map<string, number>();

  private readonly reaper: MemcgReaper;

  constructor(
    readonly probe: V1Probe = probeCgroup1(),
    readonly groupName = 'smart-cron',
    opts: { reapDelayMs?: number } = {},
  ) {
    this.reaper = new MemcgReaper(opts.reapDelayMs);
    if (!probe.ok) throw new Error(`cgroup1 backend unavailable: ${probe.reason}`);
    for (const c of WANTED) {
      const info = probe.controllers[c];
      if (info?.base) this.roots.set(c, path.join(info.base, groupName));
    }
    this.capabilities = {
      memoryLimit: 'kernel',
      exactPeak: true,
      cpuQuota: this.roots.has('cpu'),
      oomCounter: true,
      slotLimits: true,
      killsEscapees: true,
    };
    for (const dir of this.dirs()) cgMkdir(dir);
  }

  /** Distinct hierarchy directories (co-mounted controllers appear once). */
  private dirs(): string[] {
    return [...new Set(this.roots.values())];
  }

  describe(): string {
    const parts = [...this.roots.entries()].map(([c, d]) => `${c}=${d}`);
    return `cgroup1: per-run cgroups (${parts.join(', ')}); kernel memory limit, exact peak, OOM counter${this.capabilities.cpuQuota ? ', CPU quota' : ''}`;
  }

  configureSlots(slots: Record<string, SlotLimits>): void {
    for (const [slot, lim] of Object.entries(slots)) {
      for (const dir of this.dirs()) cgMkdir(path.join(dir, slot));
      const mem = this.roots.get('memory')!;
      cgWrite(path.join(mem, slot, 'memory.limit_in_bytes'), Math.round(lim.max_memory_mb * 1024 * 1024));
      const cpu = this.roots.get('cpu');
      if (cpu) {
        const q = pctToQuota(lim.max_cpu_percent);
        cgWrite(path.join(cpu, slot, 'cpu.cfs_period_us'), PERIOD_US);
        cgWrite(path.join(cpu, slot, 'cpu.cfs_quota_us'), q);
        this.slotQuota.set(slot, q);
      }
    }
  }

  prepare(req: ConfineRequest): Confinement {
    const plan = this.plan(req);
    applyPlan(plan);
    return new Cgroup1Confinement(plan.saved, this.reaper);
  }

  plan(req: ConfineRequest): ConfinePlan {
    const mkdirs = this.dirs().map((dir) => path.join(dir, req.slot, req.runId));
    const writes: [string, string][] = [];
    const mem = path.join(this.roots.get('memory')!, req.slot, req.runId);
    const limit = req.memoryLimitMb ? Math.round(req.memoryLimitMb * 1024 * 1024) : null;
    if (limit !== null) writes.push([path.join(mem, 'memory.limit_in_bytes'), String(limit)]);
    const cpu = this.roots.get('cpu');
    if (cpu && req.cpuPercent) {
      const slotQ = this.slotQuota.get(req.slot);
      // v1 refuses a child quota above its parent's (-1: none).
      const unbound = (n: number | undefined) => (n === undefined || n < 0 ? Infinity : n);
      const q = Math.min(unbound(pctToQuota(req.cpuPercent)), unbound(slotQ));
      const dir = path.join(cpu, req.slot, req.runId);
      if (q !== Infinity) writes.push([path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US)], [path.join(dir, 'cpu.cfs_quota_us'), String(q)]);
    }
    return { mkdirs, writes, placeFiles: mkdirs.map(procsFile), saved: { backend: 'cgroup1', paths: mkdirs, memoryLimitBytes: limit } };
  }

  reattach(saved: SavedConfinement): Confinement {
    return new Cgroup1Confinement(saved, this.reaper);
  }

  sweep(): void {
    const mem = this.roots.get('memory')!;
    for (const root of this.dirs()) {
      for (const dir of finishedRunDirs(root)) {
        if (root === mem) this.reaper.add(dir);
        else cgRmdirSoon(dir);
      }
    }
  }

  dispose(): void {
    // Ours, and those of runs found again without us (collectFinishedRun) under our directories.
    for (const r of [this.reaper, shared]) r?.flush(this.dirs());
    for (const dir of this.dirs()) removeSlotTree(dir);
  }
}
