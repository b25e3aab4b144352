/**
 * The seed's story as a benchmark: a burst of memory-hungry jobs all due at the same tick into a
 * slot with a memory budget. Measured in the same run for smart-cron (Dispatcher + LoadBalancer +
 * real runs) and for "all at once" (every job spawned together with child_process, as plain cron
 * does): the peak of the jobs' summed memory, the makespan, and the ideal lower bound
 * max(sum(mem x time) / budget, longest job). A job's `time` is its own: each job is first run
 * alone (`S` seconds of holding N MB take S + 20-50 ms here: starting, touching N MB, freeing it);
 * the bound from the nominal S is printed beside it. smart-cron runs as the daemon does, with the
 * spawn helper and the default start lead.
 *
 * Summed memory comes from a cgroup v1 memory cgroup around all the jobs where we may create one
 * (smart-cron: the slot's cgroup, whose kernel limit is lifted so that only admission keeps it in
 * the budget; all at once: a cgroup of our own), else from RSS summed over the jobs' process trees
 * sampled every 20 ms. GNU parallel --memfree is measured too when `parallel` is installed.
 *
 * smart-cron runs the burst twice: with each job stating its memory and its duration (what a
 * user who knows them sets: `--memory-mb`, `--duration`), which lets the queue place the
 * largest memory × time first (memory_guard_makespan_ratio), and with memory alone, as first
 * runs of jobs nobody timed (memory_guard_makespan_ratio_unstated).
 *
 *   node --import tsx bench/memory-guard.ts [budgetMb=800] [jobs=150:1,400:3,...]
 *   BENCH_TIMELINE=1 ...   also each run's start, end and peak (stderr), in start order
 * prints `name value` lines (memory_guard_peak_mb, memory_guard_budget_mb, all_at_once_peak_mb,
 * memory_guard_makespan_ratio, ...) and a short table.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/clock.js';
import { hostProbe } from '../src/daemon/engine.js';
import { Dispatcher } from '../src/execution/dispatcher.js';
import { createBackend, probeHost } from '../src/execution/enforcement/detect.js';
import type { EnforcementBackend } from '../src/execution/enforcement/types.js';
import { LoadBalancer } from '../src/execution/load-balancer.js';
import { ProcessLauncher } from '../src/execution/process-launcher.js';
import { queueOrder } from '../src/execution/queue.js';
import { runnerOptionsFromConfig } from '../src/execution/runner.js';
import { Sampler } from '../src/execution/sampler.js';
import { SpawnHelper } from '../src/execution/spawn-helper.js';
import { JobManager } from '../src/jobs/manager.js';
import { openDatabase } from '../src/storage/database.js';

const HOLD = fileURLToPath(new URL('../test/fixtures/exec-core/hold-mb.sh', import.meta.url));
const BUDGET = Number(process.argv[2] ?? 800);
const JOBS: { mb: number; s: number }[] = (process.argv[3] ?? '300:2,150:1,400:3,250:2,200:1,350:2,150:3,300:1')
  .split(',')
  .map((p) => {
    const [mb, s] = p.split(':').map(Number);
    return { mb: mb!, s: s! };
  });
const MB = 1024 * 1024;
/** The daemon's default start lead (config execution.start_lead_ms). */
const START_LEAD_MS = Number(process.env.BENCH_START_LEAD_MS ?? 750);
/** What a job uses beyond the N MB it touches (see the estimates below). */
const JOB_OVERHEAD_MB = 3;
const probe = probeHost();
const memRoot = probe.cgroup1.controllers.memory?.base ?? null;
const useCgroup = probe.cgroup1.ok && memRoot !== null;

// ---------------------------------------------------------------- measuring summed memory

/** RSS (MB) summed over the process trees under the given root pids, from /proc. */
function treeRssMb(roots: Set<number>): number {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      rss.set(Number(d), (Number(f[21]) * 4096) / MB);
    } catch {
      // gone meanwhile
    }
  }
  let sum = 0;
  for (const [pid, r] of rss) {
    for (let p: number | undefined = pid, hops = 0; p && hops < 50; p = parent.get(p), hops++) {
      if (roots.has(p)) {
        sum += r;
        break;
      }
    }
  }
  return sum;
}

class PeakWatch {
  peakSampledMb = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly roots: () => Set<number>,
    private readonly cgroupDir: string | null,
  ) {}
  start(): void {
    if (this.cgroupDir) fs.writeFileSync(path.join(this.cgroupDir, 'memory.max_usage_in_bytes'), '0');
    this.timer = setInterval(() => {
      this.peakSampledMb = Math.max(this.peakSampledMb, treeRssMb(this.roots()));
    }, 20);
  }
  stop(): { peakMb: number; source: string } {
    if (this.timer) clearInterval(this.timer);
    if (this.cgroupDir) {
      const bytes = Number(fs.readFileSync(path.join(this.cgroupDir, 'memory.max_usage_in_bytes'), 'utf8'));
      return { peakMb: bytes / MB, source: 'cgroup' };
    }
    return { peakMb: this.peakSampledMb, source: 'sampled' };
  }
}

// ---------------------------------------------------------------- each job alone

/**
 * Each job's own time (s): run alone, one after another, with plain child_process and nothing
 * else of ours running. This is the `time` of the bound: a job that holds N MB for S seconds
 * takes longer than S (starting its processes, touching N MB, and freeing it at exit), and no
 * scheduler can make it shorter. Timed from spawn() to the exit event, so Node's own fork of this
 * process is in it too: ~2 ms a job, ~0.1 % of the bound.
 */
async function soloTimes(): Promise<number[]> {
  const out: number[] = [];
  for (const { mb, s } of JOBS) {
    const t0 = performance.now();
    const c = spawn(HOLD, [String(mb), String(s)], { stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    if (code !== 0) throw new Error(`${HOLD} ${mb} ${s} alone exited with ${code}`);
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

// ---------------------------------------------------------------- all at once (plain cron)

async function allAtOnce(): Promise<{ peakMb: number; sampledMb: number; source: string; makespanMs: number; failed: number }> {
  let dir: string | null = null;
  if (useCgroup) {
    dir = path.join(memRoot!, `sc-bench-cron-${process.pid}`);
    fs.mkdirSync(dir, { recursive: true });
  }
  const pids = new Set<number>();
  const watch = new PeakWatch(() => pids, dir);
  watch.start();
  const t0 = Date.now();
  const exits = JOBS.map(({ mb, s }) => {
    // The child moves itself into the cgroup before exec'ing the job, so all its memory is charged there.
    const line = dir ? `echo $$ > ${dir}/cgroup.procs && exec ${HOLD} ${mb} ${s}` : `exec ${HOLD} ${mb} ${s}`;
    const c = spawn('/bin/sh', ['-c', line], { stdio: 'ignore' });
    pids.add(c.pid!);
    return new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  });
  const codes = await Promise.all(exits);
  const makespanMs = Date.now() - t0;
  const { peakMb, source } = watch.stop();
  if (dir) fs.rmdirSync(dir);
  return { peakMb, sampledMb: watch.peakSampledMb, source, makespanMs, failed: codes.filter((c) => c !== 0).length };
}

// ---------------------------------------------------------------- GNU parallel --memfree

async function gnuParallel(): Promise<{ peakMb: number; makespanMs: number } | null> {
  if (spawnSync('sh', ['-c', 'command -v parallel']).status !== 0) return null;
  const pids = new Set<number>();
  const watch = new PeakWatch(() => pids, null);
  watch.start();
  const t0 = Date.now();
  const c = spawn('parallel', ['--will-cite', '--memfree', `${Math.round(Math.max(...JOBS.map((j) => j.mb)))}M`, '-j', String(JOBS.length), HOLD, '{1}', '{2}', ':::+', ...JOBS.map((j) => String(j.mb)), ':::+', ...JOBS.map((j) => String(j.s))], {
    stdio: 'ignore',
  });
  pids.add(c.pid!);
  await new Promise((r) => c.on('close', r));
  return { peakMb: watch.stop().peakMb, makespanMs: Date.now() - t0 };
}

// ---------------------------------------------------------------- smart-cron

async function smartCron(stateDurations: boolean): Promise<{ peakMb: number; sampledMb: number; source: string; makespanMs: number; recorded: number; failed: number; maxReservedMb: number; peaks: number[]; durations: number[] }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-bench-guard-'));
  const database = await openDatabase(`sqlite:${path.join(home, 'db.sqlite')}`);
  const jobs = new JobManager(database, systemClock);
  const slot = 'guard';
  const slots = { [slot]: { max_concurrent_jobs: JOBS.length, max_memory_mb: BUDGET, max_cpu_percent: 100 } };
  const group = `sc-bench-${process.pid}`;
  const backend: EnforcementBackend = createBackend(useCgroup ? 'cgroup1' : probe.auto === 'cgroup2' ? 'cgroup2' : 'portable', { groupName: group }, probe);
  // The kernel limit of the slot is lifted: only admission may keep the jobs inside the budget.
  backend.configureSlots({ [slot]: { max_memory_mb: 1024 * 1024, max_cpu_percent: 100 } });
  const sampler = new Sampler({ intervalMs: 20 });
  // As the daemon does (engine.ts): shims forked by the spawn helper when Perl is here, and runs
  // due at a tick prepared before it (the start lead, config execution.start_lead_ms).
  const spawner = SpawnHelper.create();
  const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 8192, log_max_bytes: 1 << 20 }, sampler, systemClock, spawner));
  const lb = new LoadBalancer({ node: 'bench', slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database });
  const d = new Dispatcher({ node: 'bench', jobs, lb, launcher, clock: systemClock, runsDir: path.join(home, 'runs'), maxSleepMs: 1000, startLeadMs: START_LEAD_MS });
  const at = Math.ceil((Date.now() + 2000) / 1000) * 1000;
  const t = new Date(at);
  const schedule = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
  for (const [i, { mb, s }] of JOBS.entries()) {
    await jobs.registerJob(
      // The estimate is the job's whole footprint: its N MB of data plus its three small
      // processes (sh, dd, sleep: ~2 MB) and smart-cron's shim (~0.5 MB), all in its cgroup.
      // With stateDurations each job also states how long it holds its memory, as a user who
      // knows it would (`--duration`); else the queue knows memory only (first runs, unstated).
      { name: `hungry-${i}`, schedule, timezone: 'UTC', command: [HOLD, String(mb), String(s)], estimated_memory_mb: mb + JOB_OVERHEAD_MB, estimated_cpu_percent: 1, slot, timeout_seconds: 600, ...(stateDurations ? { estimated_duration_seconds: s } : {}) },
      { source: 'manual', byUser: true },
    );
  }
  const pids = new Set<number>();
  const slotDir = useCgroup ? path.join(memRoot!, group, slot) : null;
  const watch = new PeakWatch(() => {
    for (const r of d['active' as keyof Dispatcher] as unknown as Map<number, { launched: { pid: number | null } | null }>) if (r[1].launched?.pid) pids.add(r[1].launched.pid);
    return pids;
  }, slotDir);
  let maxReservedMb = 0;
  const resv = setInterval(() => (maxReservedMb = Math.max(maxReservedMb, lb.usage(slot).memoryMb)), 5);
  d.start();
  while (Date.now() < at - 300) await new Promise((r) => setTimeout(r, 50));
  watch.start();
  let rows = await database.db.selectFrom('smart_cron_job_history').selectAll().execute();
  while (!(rows.length === JOBS.length && rows.every((r) => r.recorded === 1))) {
    await new Promise((r) => setTimeout(r, 100));
    rows = await database.db.selectFrom('smart_cron_job_history').selectAll().execute();
  }
  clearInterval(resv);
  const { peakMb, source } = watch.stop();
  await d.stop({ drain: true });
  sampler.stop();
  spawner?.dispose();
  backend.dispose();
  await database.close();
  fs.rmSync(home, { recursive: true, force: true });
  const start = Math.min(...rows.map((r) => Date.parse(r.started_at!)));
  const end = Math.max(...rows.map((r) => Date.parse(r.finished_at!)));
  if (process.env.BENCH_TIMELINE === '1') {
    // Each run: when it started and ended (ms after the tick), and its peak, in start order.
    for (const r of [...rows].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!))) {
      process.stderr.write(`# run ${r.id} ${JOBS[r.job_id - 1]!.mb}:${JOBS[r.job_id - 1]!.s} start +${Date.parse(r.started_at!) - at} end +${Date.parse(r.finished_at!) - at} (${r.duration_ms} ms, ${r.peak_memory_mb} MB)\n`);
    }
  }
  return {
    peakMb,
    sampledMb: watch.peakSampledMb,
    source,
    makespanMs: end - Math.min(start, at),
    recorded: rows.length,
    failed: rows.filter((r) => r.status !== 'succeeded').length,
    maxReservedMb,
    peaks: rows.map((r) => r.peak_memory_mb ?? 0),
    // in JOBS order (job i is registered i-th: job_id i + 1)
    durations: JOBS.map((_, i) => rows.find((r) => r.job_id === i + 1)?.duration_ms ?? 0),
  };
}

// ---------------------------------------------------------------- main

/**
 * The same admission rule with zero overhead: the queue's own order (queue.ts: runs due at one
 * tick are peers, so the largest goes first and the others fill the room around a run that does
 * not fit), each run taking `times[i]` seconds (default: its nominal s). What the policy itself
 * costs against the bound: 'stated' when the jobs state their durations (the queue orders on
 * memory × stated duration), 'unstated' when it knows their memory only; 'strict' is the rule
 * before peers could pass (registration order; a run that does not fit holds back all the
 * others), for comparison.
 */
function policyIdealMs(jobs: { mb: number; s: number }[], mode: 'stated' | 'unstated' | 'strict', times?: number[]): number {
  const strict = mode === 'strict';
  const tick = new Date(0).toISOString();
  const runs = jobs.map((j, i) => ({ id: i + 1, priority: 'medium' as const, queued_at: tick, scheduled_for: tick, ...j, took: times?.[i] ?? j.s }));
  const waiting = strict ? runs : queueOrder(runs, (r) => ({ memoryMb: r.mb + JOB_OVERHEAD_MB, durationS: mode === 'stated' ? r.s : null }));
  let t = 0;
  const running: { end: number; mb: number }[] = [];
  while (waiting.length > 0) {
    for (let i = 0; i < waiting.length; ) {
      const mb = waiting[i]!.mb + JOB_OVERHEAD_MB; // as reserved
      if (running.reduce((s, r) => s + r.mb, 0) + mb <= BUDGET || running.length === 0) {
        running.push({ end: t + waiting[i]!.took * 1000, mb });
        waiting.splice(i, 1);
      } else if (strict) break;
      else i++;
    }
    running.sort((a, b) => a.end - b.end);
    if (waiting.length > 0) t = running.shift()!.end;
  }
  return Math.max(t, ...running.map((r) => r.end));
}
/** The issue's ideal lower bound, max(sum(mem × time) / budget, longest job), with each job taking `times[i]` seconds (default: its nominal s). */
const boundMs = (jobs: { mb: number; s: number }[], times?: number[]) => {
  const took = jobs.map((j, i) => times?.[i] ?? j.s);
  return Math.max((jobs.reduce((s, j, i) => s + j.mb * took[i]!, 0) / BUDGET) * 1000, Math.max(...took) * 1000);
};
/** The policy on 1,000 random bursts (4-15 jobs of 50-450 MB, 0.5-4.5 s; a fixed seed): mean ratio to their bounds. */
function randomBurstsMeanRatio(mode: 'stated' | 'unstated' | 'strict'): number {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let sum = 0;
  for (let k = 0; k < 1000; k++) {
    const jobs = Array.from({ length: 4 + Math.floor(rnd() * 12) }, () => ({ mb: 50 + Math.floor(rnd() * 400), s: 0.5 + rnd() * 4 }));
    sum += policyIdealMs(jobs, mode) / boundMs(jobs);
  }
  return sum / 1000;
}
const solo = await soloTimes();
const cron = await allAtOnce();
const sc = await smartCron(true);
const scUnstated = await smartCron(false);
const par = await gnuParallel();
// The goal's bound: from each job's own time, measured alone in this run.
const lowerBoundMs = boundMs(JOBS, solo);
// The same bound from the nominal S of each job (what it holds its memory for), and from the
// durations smart-cron's runs took (a loaded machine stretches every job).
const nominalBoundMs = boundMs(JOBS);
const measuredLowerMs = boundMs(JOBS, sc.durations.map((ms) => ms / 1000));
// The queue's rule with zero overhead, on the jobs' own times and on their nominal ones.
const policyMs = policyIdealMs(JOBS, 'stated', solo);
const policyUnstatedMs = policyIdealMs(JOBS, 'unstated', solo);
const policyNominalMs = policyIdealMs(JOBS, 'stated');

const f = (n: number, d = 1) => n.toFixed(d);
const lines: [string, string][] = [
  ['memory_guard_budget_mb', f(BUDGET, 0)],
  ['memory_guard_jobs', String(JOBS.length)],
  ['memory_guard_sum_of_jobs_mb', f(JOBS.reduce((s, j) => s + j.mb, 0), 0)],
  ['memory_guard_peak_mb', f(sc.peakMb)],
  ['memory_guard_peak_source', sc.source],
  ['memory_guard_peak_sampled_rss_mb', f(sc.sampledMb)],
  ['memory_guard_max_reserved_mb', f(sc.maxReservedMb)],
  ['memory_guard_runs_recorded', String(sc.recorded)],
  ['memory_guard_runs_failed', String(sc.failed)],
  ['memory_guard_makespan_s', f(sc.makespanMs / 1000, 2)],
  ['memory_guard_job_times_s', solo.map((t) => f(t, 3)).join(',')],
  ['memory_guard_lower_bound_s', f(lowerBoundMs / 1000, 2)],
  ['memory_guard_makespan_ratio', f(sc.makespanMs / lowerBoundMs, 2)],
  ['memory_guard_policy_ideal_makespan_s', f(policyMs / 1000, 2)],
  ['memory_guard_policy_ideal_ratio', f(policyMs / lowerBoundMs, 2)],
  ['memory_guard_lower_bound_nominal_s', f(nominalBoundMs / 1000, 2)],
  ['memory_guard_makespan_ratio_nominal', f(sc.makespanMs / nominalBoundMs, 2)],
  ['memory_guard_policy_ideal_ratio_nominal', f(policyNominalMs / nominalBoundMs, 2)],
  ['memory_guard_zero_overhead_ratio_nominal', f(policyMs / nominalBoundMs, 2)],
  ['memory_guard_makespan_ratio_unstated', f(scUnstated.makespanMs / lowerBoundMs, 2)],
  ['memory_guard_peak_unstated_mb', f(scUnstated.peakMb)],
  ['memory_guard_runs_failed_unstated', String(scUnstated.failed + JOBS.length - scUnstated.recorded)],
  ['memory_guard_policy_ideal_ratio_unstated', f(policyUnstatedMs / lowerBoundMs, 2)],
  ['memory_guard_policy_random_bursts_mean_ratio', f(randomBurstsMeanRatio('stated'), 3)],
  ['memory_guard_policy_random_bursts_unstated_mean_ratio', f(randomBurstsMeanRatio('unstated'), 3)],
  ['memory_guard_strict_fifo_random_bursts_mean_ratio', f(randomBurstsMeanRatio('strict'), 3)],
  ['memory_guard_lower_bound_measured_s', f(measuredLowerMs / 1000, 2)],
  ['memory_guard_makespan_ratio_measured', f(sc.makespanMs / measuredLowerMs, 2)],
  ['all_at_once_peak_mb', f(cron.peakMb)],
  ['all_at_once_peak_source', cron.source],
  ['all_at_once_peak_sampled_rss_mb', f(cron.sampledMb)],
  ['all_at_once_makespan_s', f(cron.makespanMs / 1000, 2)],
  ['all_at_once_failed', String(cron.failed)],
];
if (par) lines.push(['gnu_parallel_memfree_peak_mb', f(par.peakMb)], ['gnu_parallel_memfree_makespan_s', f(par.makespanMs / 1000, 2)]);
for (const [k, v] of lines) console.log(`${k} ${v}`);
console.log('');
console.log(`| ${JOBS.length} jobs, ${JOBS.reduce((s, j) => s + j.mb, 0)} MB in all, budget ${BUDGET} MB | peak of summed memory | makespan | runs ok |`);
console.log('| --- | ---: | ---: | ---: |');
console.log(`| smart-cron | ${f(sc.peakMb, 0)} MB (${sc.source}) | ${f(sc.makespanMs / 1000, 2)} s (${f(sc.makespanMs / lowerBoundMs, 2)} x bound ${f(lowerBoundMs / 1000, 2)} s; ${f(sc.makespanMs / nominalBoundMs, 2)} x bound from nominal times ${f(nominalBoundMs / 1000, 2)} s) | ${sc.recorded - sc.failed}/${JOBS.length} |`);
console.log(`| smart-cron, durations not stated | ${f(scUnstated.peakMb, 0)} MB (${scUnstated.source}) | ${f(scUnstated.makespanMs / 1000, 2)} s (${f(scUnstated.makespanMs / lowerBoundMs, 2)} x bound) | ${scUnstated.recorded - scUnstated.failed}/${JOBS.length} |`);
console.log(`| all at once (plain cron) | ${f(cron.peakMb, 0)} MB (${cron.source}) | ${f(cron.makespanMs / 1000, 2)} s | ${JOBS.length - cron.failed}/${JOBS.length} |`);
console.log(par ? `| GNU parallel --memfree | ${f(par.peakMb, 0)} MB (sampled) | ${f(par.makespanMs / 1000, 2)} s | |` : '| GNU parallel --memfree | not installed | | |');
console.log(`each job's own time, run alone: ${solo.map((t, i) => `${JOBS[i]!.mb}:${JOBS[i]!.s} ${f(t, 3)} s`).join(', ')}`);
console.log(`the admission rule itself (the queue's order; runs of one tick fill the room around one that does not fit) with zero overhead would take ${f(policyMs / 1000, 2)} s = ${f(policyMs / lowerBoundMs, 2)} x the bound (${f(policyUnstatedMs / lowerBoundMs, 2)} x when durations are not stated; ${f(policyMs / nominalBoundMs, 2)} x the bound from nominal times)`);
console.log(`goals: peak <= budget: ${Math.max(sc.peakMb, scUnstated.peakMb) <= BUDGET ? 'yes' : 'NO'}; no run lost: ${sc.recorded === JOBS.length && scUnstated.recorded === JOBS.length ? 'yes' : 'NO'}; makespan <= 1.2 x bound: ${sc.makespanMs <= 1.2 * lowerBoundMs ? 'yes' : 'NO'} (${f(sc.makespanMs / lowerBoundMs, 2)})`);
