/**
 * The execution engine as one unit: enforcement backend, sampler, runner, load balancer and
 * dispatcher, built from an App. The daemon runs one; `smart-cron run` without a daemon
 * builds a one-shot engine that admits only its own run.
 */
import { createHash } from 'node:crypto';
import type { SlotBudget } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { Dispatcher, type DispatcherOptions } from '../execution/dispatcher.js';
import { cgroupPrefix, detectBackend } from '../execution/enforcement/detect.js';
import type { EnforcementBackend } from '../execution/enforcement/types.js';
import { LoadBalancer, type HostProbe } from '../execution/load-balancer.js';
import { ProcessLauncher } from '../execution/process-launcher.js';
import { readHostMemory, readMemoryPressure } from '../execution/procfs.js';
import { argvForScript, runnerOptionsFromConfig } from '../execution/runner.js';
import { Sampler } from '../execution/sampler.js';
import { SpawnHelper } from '../execution/spawn-helper.js';
import type { ScriptType } from '../execution/shim.js';
import type { App } from './app.js';

export interface Engine {
  backend: EnforcementBackend;
  sampler: Sampler;
  launcher: ProcessLauncher;
  lb: LoadBalancer;
  dispatcher: Dispatcher;
  /** Let go of everything without touching running processes (they are adopted next time). */
  release(): void;
}

/**
 * The kernel's per-slot memory limit is a safety net above the admission budget, not the budget
 * itself: reservations fill the budget while processes also carry their runtime's overhead, and
 * a limit at exactly the budget would OOM-kill jobs that admission rightly let in.
 */
export function kernelSlotLimits(slots: Record<string, SlotBudget>): Record<string, SlotBudget> {
  const out: Record<string, SlotBudget> = {};
  for (const [name, s] of Object.entries(slots)) {
    out[name] = { ...s, max_memory_mb: Math.round(s.max_memory_mb * 1.25 + 64) };
  }
  return out;
}

export const hostProbe: HostProbe = {
  memAvailableMb: () => readHostMemory().memAvailableMb,
  memTotalMb: () => readHostMemory().memTotalMb,
  memoryPressure: () => readMemoryPressure(),
};

export function buildEngine(
  app: App,
  o: {
    bus?: EventBus;
    host?: HostProbe;
    log?: (m: string) => void;
    /** How long a finished run's memory cgroup waits to be emptied; default: the kernel's writeback timing (memcg-reaper.ts). */
    reapDelayMs?: number;
  } & Pick<DispatcherOptions, 'canPlan' | 'runFilter' | 'onLateness' | 'onSkipped'>,
): Engine {
  const { config, clock, jobs } = app;
  // One cgroup subtree per home and node, so two daemons (or test suites) on one host never
  // share a run's cgroup or overwrite each other's slot limits.
  const tag = createHash('sha256').update(`${config.home}|${config.database}|${config.nodeId}`).digest('hex').slice(0, 8);
  const backend = detectBackend(config.execution.enforcement, { groupName: `${cgroupPrefix()}-${tag}`, reapDelayMs: o.reapDelayMs });
  backend.configureSlots(kernelSlotLimits(config.slots));
  const sampler = new Sampler({ intervalMs: config.execution.sample_interval_ms });
  // Shims are forked by a small helper process when Perl is here (spawn-helper.ts), else by us.
  const spawner = SpawnHelper.create();
  const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig(config.execution, sampler, clock, spawner));
  const lb = new LoadBalancer({
    node: config.nodeId,
    slots: config.slots,
    reserveMb: config.reserveMb,
    psiVeto: config.host.psi_veto,
    host: o.host ?? hostProbe,
    clock,
    database: app.database,
  });
  const dispatcher = new Dispatcher({
    node: config.nodeId,
    jobs,
    lb,
    launcher,
    clock,
    bus: o.bus,
    runsDir: config.runsDir,
    startLeadMs: config.execution.start_lead_ms,
    labels: config.node.labels,
    scriptArgv: (p, t) => argvForScript(p, t as ScriptType | null),
    canPlan: o.canPlan,
    runFilter: o.runFilter,
    onLateness: o.onLateness,
    onSkipped: o.onSkipped,
    log: o.log,
  });
  return {
    backend,
    sampler,
    launcher,
    lb,
    dispatcher,
    release() {
      launcher.abandonAll();
      sampler.stop();
      spawner?.dispose();
    },
  };
}
