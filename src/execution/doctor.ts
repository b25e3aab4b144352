/**
 * What this host offers for enforcement, for `smart-cron doctor` and the daemon's start-up
 * log: cgroup v2 delegation, cgroup v1 controllers, PSI, smaps_rollup, and which backend
 * `auto` picks. Read-only: probing creates nothing.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../storage/schema.js';
import { probeHost } from './enforcement/detect.js';
import { perlAvailable } from './spawn-helper.js';
import type { BackendName } from './enforcement/types.js';
import { readHostMemory, readMemoryPressure, smapsRollupReadable, type HostMemory } from './procfs.js';

export { readHostMemory, readMemoryPressure };
export type { HostMemory };

export interface EnforcementReport {
  root: boolean;
  cgroup2: {
    available: boolean;
    mount: string | null;
    path: string | null;
    delegated: boolean;
    controllers: string[];
    memoryPeak: boolean;
    cgroupKill: boolean;
    reason: string;
  };
  cgroup1: {
    available: boolean;
    /** controller -> where our hierarchy would go, and whether we may write there. */
    controllers: Record<string, { mount: string; base: string | null; writable: boolean; note: string }>;
    reason: string;
  };
  psi: boolean;
  memoryPressureAvg10: number | null;
  smapsRollup: boolean;
  hostMemory: HostMemory | null;
  auto: BackendName;
  /** Runs are forked by the spawn helper (Perl found), not by the daemon itself. */
  spawnHelper: boolean;
  /** Human lines, in the order doctor prints them. */
  lines: string[];
}

export function enforcementReport(): EnforcementReport {
  const probe = probeHost();
  const psiValue = readMemoryPressure();
  const smaps = smapsRollupReadable();
  let hostMemory: HostMemory | null = null;
  try {
    hostMemory = readHostMemory();
  } catch {
    /* no /proc/meminfo */
  }
  const v2 = probe.cgroup2;
  const v1 = probe.cgroup1;
  const controllers: EnforcementReport['cgroup1']['controllers'] = {};
  for (const [c, info] of Object.entries(v1.controllers)) if (info) controllers[c] = info;
  const lines: string[] = [];
  lines.push(`cgroup v2: ${v2.ok ? 'available' : 'not usable'} — ${v2.reason}`);
  if (v2.ok) lines.push(`  memory.peak ${v2.hasPeak ? 'yes' : 'no (peak sampled)'}, cgroup.kill ${v2.hasKill ? 'yes' : 'no (freeze and kill)'}`);
  const names = Object.keys(controllers);
  lines.push(
    `cgroup v1: ${v1.ok ? 'available' : 'not usable'} — ${names.length ? names.map((c) => `${c} ${controllers[c]!.writable ? 'writable' : 'read-only'}`).join(', ') : 'no controllers mounted'}`,
  );
  for (const c of names) lines.push(`  ${c}: ${controllers[c]!.mount} (${controllers[c]!.note})`);
  lines.push(`PSI memory pressure: ${psiValue === null ? 'not available (no /proc/pressure/memory; the PSI veto is off)' : `available (some avg10 ${psiValue})`}`);
  lines.push(`smaps_rollup: ${smaps ? 'readable (portable sampling uses PSS)' : 'not readable (portable sampling uses RSS)'}`);
  if (hostMemory) lines.push(`host memory: ${hostMemory.memAvailableMb} MB available of ${hostMemory.memTotalMb} MB`);
  lines.push(`execution.enforcement auto -> ${probe.auto}`);
  const helper = perlAvailable();
  lines.push(
    helper
      ? 'spawn helper: perl — each run is forked by a small helper process, not by the daemon'
      : 'spawn helper: not available (no perl with POSIX) — the daemon forks each run itself, which costs more per run',
  );
  return {
    root: process.getuid?.() === 0,
    cgroup2: {
      available: v2.ok,
      mount: v2.mount,
      path: v2.ownDir,
      delegated: v2.delegated,
      controllers: v2.controllers,
      memoryPeak: v2.hasPeak,
      cgroupKill: v2.hasKill,
      reason: v2.reason,
    },
    cgroup1: { available: v1.ok, controllers, reason: v1.reason },
    psi: psiValue !== null,
    memoryPressureAvg10: psiValue,
    smapsRollup: smaps,
    hostMemory,
    auto: probe.auto,
    spawnHelper: helper,
    lines,
  };
}

/**
 * Enabled jobs whose slot config.yaml no longer has (removed after jobs were put in it): every
 * run of theirs is refused admission. For doctor and the daemon's start-up log alike; `auto`
 * picks light, default or heavy, which always exist.
 */
export async function jobsInMissingSlots(db: Kysely<DB>, slots: Record<string, unknown>): Promise<string[]> {
  const jobs = await db.selectFrom('smart_cron_integrated_jobs').select(['name', 'slot']).where('enabled', '=', 1).orderBy('name').execute();
  const bySlot = new Map<string, string[]>();
  for (const j of jobs) if (j.slot !== 'auto' && !(j.slot in slots)) bySlot.set(j.slot, [...(bySlot.get(j.slot) ?? []), j.name]);
  return [...bySlot.entries()].map(
    ([slot, names]) =>
      `slot "${slot}" is not in config.yaml, but enabled job${names.length === 1 ? '' : 's'} ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} ${names.length === 1 ? 'is' : 'are'} in it: ${names.length === 1 ? 'its' : 'their'} runs cannot start (add the slot under slots: again, or move the jobs: smart-cron jobs set NAME slot=auto)`,
  );
}
