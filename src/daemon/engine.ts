/**
 * The execution engine as one unit: enforcement backend, sampler, runner, load balancer and
 * dispatcher, built from an App. The daemon runs one; `smart-cron run` without a daemon
 * builds a one-shot engine that admits only its own run.
 */
import type { EventBus } from '../events.js';
import { Dispatcher, type DispatcherOptions } from '../execution/dispatcher.js';
import { detectBackend } from '../execution/enforcement/detect.js';
import type { EnforcementBackend } from '../execution/enforcement/types.js';
import { LoadBalancer, type HostProbe } from '../execution/load-balancer.js';
import { ProcessLauncher } from '../execution/process-launcher.js';
import { readHostMemory, readMemoryPressure } from '../execution/procfs.js';
import { argvForScript, runnerOptionsFromConfig } from '../execution/runner.js';
import { Sampler } from '../execution/sampler.js';
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

export const hostProbe: HostProbe = {
  memAvailableMb: () => readHostMemory().memAvailableMb,
  memoryPressure: () => readMemoryPressure(),
};

export function buildEngine(
  app: App,
  o: { bus?: EventBus; host?: HostProbe; log?: (m: string) => void } & Pick<DispatcherOptions, 'canPlan' | 'runFilter' | 'onLateness' | 'onSkipped'>,
): Engine {
  const { config, clock, jobs } = app;
  const backend = detectBackend(config.execution.enforcement);
  backend.configureSlots(config.slots);
  const sampler = new Sampler({ intervalMs: config.execution.sample_interval_ms });
  const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig(config.execution, sampler, clock));
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
    },
  };
}
