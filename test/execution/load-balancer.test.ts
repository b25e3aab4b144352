/**
 * LoadBalancer admission as tables (count, memory, CPU budgets; oversized runs alone; the host
 * check with a simulated HostProbe including the seed's 16 GB box; PSI veto; exact release;
 * persist()), plus the queue order and the circuit breaker's pure rules.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { iso, VirtualClock } from '../../src/clock.js';
import type { SlotBudget } from '../../src/config/schema.js';
import { circuitAfterRun, circuitGate } from '../../src/execution/circuit.js';
import { LoadBalancer, type HostProbe } from '../../src/execution/load-balancer.js';
import { arePeers, compareQueued, queueOrder } from '../../src/execution/queue.js';
import { openDatabase } from '../../src/storage/database.js';
import type { JobRow } from '../../src/storage/schema.js';
import { tempDir } from '../helpers/tmp.js';

const SEED_SLOTS: Record<string, SlotBudget> = {
  default: { max_concurrent_jobs: 5, max_memory_mb: 3072, max_cpu_percent: 80 },
  heavy: { max_concurrent_jobs: 2, max_memory_mb: 4096, max_cpu_percent: 90 },
  light: { max_concurrent_jobs: 10, max_memory_mb: 1024, max_cpu_percent: 50 },
};

/** A host whose MemAvailable the test sets; PSI too. */
class FakeHost implements HostProbe {
  constructor(
    public availableMb = 1_000_000,
    public psi: number | null = null,
  ) {}
  memAvailableMb(): number {
    return this.availableMb;
  }
  memoryPressure(): number | null {
    return this.psi;
  }
}

function lb(o: { slots?: Record<string, SlotBudget>; host?: HostProbe; reserveMb?: number; psiVeto?: number } = {}) {
  return new LoadBalancer({
    node: 'n1',
    slots: o.slots ?? SEED_SLOTS,
    reserveMb: o.reserveMb ?? 0,
    psiVeto: o.psiVeto ?? 10,
    host: o.host ?? new FakeHost(),
    clock: new VirtualClock(),
  });
}

let nextId = 1;
function hold(b: LoadBalancer, slot: string, memoryMb: number, cpuPercent = 0, used = 0): number {
  const runId = nextId++;
  b.acquire({ runId, slot, reservation: { memoryMb, cpuPercent }, usedMb: () => used });
  return runId;
}

test('a reservation larger than the host could ever give (RAM - reserve) is never admitted, saying so; one that fits RAM only waits', () => {
  const host = Object.assign(new FakeHost(1000), { memTotalMb: () => 24_000 });
  const b = lb({ host, reserveMb: 2400, slots: { heavy: { max_concurrent_jobs: 2, max_memory_mb: 64_000, max_cpu_percent: 100 } } });
  const never = b.canAdmit('heavy', { memoryMb: 30_000, cpuPercent: 10 });
  assert.deepEqual(never, { ok: false, never: true, blocks: 'host', reason: 'needs 30000 MB of memory (more than node "n1" can ever give: 24000 MB of RAM - 2400 MB host reserve = 21600 MB)' });
  const later = b.canAdmit('heavy', { memoryMb: 20_000, cpuPercent: 10 });
  assert.equal(later.ok, false);
  assert.ok(!later.ok && !later.never && later.blocks === 'host', 'fits the RAM: waits for MemAvailable');
  // A probe that does not know the host's total judges nothing of the kind.
  assert.equal((lb({ host: new FakeHost(1000), slots: { heavy: { max_concurrent_jobs: 2, max_memory_mb: 64_000, max_cpu_percent: 100 } } }).canAdmit('heavy', { memoryMb: 30_000, cpuPercent: 10 }) as { never?: boolean }).never, undefined);
});

test('admission: count, memory and CPU budgets of a slot', () => {
  // [slot budget, runs already holding [mem, cpu], candidate [mem, cpu], admitted?, reason contains]
  const one = (jobs: number, mem: number, cpu: number): SlotBudget => ({ max_concurrent_jobs: jobs, max_memory_mb: mem, max_cpu_percent: cpu });
  const cases: [SlotBudget, [number, number][], [number, number], boolean, string][] = [
    [one(2, 1000, 100), [], [100, 10], true, ''],
    [one(2, 1000, 100), [[100, 10]], [100, 10], true, ''],
    [one(2, 1000, 100), [[100, 10], [100, 10]], [100, 10], false, '2/2 jobs'],
    [one(5, 1000, 100), [[600, 10]], [400, 10], true, ''], // exactly the budget fits
    [one(5, 1000, 100), [[600, 10]], [400.01, 10], false, 'memory'],
    [one(5, 1000, 100), [[300, 10], [300, 10], [300, 10]], [200, 10], false, 'memory'],
    [one(5, 1000, 80), [[10, 50]], [10, 30], true, ''], // 80 % exactly
    [one(5, 1000, 80), [[10, 50]], [10, 31], false, 'CPU'],
    [one(5, 1000, 80), [], [10, 95], true, ''], // alone, a run may need more than the CPU budget
    [one(5, 1000, 80), [[10, 1]], [10, 95], false, 'CPU'], // ... counted as the whole budget next to others
    // oversized: more than the whole memory budget runs only alone
    [one(5, 1000, 100), [], [1500, 10], true, ''],
    [one(5, 1000, 100), [[1, 1]], [1500, 10], false, 'run alone'],
    [one(1, 1000, 100), [[1500, 10]], [1, 1], false, '1/1 jobs'],
    [one(5, 1000, 100), [[1500, 10]], [1, 1], false, 'memory'],
    // a zero reservation still takes a place
    [one(1, 1000, 100), [[0, 0]], [0, 0], false, '1/1 jobs'],
  ];
  for (const [budget, held, [mem, cpu], ok, reason] of cases) {
    const b = lb({ slots: { s: budget } });
    for (const [m, c] of held) hold(b, 's', m, c);
    const d = b.canAdmit('s', { memoryMb: mem, cpuPercent: cpu });
    const label = `${JSON.stringify(budget)} held ${JSON.stringify(held)} + ${mem} MB/${cpu} %`;
    assert.equal(d.ok, ok, `${label}: ${d.ok ? 'admitted' : d.reason}`);
    if (!d.ok) {
      assert.equal(d.blocks, 'slot', label);
      assert.match(d.reason, new RegExp(reason), label);
    }
  }
});

test('admission: slots are independent; an unknown slot is refused for good', () => {
  const b = lb();
  hold(b, 'heavy', 4096);
  hold(b, 'heavy', 0);
  assert.equal(b.canAdmit('heavy', { memoryMb: 1, cpuPercent: 0 }).ok, false);
  assert.equal(b.canAdmit('default', { memoryMb: 3072, cpuPercent: 80 }).ok, true);
  assert.equal(b.canAdmit('light', { memoryMb: 1024, cpuPercent: 50 }).ok, true);
  const d = b.canAdmit('gpu', { memoryMb: 1, cpuPercent: 1 });
  assert.equal(d.ok, false);
  assert.ok(!d.ok && d.never === true && /not configured/.test(d.reason) && /default, heavy, light/.test(d.reason));
});

test('host check: MemAvailable - unused part of running reservations - R >= reserve', () => {
  const big = { s: { max_concurrent_jobs: 100, max_memory_mb: 1e9, max_cpu_percent: 100 } };
  // [MemAvailable, reserve, running [reservation, used], candidate R, admitted?]
  const cases: [number, number, [number, number][], number, boolean][] = [
    [4000, 1000, [], 3000, true], // 4000 - 0 - 3000 = 1000 >= 1000
    [4000, 1000, [], 3001, false],
    [4000, 1000, [[1000, 0]], 2000, true], // promised 1000 not yet allocated
    [4000, 1000, [[1000, 0]], 2001, false],
    [4000, 1000, [[1000, 400]], 2400, true], // 600 still promised
    [4000, 1000, [[1000, 1000]], 3000, true], // fully allocated: MemAvailable already shows it
    [4000, 1000, [[1000, 5000]], 3000, true], // using more than reserved counts 0, not negative
    [4000, 1000, [[500, 0], [500, 0]], 2001, false],
    [1500, 1024, [], 476, true],
    [1500, 1024, [], 477, false],
  ];
  for (const [avail, reserve, running, r, ok] of cases) {
    const b = lb({ slots: big, host: new FakeHost(avail), reserveMb: reserve });
    for (const [m, used] of running) hold(b, 's', m, 0, used);
    const d = b.canAdmit('s', { memoryMb: r, cpuPercent: 0 });
    const label = `avail ${avail} reserve ${reserve} running ${JSON.stringify(running)} R ${r}`;
    assert.equal(d.ok, ok, `${label}: ${d.ok ? 'admitted' : d.reason}`);
    if (!d.ok) {
      assert.equal(d.blocks, 'host', label);
      assert.match(d.reason, /host memory: .* < \d+ MB reserve/, label);
    }
  }
});

test("host check: the seed's 16 GB box with a 9.4 GB editor never goes past its reserve", () => {
  // 16 GB host; the editor server uses 9.4 GB; the kernel and the rest ~0.6 GB. reserve = max(10 % of RAM, 1024).
  const TOTAL = 16 * 1024;
  const EDITOR = 9.4 * 1024;
  const OTHER = 0.6 * 1024;
  const RESERVE = Math.max(0.1 * TOTAL, 1024);
  const running = new Map<number, { reserved: number; used: number }>();
  const host: HostProbe = {
    memAvailableMb: () => TOTAL - EDITOR - OTHER - [...running.values()].reduce((s, r) => s + r.used, 0),
    memoryPressure: () => 0,
  };
  // One slot big enough that only the host check decides: the point is the host, not the slot.
  const b = lb({ slots: { default: { max_concurrent_jobs: 10, max_memory_mb: 100_000, max_cpu_percent: 100 } }, host, reserveMb: RESERVE });
  const jobs = [2048, 1536, 1024, 3072]; // 2.0 + 1.5 + 1.0 + 3.0 GB, all due at once
  const admittedAtOnce: number[] = [];
  for (const mem of jobs) {
    if (b.canAdmit('default', { memoryMb: mem, cpuPercent: 0 }).ok) {
      const id = nextId++;
      running.set(id, { reserved: mem, used: 0 });
      b.acquire({ runId: id, slot: 'default', reservation: { memoryMb: mem, cpuPercent: 0 }, usedMb: () => running.get(id)?.used ?? 0 });
      admittedAtOnce.push(mem);
    }
  }
  // Plain cron starts all four: 16.9 GB with the editor. Here: 6144 MB available, 1638 MB reserve,
  // so 2.0 + 1.5 GB start and the 1.0 and 3.0 GB jobs wait (6144 - 3584 - 1024 = 1536 < 1638).
  assert.deepEqual(admittedAtOnce, [2048, 1536]);
  // Every admitted job then allocates all it reserved: the box still keeps its reserve free.
  for (const r of running.values()) r.used = r.reserved;
  const usedAll = EDITOR + OTHER + [...running.values()].reduce((s, r) => s + r.used, 0);
  assert.ok(TOTAL - usedAll >= RESERVE, `free ${TOTAL - usedAll} MB >= reserve ${RESERVE} MB`);
  assert.equal(b.canAdmit('default', { memoryMb: 3072, cpuPercent: 0 }).ok, false);
  // The 2 GB job ends: room for 1 GB, still none for 3 GB (4608 MB available - 3072 = 1536 < 1638)...
  const [first] = running.keys();
  running.delete(first!);
  b.release(first!);
  assert.equal(b.canAdmit('default', { memoryMb: 3072, cpuPercent: 0 }).ok, false);
  assert.equal(b.canAdmit('default', { memoryMb: 1024, cpuPercent: 0 }).ok, true);
  // ...until the 1.5 GB one ends too.
  const [second] = running.keys();
  running.delete(second!);
  b.release(second!);
  assert.equal(b.canAdmit('default', { memoryMb: 3072, cpuPercent: 0 }).ok, true);

  // With the seed's own slot defaults (default slot 3072 MB) the slot binds first, and the same holds.
  const seed = lb({ slots: SEED_SLOTS, host: new FakeHost(TOTAL - EDITOR - OTHER), reserveMb: RESERVE });
  const order = jobs.filter((mem) => {
    const ok = seed.canAdmit('default', { memoryMb: mem, cpuPercent: 0 }).ok;
    if (ok) hold(seed, 'default', mem);
    return ok;
  });
  assert.deepEqual(order, [2048, 1024]); // 1.5 GB would pass 3072 MB; 3 GB waits to run alone
});

test('PSI veto: memory pressure above psi_veto blocks the host; 0 disables; no PSI is no veto', () => {
  // [psi, psi_veto, admitted?]
  const cases: [number | null, number, boolean][] = [
    [null, 10, true],
    [0, 10, true],
    [10, 10, true], // above, not at
    [10.1, 10, false],
    [95, 0, true],
  ];
  for (const [psi, veto, ok] of cases) {
    const b = lb({ host: new FakeHost(1e6, psi), psiVeto: veto });
    const d = b.canAdmit('default', { memoryMb: 1, cpuPercent: 1 });
    assert.equal(d.ok, ok, `psi ${psi} veto ${veto}`);
    if (!d.ok) {
      assert.equal(d.blocks, 'host');
      assert.match(d.reason, /pressure/);
    }
  }
});

test('release gives back exactly what was reserved, whatever the run used; twice is harmless', () => {
  const b = lb();
  const ids = [hold(b, 'default', 700.25, 12.5, 9999), hold(b, 'default', 300, 7, 0), hold(b, 'light', 100, 5, 50)];
  assert.deepEqual(b.usage('default'), { jobs: 2, memoryMb: 1000.25, cpuPercent: 19.5 });
  b.release(ids[0]!);
  assert.deepEqual(b.usage('default'), { jobs: 1, memoryMb: 300, cpuPercent: 7 });
  b.release(ids[0]!);
  assert.deepEqual(b.usage('default'), { jobs: 1, memoryMb: 300, cpuPercent: 7 });
  b.release(ids[1]!);
  b.release(ids[2]!);
  for (const s of ['default', 'heavy', 'light']) assert.deepEqual(b.usage(s), { jobs: 0, memoryMb: 0, cpuPercent: 0 });
  assert.equal(b.running, 0);
});

test('persist() rewrites the slot rows from the live runs', async () => {
  const dir = tempDir();
  const database = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  try {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const mk = (node: string) => new LoadBalancer({ node, slots: SEED_SLOTS, reserveMb: 0, psiVeto: 0, host: new FakeHost(), clock, database });
    const a = mk('a');
    const other = mk('b');
    hold(other, 'heavy', 1234, 5);
    await other.persist();
    const rows = async (node: string) =>
      database.db.selectFrom('smart_cron_execution_slots').selectAll().where('node', '=', node).orderBy('slot').execute();

    await a.persist();
    let r = await rows('a');
    assert.deepEqual(r.map((x) => [x.slot, x.current_running_jobs, x.current_memory_mb, x.current_cpu_percent]), [
      ['default', 0, 0, 0],
      ['heavy', 0, 0, 0],
      ['light', 0, 0, 0],
    ]);
    assert.deepEqual(r.map((x) => [x.max_concurrent_jobs, x.max_memory_mb, x.max_cpu_percent]), [
      [5, 3072, 80],
      [2, 4096, 90],
      [10, 1024, 50],
    ]);
    const x = hold(a, 'default', 512, 20);
    const y = hold(a, 'default', 256.5, 10);
    hold(a, 'light', 64, 1);
    await clock.advance(1000);
    await a.persist();
    r = await rows('a');
    assert.deepEqual(r.map((x) => [x.slot, x.current_running_jobs, x.current_memory_mb, x.current_cpu_percent]), [
      ['default', 2, 768.5, 30],
      ['heavy', 0, 0, 0],
      ['light', 1, 64, 1],
    ]);
    // Only the rows that changed were written: updated_at says when a slot's usage last changed.
    assert.deepEqual(r.map((row) => row.updated_at === iso(clock.now())), [true, false, true]);
    // The rows equal the snapshot the API shows.
    assert.deepEqual(
      r.map((row) => [row.slot, row.current_running_jobs, row.current_memory_mb]),
      a.snapshot().map((s) => [s.slot, s.current_running_jobs, s.current_memory_mb]),
    );
    a.release(x);
    a.release(y);
    await a.persist();
    r = await rows('a');
    assert.deepEqual(r.map((x) => [x.slot, x.current_running_jobs, x.current_memory_mb]), [
      ['default', 0, 0],
      ['heavy', 0, 0],
      ['light', 1, 64],
    ]);
    // Another node's rows are its own.
    const rb = await rows('b');
    assert.deepEqual(rb.find((x) => x.slot === 'heavy')?.current_memory_mb, 1234);
  } finally {
    await database.close();
  }
});

test('queue order: priority class first, then age (since the run was due), then id', () => {
  const at = (sec: number) => iso(Date.UTC(2026, 0, 1, 0, 0, sec));
  const r = (id: number, priority: JobRow['priority'], queuedSec: number, dueSec = 0) => ({ id, priority, queued_at: at(queuedSec), scheduled_for: at(dueSec) });
  const runs = [r(1, 'low', 0), r(2, 'medium', 5), r(3, 'critical', 9), r(4, 'high', 1), r(5, 'medium', 2), r(6, 'high', 1), r(7, 'critical', 3)];
  assert.deepEqual(
    [...runs].sort(compareQueued).map((x) => x.id),
    [7, 3, 4, 6, 5, 2, 1],
  );
  // A tick planned ahead (queued at 1 for 8) is due at 8: younger than a manual run queued at 4.
  assert.deepEqual([r(1, 'medium', 1, 8), r(2, 'medium', 4, 4)].sort(compareQueued).map((x) => x.id), [2, 1]);
  // Due at the same instant, whenever planned: peers. Another class or instant: not.
  assert.equal(arePeers(r(1, 'medium', 1, 8), r(2, 'medium', 7, 8)), true);
  assert.equal(arePeers(r(1, 'medium', 1, 8), r(2, 'high', 1, 8)), false);
  assert.equal(arePeers(r(1, 'medium', 1, 8), r(2, 'medium', 9, 8)), false);
});

test('queue order among peers: largest memory × learned duration first; unmeasured jobs count as their peers’ average', () => {
  const at = (sec: number) => iso(Date.UTC(2026, 0, 1, 0, 0, sec));
  const run = (id: number, dueSec: number, priority: JobRow['priority'] = 'medium') => ({ id, priority, queued_at: at(0), scheduled_for: at(dueSec) });
  const sizes: Record<number, { memoryMb: number; durationS: number | null } | undefined> = {
    1: { memoryMb: 100, durationS: 10 }, // 1000
    2: { memoryMb: 400, durationS: 1 }, // 400
    3: { memoryMb: 300, durationS: null }, // 300 × 5.5 (the average of 10 and 1) = 1650
    4: { memoryMb: 50, durationS: 1 }, // 50
    5: undefined, // job gone: last of its peers
    6: { memoryMb: 9999, durationS: 99 }, // due later: not a peer, stays behind
    7: { memoryMb: 1, durationS: 1 }, // high: ahead of all
  };
  const runs = [run(1, 5), run(2, 5), run(3, 5), run(4, 5), run(5, 5), run(6, 6), run(7, 5, 'high')];
  assert.deepEqual(
    queueOrder(runs, (r) => sizes[r.id]).map((r) => r.id),
    [7, 3, 1, 2, 4, 5, 6],
  );
  // No durations at all: largest reservation first, id among equals.
  const bare = [run(1, 5), run(2, 5), run(3, 5)];
  const mb: Record<number, number> = { 1: 100, 2: 300, 3: 300 };
  assert.deepEqual(
    queueOrder(bare, (r) => ({ memoryMb: mb[r.id]!, durationS: null })).map((r) => r.id),
    [2, 3, 1],
  );
});

test('circuit breaker: opens after N failures, skips during the cool-down, doubles, half-open trial, success closes', () => {
  const T0 = Date.UTC(2026, 0, 1);
  const job = {
    circuit_state: 'closed' as JobRow['circuit_state'],
    circuit_opened_at: null as string | null,
    circuit_cooldown_seconds: 1800,
    circuit_open_count: 0,
    consecutive_failures: 0,
    circuit_failure_threshold: 3,
  };
  const apply = (u: ReturnType<typeof circuitAfterRun>) => u && Object.assign(job, u);
  // Failures 1 and 2: still closed.
  for (let i = 1; i <= 2; i++) {
    job.consecutive_failures = i;
    assert.equal(circuitAfterRun(job, false, T0), null, `failure ${i}`);
    assert.deepEqual(circuitGate(job, T0), { allow: true, trial: false });
  }
  // Failure 3 opens it.
  job.consecutive_failures = 3;
  apply(circuitAfterRun(job, false, T0));
  assert.equal(job.circuit_state, 'open');
  assert.equal(job.circuit_open_count, 1);
  // Skipped for 30 min.
  for (const dt of [0, 60_000, 1800_000 - 1]) {
    const g = circuitGate(job, T0 + dt);
    assert.equal(g.allow, false, `+${dt}`);
    assert.ok(!g.allow && g.until === T0 + 1800_000 && /circuit open/.test(g.reason));
  }
  // Then one trial.
  assert.deepEqual(circuitGate(job, T0 + 1800_000), { allow: true, trial: true });
  job.circuit_state = 'half_open';
  const g = circuitGate(job, T0 + 1800_001);
  assert.ok(!g.allow && /half-open/.test(g.reason), 'no second run while the trial runs');
  // The trial fails: open again, cool-down doubled (60 min).
  job.consecutive_failures = 4;
  const T1 = T0 + 1900_000;
  apply(circuitAfterRun(job, false, T1));
  assert.equal(job.circuit_state, 'open');
  assert.equal(job.circuit_open_count, 2);
  assert.equal(circuitGate(job, T1 + 3600_000 - 1).allow, false);
  assert.deepEqual(circuitGate(job, T1 + 3600_000), { allow: true, trial: true });
  // Third opening: 120 min.
  job.circuit_state = 'half_open';
  const T2 = T1 + 3700_000;
  apply(circuitAfterRun(job, false, T2));
  assert.equal(circuitGate(job, T2 + 7200_000 - 1).allow, false);
  assert.equal(circuitGate(job, T2 + 7200_000).allow, true);
  // The trial succeeds: closed, the count reset (the next opening starts at 30 min again).
  job.circuit_state = 'half_open';
  job.consecutive_failures = 0;
  apply(circuitAfterRun(job, true, T2 + 7300_000));
  assert.equal(job.circuit_state, 'closed');
  assert.equal(job.circuit_open_count, 0);
  assert.equal(job.circuit_opened_at, null);
  assert.deepEqual(circuitGate(job, T2 + 7300_000), { allow: true, trial: false });
  // A success while closed with nothing to reset changes nothing.
  assert.equal(circuitAfterRun(job, true, T2), null);
  // The doubling is capped (2^10), never overflowing to a cool-down of years.
  const many = { ...job, circuit_state: 'open' as const, circuit_opened_at: iso(T0), circuit_open_count: 50 };
  const far = circuitGate(many, T0);
  assert.ok(!far.allow && far.until === T0 + 1800_000 * 1024);
});
