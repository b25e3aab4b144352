/**
 * Dispatch cost: 200 enabled jobs on second-granularity schedules (job i at seconds i mod 10,
 * every 10 s: 20 starts a second, spread over the seconds) for N seconds (default 60), with the
 * daemon's default start lead. Each job is `date +%s%N`: the instant its command really began,
 * printed from inside the run, against its scheduled instant gives the spawn lateness (p50, p90,
 * p99, max); the release lateness is the daemon's own view (the start it gave the run). Then
 * throughput: `true` runs with full recording (queue, admit, spawn under the enforcement
 * backend, sample, record) against raw child_process.spawn of `true`, same concurrency.
 * If the goals (p99 <= 10 ms, >= 50 % of raw) are missed, where the time goes. The host's busy
 * CPU per run for each side (on a small machine both are bound by it) and the dying memory cgroups
 * the host held at the start (they slow every run's cgroup work; see docs/benchmarks.md) are
 * printed beside the ratio.
 *
 *   node --import tsx bench/dispatch.ts [seconds=60] [jobs=200] [throughputRuns=200]
 *   BENCH_START_LEAD_MS=0 ...   plan and spawn at the instant (no start lead), for comparison
 *   BENCH_FROM_SOURCE=1 ...     the sources through tsx even when dist/ is built
 *   BENCH_NO_SPAWN_HELPER=1 ... the daemon forks every shim itself (as without Perl)
 *   BENCH_BACKEND=portable ...  this enforcement backend instead of the host's best (cgroup1, cgroup2)
 *   BENCH_CPU_PROFILE=DIR ...   a V8 CPU profile of smart-cron's part of each throughput round
 *                               (DIR/throughput-<round>.cpuprofile; open in Chrome DevTools; the
 *                               throughput figures are lower while it profiles)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import inspector from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Dispatcher as DispatcherT } from '../src/execution/dispatcher.js';
import { DIST, from } from './built.js';

const { systemClock } = await from<typeof import('../src/clock.js')>('clock');
const { hostProbe } = await from<typeof import('../src/daemon/engine.js')>('daemon/engine');
const { Dispatcher } = await from<typeof import('../src/execution/dispatcher.js')>('execution/dispatcher');
const { detectBackend } = await from<typeof import('../src/execution/enforcement/detect.js')>('execution/enforcement/detect');
const { LoadBalancer } = await from<typeof import('../src/execution/load-balancer.js')>('execution/load-balancer');
const { ProcessLauncher } = await from<typeof import('../src/execution/process-launcher.js')>('execution/process-launcher');
const { runnerOptionsFromConfig } = await from<typeof import('../src/execution/runner.js')>('execution/runner');
const { Sampler } = await from<typeof import('../src/execution/sampler.js')>('execution/sampler');
const { SpawnHelper } = await from<typeof import('../src/execution/spawn-helper.js')>('execution/spawn-helper');
const { JobManager } = await from<typeof import('../src/jobs/manager.js')>('jobs/manager');
const { clockTicks } = await from<typeof import('../src/execution/procfs.js')>('execution/procfs');
const { openDatabase } = await from<typeof import('../src/storage/database.js')>('storage/database');

const SECONDS = Number(process.argv[2] ?? 60);
const NJOBS = Number(process.argv[3] ?? 200);
const NRUNS = Number(process.argv[4] ?? 200);
const CONCURRENCY = 10;
/** The daemon's default execution.start_lead_ms (BENCH_START_LEAD_MS=0: plan and spawn at the instant). */
const LEAD_MS = Number(process.env.BENCH_START_LEAD_MS ?? 750);

/** V8's CPU profiler over parts of this process (node:inspector), each part written to dir/<name>.cpuprofile. */
function cpuProfiler(dir: string) {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((ok, fail) => session.post(method, (e, r) => (e ? fail(e) : ok(r))));
  fs.mkdirSync(dir, { recursive: true });
  return {
    start: async () => {
      await post('Profiler.enable');
      await post('Profiler.start');
    },
    stop: async (name: string) => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      fs.writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

/** Busy CPU time of the whole host so far, in ms (all CPUs; /proc/stat's first line, idle and iowait excluded). */
function hostBusyMs(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const ticks = f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
  return (ticks * 1000) / clockTicks();
}

/**
 * Memory cgroups the kernel holds (/proc/cgroups) and how many of them are directories (the
 * rest were removed but are kept while page cache charged to them stays: "dying"). Many dying
 * ones make every memory cgroup operation slower; each run's removed cgroup can become one.
 */
function memoryCgroups(): { total: number; dying: number } | null {
  const row = /^memory\s+\d+\s+(\d+)\s+1$/m.exec(fs.readFileSync('/proc/cgroups', 'utf8'));
  if (!row) return null;
  let dirs = 0;
  const walk = (d: string) => {
    dirs++;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  try {
    walk('/sys/fs/cgroup/memory');
  } catch {
    return null; // no v1 memory hierarchy mounted there (cgroup v2: its own count is in cgroup.stat)
  }
  return { total: Number(row[1]), dying: Math.max(0, Number(row[1]) - dirs) };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};

/** Time spent in an async method, by name. */
const spent = new Map<string, { n: number; ms: number }>();
function timed(obj: object, method: string, label = method): void {
  const orig = ((obj as Record<string, unknown>)[method] as (...a: unknown[]) => Promise<unknown>).bind(obj);
  (obj as Record<string, unknown>)[method] = async (...a: unknown[]) => {
    const t = performance.now();
    try {
      return await orig(...a);
    } finally {
      const e = spent.get(label) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += performance.now() - t;
      spent.set(label, e);
    }
  };
}

/** BENCH_SQL_PROFILE=1: time every SQLite statement (by its text) in the throughput phase. */
const sqlSpent = new Map<string, { n: number; ms: number }>();
let sqlOn = false;
if (process.env.BENCH_SQL_PROFILE === '1') {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const proto = Object.getPrototypeOf(new BetterSqlite3(':memory:').prepare('select 1')) as Record<string, unknown>;
  for (const m of ['run', 'get', 'all']) {
    const orig = proto[m] as (...a: unknown[]) => unknown;
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      if (!sqlOn) return orig.apply(this, a);
      const t = performance.now();
      try {
        return orig.apply(this, a);
      } finally {
        const k = this.source.replace(/\s+/g, ' ').slice(0, 90);
        const e = sqlSpent.get(k) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += performance.now() - t;
        sqlSpent.set(k, e);
      }
    };
  }
}

const memcgAtStart = memoryCgroups();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-bench-dispatch-'));
const database = await openDatabase(`sqlite:${path.join(home, 'db.sqlite')}`);
const jobs = new JobManager(database, systemClock);
const slots = { default: { max_concurrent_jobs: 100, max_memory_mb: 1e6, max_cpu_percent: 100 }, tp: { max_concurrent_jobs: CONCURRENCY, max_memory_mb: 1e6, max_cpu_percent: 100 } };
const backend = detectBackend((process.env.BENCH_BACKEND ?? 'auto') as import('../src/execution/enforcement/detect.js').EnforcementPreference, { groupName: `sc-bench-dispatch-${process.pid}` });
backend.configureSlots(slots);
const sampler = new Sampler({ intervalMs: 100 });
// As the daemon does (engine.ts): shims forked by the spawn helper when Perl is here.
const spawner = process.env.BENCH_NO_SPAWN_HELPER === '1' ? null : SpawnHelper.create();
const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 8192, log_max_bytes: 1 << 20 }, sampler, systemClock, spawner));
const lb = new LoadBalancer({ node: 'bench', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
// The daemon's own view of each release (ms after the tick), by run start instant.
const released: { at: number; late: number }[] = [];
const d = new Dispatcher({ node: 'bench', jobs, lb, launcher, clock: systemClock, runsDir: path.join(home, 'runs'), maxSleepMs: 1000, startLeadMs: LEAD_MS, onLateness: (ms) => released.push({ at: Date.now() - ms, late: ms }) });
timed(launcher, 'launch', 'spawn (launcher.launch)');
timed(jobs, 'recordExecution', 'record (recordExecution)');
timed(jobs, 'getJobsDueForExecution', 'plan: due-jobs query');
timed(d['planner' as keyof DispatcherT] as unknown as object, 'planDue', 'plan (planDue, all)');
timed(d, 'cycle', 'cycle (plan + admit + launch)');

for (let i = 0; i < NJOBS; i++) {
  await jobs.registerJob(
    // The job prints the instant it started (ns): its lateness is measured from inside the run.
    { name: `job-${i}`, schedule: `${i % 10}-59/10 * * * * *`, timezone: 'UTC', command: ['date', '+%s%N'], estimated_memory_mb: 1, estimated_cpu_percent: 0, slot: 'default', overlap_policy: 'allow' },
    { source: 'manual', byUser: true },
  );
}
for (const i of [0, 1]) await jobs.registerJob({ name: `tp-${i}`, schedule: '@yearly', timezone: 'UTC', command: ['true'], estimated_memory_mb: 1, estimated_cpu_percent: 0, slot: 'tp', overlap_policy: 'allow' }, { source: 'manual', byUser: true });
const note = (m: string) => process.stderr.write(`# ${((Date.now() - T) / 1000).toFixed(1)} s: ${m}\n`);
const T = Date.now();
note('jobs registered');
const cpu0 = process.cpuUsage();
const t0 = Date.now();
d.start();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
note(`scheduled phase over: ${d.runningCount} running; draining`);
await d.stop({ drain: true });
note('drained');
const cpu = process.cpuUsage(cpu0);
const wall = Date.now() - t0;
const rows = await database.db.selectFrom('smart_cron_job_history').select(['id', 'scheduled_for', 'started_at', 'status', 'output_tail']).where('trigger', '=', 'schedule').execute();
// When each command really began: the date it printed (ns since the epoch), against its tick.
// Steady state: a tick within the start lead of the daemon's start (or before it: a catch-up)
// could not be prepared ahead; those are counted apart.
const steady = rows.filter((r) => Date.parse(r.scheduled_for) >= t0 + LEAD_MS);
const spawnLate = steady.filter((r) => /^\d{19}\s*$/.test(r.output_tail ?? '')).map((r) => Number(BigInt(r.output_tail!.trim()) / 1000n) / 1000 - Date.parse(r.scheduled_for));
const expected = Math.floor(SECONDS / 10) * NJOBS;
// In steady state, as for the spawn lateness (ticks at start-up could not be prepared ahead).
const admitLate = released.filter((r) => r.at >= t0 + LEAD_MS).map((r) => r.late);
// Ticks the daemon could not prepare ahead (their release came > 50 ms after the instant): when.
const lateTicks = steady.filter((r) => r.started_at && Date.parse(r.started_at) - Date.parse(r.scheduled_for) > 50);
if (lateTicks.length) {
  const bySecond = new Map<string, number[]>();
  for (const r of lateTicks) bySecond.set(r.scheduled_for, [...(bySecond.get(r.scheduled_for) ?? []), Date.parse(r.started_at!) - Date.parse(r.scheduled_for)]);
  for (const [at, late] of bySecond) note(`released late: ${late.length} run(s) of ${at} by ${Math.min(...late)}-${Math.max(...late)} ms`);
}
const phase1 = new Map(spent);
spent.clear();

// ---------------------------------------------------------------- throughput
// Throughput alone: the scheduled jobs are switched off.
await database.db.updateTable('smart_cron_integrated_jobs').set({ enabled: 0 }).where('name', 'like', 'job-%').execute();
note('throughput phase');
// In rounds, smart-cron then raw spawn, each round 1/ROUNDS of the runs: this VM's fork speed
// drifts by 2x within a minute, and alternating keeps both sides under the same conditions.
const ROUNDS = 4;
const profile = process.env.BENCH_CPU_PROFILE ? cpuProfiler(process.env.BENCH_CPU_PROFILE) : null;
let tpMs = 0;
let rawMs = 0;
// The host's busy CPU while each side ran: with 2 CPUs both sides are bound by it, not by one thread.
let tpHostMs = 0;
let rawHostMs = 0;
let tpElu = 0;
const tpCpu = { user: 0, system: 0 };
for (let round = 0, done = 0; round < ROUNDS; round++) {
  const n = Math.round((NRUNS * (round + 1)) / ROUNDS) - done;
  done += n;
  const host0 = hostBusyMs();
  const tp0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  sqlOn = true;
  await profile?.start();
  for (let i = 0; i < n; i++) await d.requestRun({ job: `tp-${i % 2}` });
  d.start();
  for (;;) {
    const left = await database.db.selectFrom('smart_cron_job_history').select((eb) => eb.fn.countAll<number>().as('n')).where('trigger', '=', 'manual').where('recorded', '=', 0).executeTakeFirstOrThrow();
    if (Number(left.n) === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - tp0;
  tpMs += ms;
  tpHostMs += hostBusyMs() - host0;
  tpElu += performance.eventLoopUtilization(elu0).utilization * ms;
  sqlOn = false;
  await profile?.stop(`throughput-${round + 1}`);
  const c = process.cpuUsage(cpu0);
  tpCpu.user += c.user;
  tpCpu.system += c.system;
  await d.stop({ drain: true });

  const rawHost0 = hostBusyMs();
  const raw0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) await new Promise((r) => spawn('true', { stdio: 'ignore' }).on('close', r));
    }),
  );
  rawMs += performance.now() - raw0;
  rawHostMs += hostBusyMs() - rawHost0;
  note(`round ${round + 1}: smart-cron ${((n / ms) * 1000).toFixed(0)}/s, raw ${((n / (performance.now() - raw0)) * 1000).toFixed(0)}/s`);
}
tpElu /= tpMs;

// The floor: the same 20 starts at one instant with no scheduler at all — each a raw
// `sh -c 'sleep S; exec date +%s%N'` spawned ahead, so the kernel alone starts them on time.
note('start floor');
const PER_TICK = Math.max(1, Math.round(NJOBS / 10));
const floorLate: number[] = [];
for (let round = 0; round < 10; round++) {
  const at = Date.now() + 600;
  const outs = await Promise.all(
    Array.from({ length: PER_TICK }, () => {
      const c = spawn('/bin/sh', ['-c', `sleep ${((at - Date.now()) / 1000).toFixed(3)}; exec date +%s%N`], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (b) => (out += b));
      return new Promise<string>((r) => c.on('close', () => r(out)));
    }),
  );
  for (const o of outs) if (/^\d{19}\s*$/.test(o)) floorLate.push(Number(BigInt(o.trim()) / 1000n) / 1000 - at);
}
// A second floor, the best any supervisor could do: the same 20 processes already running,
// each blocked reading a pipe, released by one write each at the instant (no timer, no sleep
// process ending), then each execs `date`. What is left is 20 wake-ups and execs on these cores.
note('start floor (pipe release)');
const pipeLate: number[] = [];
for (let round = 0; round < 10; round++) {
  const procs = Array.from({ length: PER_TICK }, () => spawn('/bin/sh', ['-c', 'read go; exec date +%s%N'], { stdio: ['pipe', 'pipe', 'ignore'] }));
  const outs = procs.map((c) => {
    let out = '';
    c.stdout!.on('data', (b) => (out += b));
    return new Promise<string>((r) => c.on('close', () => r(out)));
  });
  await new Promise((r) => setTimeout(r, 300));
  const at = Date.now() + 100;
  while (Date.now() < at) {
    /* spin to the instant */
  }
  for (const c of procs) c.stdin!.end('go\n');
  for (const o of await Promise.all(outs)) if (/^\d{19}\s*$/.test(o)) pipeLate.push(Number(BigInt(o.trim()) / 1000n) / 1000 - at);
}
sampler.stop();
spawner?.dispose();
backend.dispose();
await database.close();
fs.rmSync(home, { recursive: true, force: true });

const ours = NRUNS / (tpMs / 1000);
const raw = NRUNS / (rawMs / 1000);
const out: [string, string][] = [
  ['dispatch_jobs', String(NJOBS)],
  ['dispatch_runtime', DIST ? 'dist' : 'src'],
  ['dispatch_spawn_helper', spawner ? 'perl' : 'none'],
  ['dispatch_seconds', String(SECONDS)],
  ['dispatch_runs_started', String(rows.filter((r) => r.started_at).length)],
  ['dispatch_runs_expected_about', String(expected)],
  ['dispatch_runs_at_startup_not_measured', String(rows.length - steady.length)],
  ['dispatch_start_lead_ms', String(LEAD_MS)],
  ['dispatch_release_lateness_p50_ms', pct(admitLate, 50).toFixed(1)],
  ['dispatch_release_lateness_p99_ms', pct(admitLate, 99).toFixed(1)],
  ['dispatch_runs_released_late', String(lateTicks.length)],
  ['dispatch_spawn_lateness_p50_ms', pct(spawnLate, 50).toFixed(1)],
  ['dispatch_spawn_lateness_p90_ms', pct(spawnLate, 90).toFixed(1)],
  ['dispatch_spawn_lateness_p99_ms', pct(spawnLate, 99).toFixed(1)],
  ['dispatch_spawn_lateness_max_ms', Math.max(...spawnLate).toFixed(1)],
  ['dispatch_start_floor_p50_ms', pct(floorLate, 50).toFixed(1)],
  ['dispatch_start_floor_p99_ms', pct(floorLate, 99).toFixed(1)],
  ['dispatch_start_floor_pipe_p50_ms', pct(pipeLate, 50).toFixed(1)],
  ['dispatch_start_floor_pipe_p99_ms', pct(pipeLate, 99).toFixed(1)],
  // Every spawn forks this process: its size is what a fork costs (page tables), here and in the daemon.
  ['dispatch_process_rss_mb', (process.memoryUsage().rss / 1024 / 1024).toFixed(0)],
  ['dispatch_daemon_cpu_percent_of_core', (((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(1)],
  ['dispatch_runs_per_second', ours.toFixed(1)],
  // How busy the daemon's one thread was while the `true` runs went through (1 = saturated).
  ['dispatch_throughput_event_loop_utilization', tpElu.toFixed(2)],
  ['dispatch_throughput_daemon_cpu_ms_per_run', ((tpCpu.user + tpCpu.system) / 1000 / NRUNS).toFixed(2)],
  ['dispatch_throughput_daemon_system_cpu_ms_per_run', (tpCpu.system / 1000 / NRUNS).toFixed(2)],
  ['dispatch_throughput_host_cpu_ms_per_run', (tpHostMs / NRUNS).toFixed(2)],
  ['dispatch_raw_spawn_host_cpu_ms_per_spawn', (rawHostMs / NRUNS).toFixed(2)],
  ['dispatch_memory_cgroups_dying_at_start', memcgAtStart ? String(memcgAtStart.dying) : 'n/a'],
  ['dispatch_raw_spawn_per_second', raw.toFixed(1)],
  ['dispatch_throughput_ratio', (ours / raw).toFixed(2)],
];
for (const [k, v] of out) console.log(`${k} ${v}`);
console.log('');
console.log(`| ${NJOBS} jobs, ${SECONDS} s | p50 | p99 | goal |`);
console.log('| --- | ---: | ---: | --- |');
console.log(`| release lateness (the start the daemon gave) | ${pct(admitLate, 50).toFixed(1)} ms | ${pct(admitLate, 99).toFixed(1)} ms | |`);
console.log(`| spawn lateness (the command's own clock) | ${pct(spawnLate, 50).toFixed(1)} ms | ${pct(spawnLate, 99).toFixed(1)} ms | p99 <= 10 ms: ${pct(spawnLate, 99) <= 10 ? 'yes' : 'NO'} |`);
console.log(`| floor: ${PER_TICK} raw \`sleep; exec date\` at one instant, no scheduler | ${pct(floorLate, 50).toFixed(1)} ms | ${pct(floorLate, 99).toFixed(1)} ms | |`);
console.log(`| floor: ${PER_TICK} processes released by a pipe write at one instant, then exec date | ${pct(pipeLate, 50).toFixed(1)} ms | ${pct(pipeLate, 99).toFixed(1)} ms | |`);
console.log(`| throughput (${NRUNS} \`true\` runs, ${CONCURRENCY} at a time) | smart-cron ${ours.toFixed(1)}/s | raw spawn ${raw.toFixed(1)}/s | >= 50 %: ${ours / raw >= 0.5 ? 'yes' : 'NO'} (${((ours / raw) * 100).toFixed(0)} %) |`);
console.log(`| host CPU a run (all processes and the kernel) | smart-cron ${(tpHostMs / NRUNS).toFixed(2)} ms | raw spawn ${(rawHostMs / NRUNS).toFixed(2)} ms | |`);
console.log('');
console.log('where the time goes (scheduled phase | throughput phase): calls, mean ms, total s');
for (const label of new Set([...phase1.keys(), ...spent.keys()])) {
  const a = phase1.get(label);
  const b = spent.get(label);
  const fmt = (e?: { n: number; ms: number }) => (e ? `${e.n} x ${(e.ms / e.n).toFixed(1)} ms = ${(e.ms / 1000).toFixed(1)} s` : '-');
  console.log(`  ${label.padEnd(32)} ${fmt(a).padEnd(30)} | ${fmt(b)}`);
}
if (sqlSpent.size) {
  console.log(`\nSQLite statements in the throughput phase (${NRUNS} runs): calls, total ms`);
  for (const [k, e] of [...sqlSpent].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`  ${String(e.n).padStart(6)} ${e.ms.toFixed(0).padStart(6)}  ${k}`);
}
