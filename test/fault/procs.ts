/** /proc helpers for the fault suite. */
import { readdirSync, readFileSync } from 'node:fs';

/** Live processes whose environment holds marker (root reads every /proc/PID/environ); zombies excluded. */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!readFileSync(`/proc/${p}/environ`, 'latin1').includes(marker)) continue;
      if (/\) Z /.test(readFileSync(`/proc/${p}/stat`, 'latin1'))) continue;
      out.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
