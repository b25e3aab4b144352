/**
 * A finished run's memory cgroup is emptied before it is removed (memcg-reaper.ts), so no page
 * cache stays charged to a removed ("dying") cgroup: what a slot's memory usage shows, since a
 * dying child's charges still count in its parent. Real cgroups (v1 here; v2 in the VM of
 * test/vm, or on a host whose cgroup v2 has the memory controller), real processes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import { reapDelayMs } from '../../src/execution/enforcement/memcg-reaper.js';
import type { BackendName, EnforcementBackend } from '../../src/execution/enforcement/types.js';
import { runnerOptionsFromConfig, startRun } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { perlAvailable, SpawnHelper } from '../../src/execution/spawn-helper.js';
import { until } from '../fixtures/exec-core/daemon-proc.js';
import { tempDir } from '../helpers/tmp.js';
import { TIME_SCALE } from '../helpers/time-scale.js';
import { testCgroup } from '../helpers/cgroups.js';

const probe = probeHost();
const skipFor = (name: 'cgroup1' | 'cgroup2') => (probe[name].ok ? false : `${name} not available here: ${probe[name].reason}`);
const sampler = new Sampler({ intervalMs: 50 });
const helper = perlAvailable() ? new SpawnHelper() : null;
const opts = runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 64 << 20 }, sampler, undefined, helper);
const made: EnforcementBackend[] = [];
after(() => {
  sampler.stop();
  helper?.dispose();
  for (const b of made) b.dispose();
});

let seq = 0;
/** A backend of its own with one slot `s`; the slot's memory cgroup directory. */
function backendWithSlot(name: BackendName, reapDelayMs: number): { backend: EnforcementBackend; slotDir: string } {
  const backend = createBackend(name, { groupName: testCgroup(`reap-${++seq}`), reapDelayMs }, probe);
  made.push(backend);
  backend.configureSlots({ s: { max_memory_mb: 1000, max_cpu_percent: 100 } });
  const root = name === 'cgroup1' ? /memory=(\/[^,)\s]+)/.exec(backend.describe())![1]! : /under (\/\S+);/.exec(backend.describe())![1]!;
  return { backend, slotDir: path.join(root, 's') };
}

/** Bytes charged to a memory cgroup and its descendants, the dying ones included. */
const usage = (dir: string) =>
  Number(fs.readFileSync(path.join(dir, fs.existsSync(path.join(dir, 'memory.current')) ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8'));

/** A run that writes 4 MB to its log: page cache charged to its memory cgroup. */
async function runWriting(backend: EnforcementBackend, slotDir: string): Promise<string> {
  const runId = `r${process.pid}-${++seq}`;
  const h = startRun({ runId, jobName: 'writer', argv: ['head', '-c', String(4 << 20), '/dev/zero'], timeoutMs: 30_000, slot: 's', runDir: path.join(tempDir(), runId) }, backend, opts);
  const o = await h.done;
  assert.equal(o.status, 'succeeded', o.errorMessage ?? '');
  assert.equal(o.outputBytes, 4 << 20);
  return path.join(slotDir, runId);
}

for (const name of ['cgroup1', 'cgroup2'] as const) {
  const skip = skipFor(name);

  test(`${name}: a finished run leaves nothing charged to its slot: its memory cgroup is emptied, then removed`, { skip }, async () => {
    const { backend, slotDir } = backendWithSlot(name, 0);
    const before = usage(slotDir);
    const runDir = await runWriting(backend, slotDir);
    await until(`${runDir} removed`, async () => !fs.existsSync(runDir), 10_000 * TIME_SCALE);
    // Its 4 MB of log stay in the page cache, but charged to no cgroup of ours.
    assert.ok(usage(slotDir) - before < 1 << 20, `the slot still has ${((usage(slotDir) - before) / 1048576).toFixed(1)} MB charged`);
    // And the kernel lets the removed cgroup go (it frees it asynchronously, after the rmdir).
    // In the emulated VM it sometimes keeps one a while longer for a few pages it has not let go
    // of yet: that one may stay dying, but must hold nothing to speak of (the promise above).
    if (name === 'cgroup2') {
      const dying = () => Number(/nr_dying_descendants (\d+)/.exec(fs.readFileSync(path.join(slotDir, 'cgroup.stat'), 'utf8'))?.[1] ?? 0);
      await until('no dying cgroup under the slot', async () => dying() === 0, 10_000 * TIME_SCALE).catch(() => {
        assert.ok(dying() <= 1, `${dying()} dying cgroups under the slot`);
        assert.ok(usage(slotDir) - before < 1 << 20, `the dying cgroup still holds ${((usage(slotDir) - before) / 1048576).toFixed(1)} MB`);
      });
    }
  });

  test(`${name}: the emptying waits (for writeback) with the cgroup in place; a stopping backend removes the waiting ones at once`, { skip }, async () => {
    const { backend, slotDir } = backendWithSlot(name, 60_000);
    const runDir = await runWriting(backend, slotDir);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(fs.existsSync(runDir), 'removed before its wait was over');
    assert.ok(usage(runDir) >= 4 << 20, `only ${usage(runDir)} bytes charged to the run's cgroup`);
    backend.dispose();
    assert.equal(fs.existsSync(runDir), false, 'dispose left a waiting run cgroup');
    assert.equal(fs.existsSync(slotDir), false, 'dispose left the slot');
  });

  test(`${name}: after a crash, the sweep empties and removes the cgroups of runs that are over, not one a process is still in`, { skip }, async () => {
    const { backend, slotDir } = backendWithSlot(name, 0);
    // What a daemon killed with -9 leaves: a finished run's cgroup (with its page cache charged), and a live one.
    const over = path.join(slotDir, 'over');
    const live = path.join(slotDir, 'live');
    fs.mkdirSync(over);
    fs.mkdirSync(live);
    const file = path.join(tempDir(), 'data');
    const writer = spawn('/bin/sh', ['-c', `echo $$ > ${over}/cgroup.procs && head -c ${4 << 20} /dev/zero > ${file}`], { stdio: 'ignore' });
    await new Promise((r) => writer.on('close', r));
    assert.ok(usage(over) >= 4 << 20, 'the finished run has its page cache charged');
    const sleeper = spawn('/bin/sh', ['-c', `echo $$ > ${live}/cgroup.procs && exec sleep 30`], { stdio: 'ignore' });
    try {
      await until('the live process placed', async () => fs.readFileSync(path.join(live, 'cgroup.procs'), 'utf8').trim() !== '', 5000 * TIME_SCALE);
      backend.sweep!();
      await until(`${over} removed`, async () => !fs.existsSync(over), 10_000 * TIME_SCALE);
      assert.ok(usage(slotDir) < 1 << 20, `the slot still has ${(usage(slotDir) / 1048576).toFixed(1)} MB charged`);
      assert.ok(fs.existsSync(live), 'the sweep removed a cgroup a process is in');
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.on('close', r));
      // Ours to remove (the kernel refuses for a moment after its last task died).
      await until(`${live} removed`, async () => {
        try {
          fs.rmdirSync(live);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
        }
        return !fs.existsSync(live);
      }, 5000 * TIME_SCALE);
    }
  });
}

test("the wait follows the kernel's writeback timing (vm.dirty_expire + vm.dirty_writeback, and 5 s)", () => {
  const vm = (expire: string | null, writeback: string | null) => {
    const dir = tempDir();
    if (expire !== null) fs.writeFileSync(path.join(dir, 'dirty_expire_centisecs'), `${expire}\n`);
    if (writeback !== null) fs.writeFileSync(path.join(dir, 'dirty_writeback_centisecs'), `${writeback}\n`);
    return reapDelayMs(dir);
  };
  assert.equal(vm('3000', '500'), 40_000, 'the defaults');
  assert.equal(vm('1500', '500'), 25_000);
  assert.equal(vm(null, null), 40_000, 'unreadable: as the defaults');
  assert.equal(vm('junk', '500'), 40_000, 'unreadable: as the defaults');
  assert.equal(vm('0', '0'), 10_000, 'at least 10 s');
  assert.equal(vm('360000', '500'), 600_000, 'at most 10 min');
});
