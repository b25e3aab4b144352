/**
 * The daemon's periodic tasks (heartbeat and failover, missed-run checks, pruning): each runs,
 * then waits its interval again, so a slow turn never overlaps the next. stop() cancels the armed
 * turns, and a turn still running then does not arm another (it would outlive the daemon and keep
 * its process alive).
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface Background {
  every(ms: number, fn: () => Promise<unknown>): void;
  stop(): void;
}

export function background(clock: Clock, log: (m: string) => void): Background {
  /** The armed turn of each task (a turn that fires leaves the set). */
  const armed = new Set<TimerHandle>();
  let stopped = false;
  return {
    every(ms, fn) {
      const loop = () => {
        if (stopped) return;
        const t = clock.setTimer(ms, () => {
          armed.delete(t);
          fn()
            .catch((e: Error) => log(`background task failed: ${e.message}`))
            .finally(loop);
        });
        armed.add(t);
      };
      loop();
    },
    stop() {
      stopped = true;
      for (const t of armed) t.cancel();
      armed.clear();
    },
  };
}
