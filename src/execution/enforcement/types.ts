/**
 * The one interface every enforcement backend (cgroup2, cgroup1, portable) implements.
 * The runner owns the process (spawn, signals to the process group, exit); a backend owns
 * what holds the process: limits, measurement, and killing whatever escaped the group.
 */
export type BackendName = 'cgroup2' | 'cgroup1' | 'portable';

export interface BackendCapabilities {
  /** 'kernel': the kernel stops the run at its limit (OOM kill); 'sampled': we kill on a sampled value. */
  memoryLimit: 'kernel' | 'sampled';
  /** Peak memory comes from a kernel counter, not from samples. */
  exactPeak: boolean;
  cpuQuota: boolean;
  /** OOM kills are counted by the kernel for this run alone. */
  oomCounter: boolean;
  /** Slot budgets are enforced by the kernel for all the slot's runs together. */
  slotLimits: boolean;
  /** Processes that left the process group (setsid) are still found and killed. */
  killsEscapees: boolean;
}

export interface SlotLimits {
  max_memory_mb: number;
  /** Percent of the whole machine (100 = all CPUs). */
  max_cpu_percent: number;
}

export interface ConfineRequest {
  runId: string;
  slot: string;
  memoryLimitMb?: number | undefined;
  /** Percent of the whole machine. */
  cpuPercent?: number | undefined;
}

export interface UsageSample {
  memoryBytes: number;
  /** CPU time of the run so far, or null when the backend cannot tell. */
  cpuTimeMs: number | null;
  /** OOM kills the kernel counted for this run. */
  oomKills: number;
}

export interface FinalUsage {
  peakBytes: number | null;
  source: 'cgroup' | 'sampled';
  cpuTimeMs: number | null;
  oomKills: number;
}

/** What run.json keeps so a restarted daemon can find the confinement again. */
export interface SavedConfinement {
  backend: BackendName;
  /** cgroup directories (one per v1 hierarchy, or one v2 directory). */
  paths: string[];
  memoryLimitBytes: number | null;
}

export interface Confinement {
  readonly saved: SavedConfinement;
  /** Limit the runner enforces from samples (portable), else null: the kernel enforces. */
  readonly sampledLimitBytes: number | null;
  /**
   * Files a new process's pid is written into to place it (cgroup.procs; none for portable). A
   * spawner that forks for us (the spawn helper) writes them itself, before the shim may start.
   */
  readonly placeFiles: readonly string[];
  /**
   * Put the shim (not started yet) in; throws with a clear message on failure. placed: the
   * placeFiles were written already; only the rest (tracking, oom_score_adj) is done.
   */
  attach(pid: number, placed?: boolean): void;
  /** full: read every counter now (the runner's last sample), not only the cheap ones. */
  sample(now: number, full?: boolean): UsageSample;
  /** Whether the backend knows of any process of the run still alive (beyond the process group). */
  hasTasks(): boolean;
  /** Signal every task of the run the backend can see (the runner also signals the process group). */
  signalAll(signal: NodeJS.Signals): void;
  /** Kill everything, race-free where the kernel allows (cgroup.kill, freezer). */
  killAll(): void;
  /** Final numbers; call after the run's processes are gone, before release. */
  finish(): FinalUsage;
  /** Remove what was created (cgroup directories). Never throws. */
  release(): void;
}

/**
 * The kernel objects a run's confinement consists of, as data: directories to create and
 * control files to write, in order. prepare() applies it here; the spawn helper applies it in
 * its own process (spawn-helper.ts), so the daemon's thread does no cgroup work per run.
 */
export interface ConfinePlan {
  mkdirs: string[];
  writes: [file: string, value: string][];
  /** Where the pid goes (cgroup.procs), as Confinement.placeFiles. */
  placeFiles: string[];
  saved: SavedConfinement;
}

export interface EnforcementBackend {
  readonly name: BackendName;
  readonly capabilities: BackendCapabilities;
  /** One line for doctor and the daemon's start-up log. */
  describe(): string;
  /** Apply slot budgets (creates the per-slot parent cgroups); portable ignores it. */
  configureSlots(slots: Record<string, SlotLimits>): void;
  /** Create the run's confinement before spawn. Throws with a clear message on failure. */
  prepare(req: ConfineRequest): Confinement;
  /** What prepare() would create, for someone else to create (cgroup backends only). */
  plan?(req: ConfineRequest): ConfinePlan;
  /** Find a running run's confinement again after a daemon restart. */
  reattach(saved: SavedConfinement, pid: number): Confinement;
  /**
   * Remove the cgroups of runs that are over, left by a daemon that was killed (after recovery
   * has adopted or recorded its runs, before any run starts); cgroup backends only.
   */
  sweep?(): void;
  /** Remove the backend's own (empty) directories; for tests and shutdown. */
  dispose(): void;
}
