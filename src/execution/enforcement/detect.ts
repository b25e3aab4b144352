/**
 * Choosing the enforcement backend once, at start-up. `auto` takes the strongest the host
 * offers (a delegated cgroup v2 subtree, else writable cgroup v1 memory, else portable); an
 * explicit choice the host cannot honour is a configuration error, not a silent downgrade.
 */
import { ConfigError } from '../../errors.js';
import { readHostCgroups } from './cgroupfs.js';
import { Cgroup1Backend, probeCgroup1, type V1Probe } from './cgroup1.js';
import { Cgroup2Backend, probeCgroup2, type V2Probe } from './cgroup2.js';
import { PortableBackend } from './portable.js';
import type { BackendName, EnforcementBackend } from './types.js';

export type EnforcementPreference = 'auto' | BackendName;

export interface BackendOptions {
  /** Name of our directory in each cgroup hierarchy (tests use a unique one). */
  groupName?: string;
  /** cgroup v1 and v2: how long a run's memory cgroup waits before it is emptied and removed (memcg-reaper.ts). */
  reapDelayMs?: number;
}

export interface HostProbe {
  cgroup2: V2Probe;
  cgroup1: V1Probe;
  auto: BackendName;
}

export function probeHost(): HostProbe {
  const host = readHostCgroups();
  const cgroup2 = probeCgroup2(host);
  const cgroup1 = probeCgroup1(host);
  return { cgroup2, cgroup1, auto: cgroup2.ok ? 'cgroup2' : cgroup1.ok ? 'cgroup1' : 'portable' };
}

/**
 * What every cgroup directory of ours is named after (default `smart-cron`). SMART_CRON_CGROUP_PREFIX
 * changes it: the test runner (scripts/test.mjs) gives its test processes one of their own, so
 * that it can remove what the daemons it started leave behind (empty cgroups by the thousand slow
 * the kernel's cgroup v1 accounting) without touching a real daemon's.
 */
export function cgroupPrefix(): string {
  const p = process.env.SMART_CRON_CGROUP_PREFIX;
  if (p === undefined || p === '') return 'smart-cron';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(p)) {
    throw new ConfigError(`SMART_CRON_CGROUP_PREFIX: "${p}" is not a cgroup name (expected letters, digits, _ . -; at most 64)`, 'SMART_CRON_CGROUP_PREFIX');
  }
  return p;
}

export function createBackend(name: BackendName, opts: BackendOptions = {}, probe: HostProbe = probeHost()): EnforcementBackend {
  const group = opts.groupName ?? cgroupPrefix();
  switch (name) {
    case 'cgroup2':
      return new Cgroup2Backend(probe.cgroup2, group, { reapDelayMs: opts.reapDelayMs });
    case 'cgroup1':
      return new Cgroup1Backend(probe.cgroup1, group, { reapDelayMs: opts.reapDelayMs });
    case 'portable':
      return new PortableBackend();
  }
}

export function detectBackend(preference: EnforcementPreference = 'auto', opts: BackendOptions = {}): EnforcementBackend {
  const probe = probeHost();
  if (preference !== 'auto') {
    try {
      return createBackend(preference, opts, probe);
    } catch (e) {
      throw new ConfigError(
        `execution.enforcement is '${preference}' but this host cannot provide it: ${(e as Error).message}`,
        'execution.enforcement',
      );
    }
  }
  // auto: a backend whose probe passed can still fail to set up (e.g. v2 with foreign processes).
  const order: BackendName[] = [probe.auto, ...(['cgroup2', 'cgroup1', 'portable'] as const)];
  let last: unknown;
  for (const name of [...new Set(order)]) {
    if (name === 'cgroup2' && !probe.cgroup2.ok) continue;
    if (name === 'cgroup1' && !probe.cgroup1.ok) continue;
    try {
      return createBackend(name, opts, probe);
    } catch (e) {
      last = e;
    }
  }
  throw last instanceof Error ? last : new Error('no enforcement backend available');
}
