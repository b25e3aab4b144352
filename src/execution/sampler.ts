/**
 * One timer for all running runs. A timer per run would wake the daemon N times per
 * interval; one tick reads every run's usage together and then sleeps. The timer only
 * exists while something is registered, so an idle daemon does not wake at all.
 */
import { systemClock, type Clock, type TimerHandle } from '../clock.js';

export interface SampleTarget {
  /** Read usage, enforce sampled limits, follow output. Must not throw (errors are the target's). */
  sample(now: number): void;
}

export interface SamplerOptions {
  /** <= 100 ms (config execution.sample_interval_ms). */
  intervalMs: number;
  clock?: Clock;
}

export class Sampler {
  readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly targets = new Set<SampleTarget>();
  private timer: TimerHandle | null = null;
  /** Total ticks run (for tests and the benchmark). */
  ticks = 0;

  constructor(opts: SamplerOptions) {
    this.intervalMs = Math.max(10, Math.min(100, opts.intervalMs));
    this.clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.targets.size;
  }

  add(t: SampleTarget): void {
    this.targets.add(t);
    this.arm();
  }

  remove(t: SampleTarget): void {
    this.targets.delete(t);
    if (this.targets.size === 0) this.stop();
  }

  /** Run one tick now (the runner calls it at start and finish for a fresh reading). */
  tick(): void {
    const now = this.clock.now();
    this.ticks++;
    for (const t of [...this.targets]) {
      try {
        t.sample(now);
      } catch {
        // One broken target (a vanished /proc entry mid-read) must not stop the others.
      }
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(): void {
    if (this.timer || this.targets.size === 0) return;
    this.timer = this.clock.setTimer(this.intervalMs, () => {
      this.timer = null;
      this.tick();
      this.arm();
    });
  }
}
