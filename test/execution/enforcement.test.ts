/**
 * Backend detection and the host report, cgroup file parsing, the cgroup v2 file protocol
 * against a fake tree (no v2 here), cgroup v1 clean-up, host probes and the shared sampler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VirtualClock } from '../../src/clock.js';
import { ConfigError } from '../../src/errors.js';
import { enforcementReport, readHostMemory, readMemoryPressure } from '../../src/execution/doctor.js';
import { ownDirIn, parseMountinfo, parseProcCgroup } from '../../src/execution/enforcement/cgroupfs.js';
import { Cgroup1Backend } from '../../src/execution/enforcement/cgroup1.js';
import { Cgroup2Backend, probeCgroup2 } from '../../src/execution/enforcement/cgroup2.js';
import { cgroupPrefix, createBackend, detectBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import { checkSavedPaths } from '../../src/execution/enforcement/reattach.js';
import { cpuCount, parseMeminfo } from '../../src/execution/procfs.js';
import { runnerOptionsFromConfig, startRun } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { tempDir } from '../helpers/tmp.js';
import { testCgroup } from '../helpers/cgroups.js';

const MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate',
  '50 23 0:40 / /mnt/with\\040space rw - ext4 /dev/sda1 rw',
].join('\n');

test('mountinfo: cgroup mounts, co-mounted controllers, container roots', () => {
  const m = parseMountinfo(MOUNTINFO);
  assert.deepEqual(
    m.map((x) => [x.version, x.mountPoint, x.root, x.controllers.join(',')]),
    [
      [1, '/sys/fs/cgroup/cpu,cpuacct', '/', 'cpu,cpuacct'],
      [1, '/sys/fs/cgroup/memory', '/docker/abc', 'memory'],
      [1, '/sys/fs/cgroup/systemd', '/', ''],
      [2, '/sys/fs/cgroup/unified', '/', ''],
    ],
  );
  const cases: Array<[string, string | null]> = [
    ['/docker/abc', '/sys/fs/cgroup/memory'],
    ['/docker/abc/sub', '/sys/fs/cgroup/memory/sub'],
    ['/other', null],
  ];
  for (const [own, dir] of cases) assert.equal(ownDirIn(m[1]!, own), dir, own);
  // A process in the root cgroup of a mount is in the mount point itself (no trailing slash: the
  // cgroup2 backend compares the two to know it is at the root, found on a real cgroup2 kernel).
  assert.equal(ownDirIn(m[3]!, '/'), '/sys/fs/cgroup/unified');
  assert.equal(ownDirIn(m[3]!, '/a/b'), '/sys/fs/cgroup/unified/a/b');
});

test('/proc/<pid>/cgroup: v1 controllers and the v2 path', () => {
  const c = parseProcCgroup('12:cpu,cpuacct:/a\n4:memory:/process_api/x\n1:name=systemd:/\n0::/user.slice/u.service\n');
  assert.equal(c.v1.get('cpu'), '/a');
  assert.equal(c.v1.get('cpuacct'), '/a');
  assert.equal(c.v1.get('memory'), '/process_api/x');
  assert.equal(c.v2, '/user.slice/u.service');
});

test('meminfo and PSI parsing', () => {
  assert.deepEqual(parseMeminfo('MemTotal: 16384000 kB\nMemFree: 1024000 kB\nMemAvailable: 8192000 kB\n'), {
    memAvailableMb: 8000,
    memTotalMb: 16000,
  });
  // Before Linux 3.14: free + buffers + cached.
  assert.deepEqual(parseMeminfo('MemTotal: 2048000 kB\nMemFree: 102400 kB\nBuffers: 102400 kB\nCached: 204800 kB\n'), {
    memAvailableMb: 400,
    memTotalMb: 2000,
  });
  const h = readHostMemory();
  assert.ok(h.memTotalMb > 0 && h.memAvailableMb <= h.memTotalMb);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'memory'), 'some avg10=12.50 avg60=3.00 avg300=1.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
  assert.equal(readMemoryPressure(path.join(dir, 'memory')), 12.5);
  assert.equal(readMemoryPressure(path.join(dir, 'absent')), null);
  const real = readMemoryPressure();
  assert.ok(real === null || real >= 0);
});

test('doctor: the report of this host, and what auto picks', () => {
  const r = enforcementReport();
  const p = probeHost();
  assert.equal(r.auto, p.auto);
  assert.ok(r.lines.some((l) => l === `execution.enforcement auto -> ${r.auto}`));
  if (fs.existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') && process.getuid?.() === 0) {
    // This development machine: cgroup v1 memory and cpu writable, v2 mounted without controllers.
    assert.equal(r.cgroup1.available, true);
    assert.equal(r.cgroup1.controllers.memory?.writable, true);
    assert.equal(r.cgroup1.controllers.cpu?.writable, true);
    assert.ok(r.lines.some((l) => /^cgroup v1: available — memory writable, cpu writable/.test(l)), r.lines.join('\n'));
    if (!r.cgroup2.available) assert.equal(r.auto, 'cgroup1');
  }
  assert.equal(typeof r.smapsRollup, 'boolean');
  assert.equal(r.psi, r.memoryPressureAvg10 !== null);
});

test('detectBackend: auto takes the best; an explicit choice the host lacks is a ConfigError', () => {
  const p = probeHost();
  const auto = detectBackend('auto', { groupName: testCgroup('detect') });
  assert.equal(auto.name, p.auto);
  auto.dispose();
  assert.equal(detectBackend('portable').name, 'portable');
  if (!p.cgroup2.ok) {
    assert.throws(
      () => detectBackend('cgroup2'),
      (e: unknown) => e instanceof ConfigError && e.field === 'execution.enforcement' && /cgroup2/.test(e.message),
    );
  }
});

test('cgroup1: slot limits are written, and a run leaves no cgroup behind', { skip: !probeHost().cgroup1.ok && 'no cgroup v1 here' }, async () => {
  const group = testCgroup('enf');
  // reapDelayMs 0: a run's memory cgroup is emptied and removed at its end (memcg-reaper.test.ts has the wait).
  const b = createBackend('cgroup1', { groupName: group, reapDelayMs: 0 });
  const memRoot = probeHost().cgroup1.controllers.memory!.base!;
  try {
    b.configureSlots({ heavy: { max_memory_mb: 512, max_cpu_percent: 50 }, whole: { max_memory_mb: 512, max_cpu_percent: 100 } });
    assert.equal(fs.readFileSync(path.join(memRoot, group, 'heavy', 'memory.limit_in_bytes'), 'utf8').trim(), String(512 * 1024 * 1024));
    const cpuRoot = probeHost().cgroup1.controllers.cpu?.base;
    if (cpuRoot) {
      // Half the host's CPUs is a quota; all of them is none (it could not bind).
      const quota = (...p: string[]) => fs.readFileSync(path.join(cpuRoot, group, ...p, 'cpu.cfs_quota_us'), 'utf8').trim();
      assert.equal(quota('heavy'), String(50_000 * cpuCount()));
      assert.equal(quota('whole'), '-1');
      // A run's own quota, capped by its slot's; none when neither binds.
      const plan = (slot: string, cpuPercent: number) => (b as Cgroup1Backend).plan({ runId: 'p', slot, cpuPercent }).writes.filter(([f]) => f.endsWith('cpu.cfs_quota_us')).map(([, v]) => v);
      assert.deepEqual(plan('whole', 10), [String(10_000 * cpuCount())]);
      assert.deepEqual(plan('heavy', 100), [String(50_000 * cpuCount())]);
      assert.deepEqual(plan('whole', 100), []);
    }
    const sampler = new Sampler({ intervalMs: 50 });
    const opts = runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 1 << 20 }, sampler);
    const h = startRun(
      { runId: 'leaf1', jobName: 'j', argv: ['cat /proc/self/cgroup'], shell: true, timeoutMs: 5000, slot: 'heavy', runDir: path.join(tempDir(), 'r'), memoryLimitMb: 64, cpuPercent: 10 },
      b,
      opts,
    );
    await new Promise((r) => setTimeout(r, 0));
    const o = await h.done;
    assert.equal(o.status, 'succeeded', o.errorMessage ?? '');
    assert.match(o.outputTail, new RegExp(`memory:.*/${group}/heavy/leaf1`));
    const leaf = path.join(memRoot, group, 'heavy', 'leaf1');
    for (let i = 0; i < 50 && fs.existsSync(leaf); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fs.existsSync(leaf), false, 'run cgroup removed');
    b.dispose();
    assert.equal(fs.existsSync(path.join(memRoot, group)), false, 'dispose removes our hierarchy');
  } finally {
    b.dispose();
  }
});

test('cgroup2 file protocol against a fake delegated tree', () => {
  const root = tempDir();
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids\n');
  fs.writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
  fs.writeFileSync(path.join(root, 'cgroup.procs'), '');
  fs.writeFileSync(path.join(root, 'memory.peak'), '0\n');
  fs.writeFileSync(path.join(root, 'cgroup.kill'), '');
  const host = { mounts: [{ version: 2 as const, mountPoint: root, root: '/', controllers: [] }], self: { v1: new Map(), v2: '/' } };
  const probe = probeCgroup2(host);
  assert.equal(probe.ok, true, probe.reason);
  fs.mkdirSync(path.join(root, 'sc'));
  fs.writeFileSync(path.join(root, 'sc', 'cgroup.controllers'), 'cpu memory\n');
  const b = new Cgroup2Backend(probe, 'sc');
  assert.equal(fs.readFileSync(path.join(root, 'sc', 'cgroup.subtree_control'), 'utf8'), '+memory +cpu');
  b.configureSlots({ light: { max_memory_mb: 1024, max_cpu_percent: 50 }, whole: { max_memory_mb: 1024, max_cpu_percent: 100 } });
  assert.equal(fs.readFileSync(path.join(root, 'sc', 'light', 'memory.max'), 'utf8'), String(1024 * 1024 * 1024));
  assert.equal(fs.readFileSync(path.join(root, 'sc', 'light', 'cpu.max'), 'utf8'), `${50_000 * cpuCount()} 100000`);
  assert.equal(fs.readFileSync(path.join(root, 'sc', 'whole', 'cpu.max'), 'utf8'), 'max 100000');
  const c = b.prepare({ runId: 'r1', slot: 'light', memoryLimitMb: 100, cpuPercent: 25 });
  const leaf = path.join(root, 'sc', 'light', 'r1');
  assert.equal(fs.readFileSync(path.join(leaf, 'memory.max'), 'utf8'), String(100 * 1024 * 1024));
  assert.equal(fs.readFileSync(path.join(leaf, 'memory.oom.group'), 'utf8'), '1');
  fs.writeFileSync(path.join(leaf, 'memory.current'), '5242880\n');
  fs.writeFileSync(path.join(leaf, 'cpu.stat'), 'usage_usec 250000\nuser_usec 200000\n');
  fs.writeFileSync(path.join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
  fs.writeFileSync(path.join(leaf, 'memory.peak'), '104857600\n');
  fs.writeFileSync(path.join(leaf, 'cgroup.kill'), '');
  assert.deepEqual(c.sample(0), { memoryBytes: 5242880, cpuTimeMs: 250, oomKills: 1 });
  c.killAll();
  assert.equal(fs.readFileSync(path.join(leaf, 'cgroup.kill'), 'utf8'), '1');
  assert.deepEqual(c.finish(), { peakBytes: 104857600, source: 'cgroup', cpuTimeMs: 250, oomKills: 1 });
  assert.deepEqual(c.saved, { backend: 'cgroup2', paths: [leaf], memoryLimitBytes: 100 * 1024 * 1024 });
});

test('cgroup2 without memory.peak (kernels before 5.19): the peak is the highest sample while the run lived, or not measured', () => {
  const root = tempDir();
  for (const [f, text] of [['cgroup.controllers', 'cpu memory\n'], ['cgroup.subtree_control', ''], ['cgroup.procs', '']]) fs.writeFileSync(path.join(root, f!), text!);
  const host = { mounts: [{ version: 2 as const, mountPoint: root, root: '/', controllers: [] }], self: { v1: new Map(), v2: '/' } };
  fs.mkdirSync(path.join(root, 'sc'));
  fs.writeFileSync(path.join(root, 'sc', 'cgroup.controllers'), 'cpu memory\n');
  const b = new Cgroup2Backend(probeCgroup2(host), 'sc');
  b.configureSlots({ light: { max_memory_mb: 1024, max_cpu_percent: 100 } });
  const leaf = (id: string) => path.join(root, 'sc', 'light', id);
  const stats = (id: string, current: number) => {
    fs.writeFileSync(path.join(leaf(id), 'memory.current'), `${current}\n`);
    fs.writeFileSync(path.join(leaf(id), 'cpu.stat'), 'usage_usec 1000\n');
    fs.writeFileSync(path.join(leaf(id), 'memory.events'), 'oom_kill 0\n');
  };
  const sampled = b.prepare({ runId: 'r1', slot: 'light', memoryLimitMb: 100, cpuPercent: 100 });
  for (const mb of [30, 80, 50]) {
    stats('r1', mb * 2 ** 20);
    sampled.sample(0);
  }
  stats('r1', 2 * 2 ** 20); // after the exit: page cache left behind, not the run's use
  assert.deepEqual(sampled.finish(), { peakBytes: 80 * 2 ** 20, source: 'sampled', cpuTimeMs: 1, oomKills: 0 });
  const quick = b.prepare({ runId: 'r2', slot: 'light', memoryLimitMb: 100, cpuPercent: 100 });
  stats('r2', 2 * 2 ** 20);
  assert.equal(quick.finish().peakBytes, null, 'a run that ended before any sample: not measured, not 0 MB or its leftovers');
});

test('cgroup2 refuses a cgroup it shares with foreign processes, and says why', () => {
  const root = tempDir();
  const own = path.join(root, 'svc');
  fs.mkdirSync(own);
  fs.writeFileSync(path.join(own, 'cgroup.controllers'), 'memory cpu\n');
  fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), '');
  fs.writeFileSync(path.join(own, 'cgroup.procs'), `${process.pid}\n1\n`);
  const host = { mounts: [{ version: 2 as const, mountPoint: root, root: '/', controllers: [] }], self: { v1: new Map(), v2: '/svc' } };
  const probe = probeCgroup2(host);
  assert.equal(probe.ok, true);
  assert.throws(() => new Cgroup2Backend(probe, 'sc'), /also holds processes other than the daemon \(\d+, 1\)/);
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), '');
  const none = probeCgroup2({ ...host, self: { v1: new Map(), v2: '/' } });
  assert.equal(none.ok, false);
  assert.match(none.reason, /offers no memory controller/);
});

test('a run.json naming a foreign cgroup is refused', () => {
  const mount = probeHost().cgroup1.controllers.memory?.mount ?? '/sys/fs/cgroup/memory';
  const ok = { backend: 'cgroup1' as const, paths: [`${mount}/smart-cron/default/r7`], memoryLimitBytes: null };
  if (fs.existsSync(mount)) assert.doesNotThrow(() => checkSavedPaths(ok, 'r7'));
  const bad: Array<[string[], string]> = [
    [[`${mount}/system.slice`], 'r7'],
    [[`${mount}/smart-cron/default/r7/../../../system.slice`], 'r7'],
    [['/etc/r7'], 'r7'],
    [[`${mount}/smart-cron/default/r8`], 'r7'],
  ];
  for (const [paths, id] of bad) assert.throws(() => checkSavedPaths({ ...ok, paths }, id), /not this run's cgroup/, paths[0]);
});

test('sampler: one timer for every target, none when idle', async () => {
  const clock = new VirtualClock();
  const s = new Sampler({ intervalMs: 100, clock });
  const counts = [0, 0, 0];
  const targets = counts.map((_, i) => ({ sample: () => void counts[i]!++ }));
  for (const t of targets) s.add(t);
  assert.equal(clock.pending, 1);
  await clock.advance(1000);
  assert.deepEqual(counts, [10, 10, 10]);
  s.remove(targets[0]!);
  await clock.advance(500);
  assert.deepEqual(counts, [10, 15, 15]);
  s.remove(targets[1]!);
  s.remove(targets[2]!);
  assert.equal(clock.pending, 0);
  s.add({ sample: () => { throw new Error('broken'); } });
  s.add(targets[1]!);
  await clock.advance(200);
  assert.equal(counts[1], 17, 'a throwing target does not stop the others');
  s.stop();
});

test('SMART_CRON_CGROUP_PREFIX names our cgroups; a name the kernel would not take is refused, saying so', () => {
  const saved = process.env.SMART_CRON_CGROUP_PREFIX;
  try {
    delete process.env.SMART_CRON_CGROUP_PREFIX;
    assert.equal(cgroupPrefix(), 'smart-cron');
    process.env.SMART_CRON_CGROUP_PREFIX = 'smart-cron-test-42';
    assert.equal(cgroupPrefix(), 'smart-cron-test-42');
    for (const bad of ['../etc', 'a/b', ' x', 'x'.repeat(65)]) {
      process.env.SMART_CRON_CGROUP_PREFIX = bad;
      assert.throws(() => createBackend('portable'), (e: unknown) => e instanceof ConfigError && /SMART_CRON_CGROUP_PREFIX: .* is not a cgroup name/.test(e.message), bad);
    }
  } finally {
    if (saved === undefined) delete process.env.SMART_CRON_CGROUP_PREFIX;
    else process.env.SMART_CRON_CGROUP_PREFIX = saved;
  }
});

test('portable: a run that ended before any sample has no peak (not measured), not 0 MB; a sampled one has its peak', async () => {
  const { spawn } = await import('node:child_process');
  const { PortableBackend } = await import('../../src/execution/enforcement/portable.js');
  const backend = new PortableBackend();
  const exited = (c: ReturnType<typeof spawn>) => new Promise((r) => c.once('exit', r));

  // Gone before the first tick: what the shim of a short run leaves the backend with.
  const quick = spawn('true', { detached: true });
  await exited(quick);
  const gone = backend.prepare({ runId: 'quick', slot: 'default' });
  gone.attach(quick.pid!);
  gone.sample(Date.now());
  assert.equal(gone.finish().peakBytes, null, 'no process was ever seen: not measured');
  gone.release();

  const slow = spawn('sleep', ['5'], { detached: true });
  const live = backend.prepare({ runId: 'slow', slot: 'default' });
  live.attach(slow.pid!);
  try {
    // A process just exec'd may read 0 resident pages for a moment (the kernel syncs its RSS
    // counters lazily): sample as the sampler would, until sleep shows its memory.
    const end = Date.now() + 5000;
    while (live.sample(Date.now()).memoryBytes === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(live.sample(Date.now()).memoryBytes > 0, 'sleep has some resident memory');
    const peak = live.finish().peakBytes;
    assert.ok(peak !== null && peak > 0, `sampled peak ${peak}`);
  } finally {
    live.killAll();
    await exited(slow);
    live.release();
  }
});
