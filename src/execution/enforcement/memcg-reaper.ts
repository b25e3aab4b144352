/**
 * Removing a run's memory cgroup without leaving it "dying".
 *
 * The kernel keeps a removed memory cgroup for as long as page cache is still charged to it:
 * the run's log and exit file (kept until the run is pruned), whatever files it read first. With
 * memory to spare nothing reclaims that page cache, so every run would leave one behind, each
 * ~15 kB of kernel memory on a 2-CPU VM (more with more CPUs: per-CPU counters) that
 * MemAvailable no longer counts. At a run a minute for a few dozen jobs that is hundreds of MB a
 * day, seen as used memory and by our own admission's host check, until memory runs short.
 *
 * So a run's memory cgroup is emptied first (reclaim what is charged to it: cgroup v1
 * `memory.force_empty`, cgroup v2 `memory.reclaim`, Linux 5.19+), then removed. Reclaiming dirty
 * pages waits for their writeback (~100 ms a cgroup on this VM) while clean ones cost ~0.75 ms,
 * so each cgroup waits until the kernel has written its pages back (reapDelayMs: 40 s with the
 * kernel's defaults), and the work runs on libuv's pool. On cgroup v2 the whole run cgroup waits
 * (memory and cpu share one directory there).
 * Measured in docs/benchmarks.md ("Dying memory cgroups are not what slows dispatch").
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgReadNumber, cgRmdir, cgRmdirSoon } from './cgroupfs.js';

/** How to empty a memory cgroup: the file to write, and what (null: nothing to reclaim). */
export interface MemcgEmptier {
  file: string;
  amount(dir: string): string | null;
}

/** cgroup v1: `memory.force_empty` reclaims all it can. EBUSY while a task is still in it. */
export const FORCE_EMPTY: MemcgEmptier = { file: 'memory.force_empty', amount: () => '0' };

/**
 * cgroup v2: `memory.reclaim` takes an amount; asking for all that is charged reclaims what can
 * be (EAGAIN when less could). A kernel before 5.19 has no such file: the cgroup is then removed
 * as it is.
 */
export const RECLAIM: MemcgEmptier = {
  file: 'memory.reclaim',
  amount: (dir) => {
    const n = cgReadNumber(path.join(dir, 'memory.current'));
    return n ? String(n) : null;
  },
};

/**
 * How long until the kernel has written a run's dirty pages back: vm.dirty_expire_centisecs (an
 * age; 30 s by default) + vm.dirty_writeback_centisecs (how often the flusher looks; 5 s), and 5 s
 * of margin; 40 s with the defaults, or when they cannot be read. Kept within 10 s .. 10 min;
 * pages still dirty then (periodic writeback turned off, say) make the emptying wait for them.
 */
export function reapDelayMs(vmDir = '/proc/sys/vm'): number {
  const centisecs = (name: string, dflt: number) => {
    try {
      const n = Number(fs.readFileSync(path.join(vmDir, name), 'utf8').trim());
      return Number.isFinite(n) && n >= 0 ? n : dflt;
    } catch {
      return dflt;
    }
  };
  const ms = (centisecs('dirty_expire_centisecs', 3000) + centisecs('dirty_writeback_centisecs', 500)) * 10 + 5000;
  return Math.min(600_000, Math.max(10_000, ms));
}

export class MemcgReaper {
  /** dir -> when to empty it (ms since the epoch); insertion order is due order. */
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private exitHook = false;

  constructor(
    private readonly delayMs = reapDelayMs(),
    private readonly emptier: MemcgEmptier = FORCE_EMPTY,
  ) {}

  /** Empty and remove this (now unused) memory cgroup directory once its page cache is clean. */
  add(dir: string): void {
    if (this.delayMs <= 0) return this.empty(dir, 3);
    this.pending.delete(dir);
    this.pending.set(dir, Date.now() + this.delayMs);
    this.arm();
    if (!this.exitHook) {
      // A process that ends first (a test, a bench, a CLI) removes what still waits, unemptied,
      // rather than leaving empty cgroups behind.
      this.exitHook = true;
      process.once('exit', () => this.flush());
    }
  }

  /**
   * Remove at once, unemptied, the ones waiting (under these directories when given: a daemon
   * stopping, whose slots go too). Emptying now would wait for writeback; they may stay dying.
   */
  flush(under?: readonly string[]): void {
    for (const dir of [...this.pending.keys()]) {
      if (under && !under.some((u) => dir.startsWith(`${u}/`))) continue;
      this.pending.delete(dir);
      cgRmdir(dir, 1);
    }
    if (this.pending.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private arm(): void {
    if (this.timer) return;
    const first = this.pending.values().next();
    if (first.done) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, first.value - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    const now = Date.now();
    for (const [dir, due] of this.pending) {
      if (due > now) break;
      this.pending.delete(dir);
      this.empty(dir, 3);
    }
    this.arm();
  }

  private empty(dir: string, attempts: number): void {
    const amount = this.emptier.amount(dir);
    if (amount === null) return cgRmdirSoon(dir);
    fs.writeFile(path.join(dir, this.emptier.file), amount, (e) => {
      // EBUSY: a task is still in it (its last one being torn down); try again in a moment.
      if (e?.code === 'EBUSY' && attempts > 1) setTimeout(() => this.empty(dir, attempts - 1), 1000).unref();
      else cgRmdirSoon(dir); // also when gone (ENOENT), or not all could be reclaimed (EAGAIN)
    });
  }
}
