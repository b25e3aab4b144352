/**
 * Jobs that misbehave, run through the real Dispatcher and runner (in-process, real processes,
 * the host's enforcement backend under a cgroup group of our own): a job that floods its output,
 * one that forks a hundred children and exits, one that ignores SIGTERM past its timeout, one that
 * writes and exits before its output is read, one that leaves its process group with setsid.
 * Each is recorded correctly, and nothing of any of them is left running (checked in /proc by
 * an environment marker only these runs carry).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../src/clock.js';
import { hostProbe } from '../../src/daemon/engine.js';
import { Dispatcher } from '../../src/execution/dispatcher.js';
import { createBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import type { EnforcementBackend } from '../../src/execution/enforcement/types.js';
import { LoadBalancer } from '../../src/execution/load-balancer.js';
import { ProcessLauncher } from '../../src/execution/process-launcher.js';
import { runnerOptionsFromConfig } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase } from '../../src/storage/database.js';
import type { RunRow } from '../../src/storage/schema.js';
import { tempDir } from '../helpers/tmp.js';
import { killAll, processesWithMarker } from './procs.js';
import { testCgroup } from '../helpers/cgroups.js';

const PROGRAMS = fileURLToPath(new URL('../fixtures/programs/', import.meta.url));
const probe = probeHost();
const sampler = new Sampler({ intervalMs: 50 });
const slots = { default: { max_concurrent_jobs: 10, max_memory_mb: 4096, max_cpu_percent: 100 } };
/** The host's cgroup backend when it has one, and always the portable one (process groups + /proc). */
const BACKENDS = [...new Set([probe.cgroup2.ok ? 'cgroup2' : probe.cgroup1.ok ? 'cgroup1' : 'portable', 'portable'] as const)];
const backends: EnforcementBackend[] = [];
const MARK = `${process.pid}-${Date.now()}`;
after(() => {
  sampler.stop();
  for (const b of backends) b.dispose();
  killAll(processesWithMarker(`SC_FAULT_JOBS=${MARK}`));
});

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const backendName of BACKENDS) test(`misbehaving jobs (${backendName}): flood, fork 100, ignore TERM, exit before output is read, setsid — recorded right, nothing left running`, { timeout: 150_000 }, async () => {
  const backend = createBackend(backendName, { groupName: testCgroup(`fault-${backendName}`) }, probe);
  backends.push(backend);
  backend.configureSlots(slots);
  const dir = tempDir('smart-cron-fault-jobs-');
  const database = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  const jobs = new JobManager(database, systemClock);
  const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 8192, log_max_bytes: 1 << 20 }, sampler));
  const lb = new LoadBalancer({ node: 'n1', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
  const d = new Dispatcher({ node: 'n1', jobs, lb, launcher, clock: systemClock, runsDir: join(dir, 'runs'), maxSleepMs: 1000 });
  jobs.on('changed', () => d.kick());
  const env = { SC_FAULT_JOBS: MARK };
  const secs = `300.${process.pid}${backends.length}`;
  const defs: Record<string, Record<string, unknown>> = {
    flood: { command: [join(PROGRAMS, 'flood.sh'), String(30 * 1024 * 1024)] },
    fork100: { shell: true, command: ['for i in $(seq 100); do sleep 300 & done; echo forked; exit 0'] },
    'ignore-term': { command: [join(PROGRAMS, 'forky-ignore-term.sh'), '5'], timeout_seconds: 2 },
    'exit-early': { shell: true, command: ['head -c 200000 /dev/zero | tr "\\000" x; echo; echo last-line; exit 4'] },
    setsid: { command: [join(PROGRAMS, 'escape.sh'), secs], timeout_seconds: 2 },
  };
  try {
    for (const [name, def] of Object.entries(defs)) {
      await jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', env, estimated_memory_mb: 10, ...def } as never, { source: 'manual', byUser: true });
    }
    d.start();
    const queued = new Map<string, RunRow>();
    for (const name of Object.keys(defs)) queued.set(name, await d.requestRun({ job: name }));
    const done = new Map<string, RunRow>();
    for (const [name, q] of queued) {
      done.set(name, await until(`${name} to be recorded`, async () => {
        const r = await jobs.history.byId(q.id);
        return r && r.recorded === 1 ? r : null;
      }, 90_000));
    }
    const show = (n: string) => JSON.stringify({ ...done.get(n), output_tail: done.get(n)!.output_tail?.slice(-200) });

    const flood = done.get('flood')!;
    assert.equal(flood.status, 'succeeded', show('flood'));
    // Past the log cap, bytes appended between the follower's size check and its truncate are not
    // counted (documented in src/execution/output.ts): the count may fall short by a fraction.
    assert.ok(flood.output_bytes! >= 0.99 * 30 * 1024 * 1024, `flood: output_bytes ${flood.output_bytes}`);
    assert.equal(flood.output_truncated, 1, show('flood'));
    assert.match(flood.output_tail ?? '', /END\s*$/, 'flood: the tail holds the last line');

    const fork = done.get('fork100')!;
    assert.equal(fork.status, 'succeeded', show('fork100'));
    assert.equal(fork.exit_code, 0);
    assert.match(fork.output_tail ?? '', /forked/);

    const term = done.get('ignore-term')!;
    assert.equal(term.status, 'timeout', show('ignore-term'));
    assert.ok(term.duration_ms! >= 2000 && term.duration_ms! < 30_000, `ignore-term: duration ${term.duration_ms}`);

    const early = done.get('exit-early')!;
    assert.equal(early.status, 'failed', show('exit-early'));
    assert.equal(early.exit_code, 4);
    assert.ok(early.output_bytes! >= 200_000, `exit-early: output_bytes ${early.output_bytes}`);
    assert.match(early.output_tail ?? '', /last-line/);

    const esc = done.get('setsid')!;
    assert.equal(esc.status, 'timeout', show('setsid'));
    assert.match(esc.output_tail ?? '', /escaped/);

    // Nothing left: not the hundred children, not the TERM-ignoring tree, not the setsid sleeper.
    await until('every job process to be gone', async () => processesWithMarker(`SC_FAULT_JOBS=${MARK}`).length === 0, 20_000).catch(() => {
      const left = processesWithMarker(`SC_FAULT_JOBS=${MARK}`);
      assert.fail(`${left.length} job process(es) still running after their runs were recorded: ${left.slice(0, 10).join(', ')}`);
    });
    // And the slot is empty again. Its rows are written by the admission cycle that a run's end
    // kicks, just after the run is recorded: give that cycle a moment.
    const slotRows = () => database.db.selectFrom('smart_cron_execution_slots').selectAll().execute();
    await until('the slot rows to be empty again', async () => (await slotRows()).every((r) => r.current_running_jobs === 0 && r.current_memory_mb === 0), 5000).catch(async () => {
      assert.fail(`slot rows still hold runs: ${JSON.stringify(await slotRows())}`);
    });
  } finally {
    await d.stop();
    await database.close();
  }
});
