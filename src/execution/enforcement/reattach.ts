/**
 * Finding a run's confinement again after a restart, even when the daemon now uses another
 * backend than the one that started the run (config changed, or v2 delegation went away):
 * the saved cgroup paths are enough to measure, kill and remove it.
 */
import path from 'node:path';
import { Cgroup1Confinement } from './cgroup1.js';
import { readHostCgroups } from './cgroupfs.js';
import { Cgroup2Confinement } from './cgroup2.js';
import { PortableBackend } from './portable.js';
import type { Confinement, EnforcementBackend, SavedConfinement } from './types.js';

let fallbackPortable: PortableBackend | null = null;

/**
 * run.json sits in a directory a job may have written to; a daemon running as root must not
 * kill or remove an arbitrary cgroup because a file says so. A run's cgroup is a leaf named
 * after the run, inside a cgroup file system.
 */
export function checkSavedPaths(saved: SavedConfinement, runId: string): void {
  const mounts = readHostCgroups().mounts.map((m) => m.mountPoint + '/');
  for (const p of saved.paths) {
    const norm = path.resolve(p);
    if (norm !== p || path.basename(p) !== runId || !mounts.some((m) => p.startsWith(m))) {
      throw new Error(`run.json names cgroup ${p}, which is not this run's cgroup`);
    }
  }
}

export function reattachConfinement(saved: SavedConfinement, pid: number, current: EnforcementBackend | null, runId?: string): Confinement {
  if (runId !== undefined && saved.backend !== 'portable') checkSavedPaths(saved, runId);
  if (current && current.name === saved.backend) return current.reattach(saved, pid);
  switch (saved.backend) {
    case 'cgroup1':
      return new Cgroup1Confinement(saved);
    case 'cgroup2':
      return new Cgroup2Confinement(saved);
    default:
      return (fallbackPortable ??= new PortableBackend()).reattach(saved, pid);
  }
}
