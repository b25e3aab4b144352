/**
 * Finding a run's confinement again after a restart, even when the daemon now uses another
 * backend than the one that started the run (config changed, or v2 delegation went away):
 * the saved cgroup paths are enough to measure, kill and remove it.
 */
import { Cgroup1Confinement } from './cgroup1.js';
import { Cgroup2Confinement } from './cgroup2.js';
import { PortableBackend } from './portable.js';
import type { Confinement, EnforcementBackend, SavedConfinement } from './types.js';

let fallbackPortable: PortableBackend | null = null;

export function reattachConfinement(saved: SavedConfinement, pid: number, current: EnforcementBackend | null): Confinement {
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
