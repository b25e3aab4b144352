/**
 * `npm run bench`: runs every benchmark program in bench/ one after another as a child process
 * (a per-bench timeout, arguments sized for a two-core machine), reads their `name value` lines,
 * and prints ONE table — figure, value, unit, goal, whether it meets it, and the peer figure
 * measured in the same run where there is one — and writes it to bench/results.json.
 *
 *   npm run bench                       every bench
 *   npm run bench -- api dispatch       only these (file names without .ts)
 *   BENCH_TIMEOUT_S=900 npm run bench   override every per-bench timeout
 *
 * A bench that fails or times out becomes a row with its error; the runner carries on.
 * The goals (from the issues) live in GOALS below, in one place.
 */
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive, removeCgroups } from '../scripts/cgroups.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(BENCH_DIR, '..');
/** Files in bench/ that are not benchmark programs. */
const NOT_BENCHES = new Set(['built.ts', 'run.ts']);

/** Arguments and timeouts that fit a loaded two-core machine (the programs' own defaults otherwise). */
const PLAN: Record<string, { args?: string[]; env?: Record<string, string>; timeoutS: number }> = {
  'record-cost': { timeoutS: 600 },
  sampling: { args: ['100', '10'], timeoutS: 180 },
  api: { args: ['--jobs', '10000', '--runs', '1000000', '--requests', '200'], timeoutS: 900 },
  dashboard: { timeoutS: 600 },
  discovery: { args: ['--files', '100000'], timeoutS: 600 },
  dispatch: { args: ['30', '200', '200'], timeoutS: 300 },
  'memory-guard': { timeoutS: 300 },
  // One daemon after the other: 1,000 jobs (the goal), then 10,000 (reported beside it).
  'idle-rss': { args: ['30', '1000,10000', '--dist'], timeoutS: 600 },
  cluster: { args: ['--seconds', '20'], timeoutS: 600 },
  load: { timeoutS: 600 },
};
const DEFAULT_TIMEOUT_S = 300;

export interface Row {
  figure: string;
  value: number | string | null;
  unit: string;
  goal: string | null;
  meets_goal: boolean | null;
  peer: string | null;
  peer_value: number | string | null;
  bench: string;
  error?: string;
}

type Figures = Map<string, number | string>;

interface Goal {
  match: string | RegExp;
  unit?: string;
  goal?: string;
  /** Does the value meet the goal? May read other figures of the same run. */
  meets?: (v: number, all: Figures) => boolean | null;
  /** The peer figure to show beside it (a baseline measured in the same run). */
  peer?: string | ((figure: string) => string);
}

const num = (all: Figures, k: string): number | null => {
  const v = all.get(k);
  return typeof v === 'number' ? v : null;
};

/** The goals from the issues, in one place. */
const GOALS: Goal[] = [
  { match: 'record_cost_ratio', unit: 'x', goal: '<= 1.5 (1M vs 1k history rows)', meets: (v) => v <= 1.5, peer: 'record_cost_ms_at_1k' },
  { match: /^record_cost_ms_at_(?!1k)/, unit: 'ms', peer: 'record_cost_ms_at_1k' },
  { match: 'sampling_cpu_percent_of_core', unit: '% of a core', goal: '< 3 at 100 runs', meets: (v) => v < 3, peer: 'sampling_cpu_percent_of_core_portable' },
  { match: /^sampling_cpu_percent_of_core_/, unit: '% of a core', goal: '< 3 at 100 runs', meets: (v) => v < 3 },
  { match: /^api_.*_p95_ms$/, unit: 'ms', goal: '<= 30 (10k jobs, 1M runs)', meets: (v) => v <= 30, peer: (f) => f.replace(/_p95_ms$/, '_p50_ms') },
  { match: 'dashboard_first_render_ms', unit: 'ms', goal: '<= 1000', meets: (v) => v <= 1000 },
  { match: 'dispatch_spawn_lateness_p99_ms', unit: 'ms', goal: '<= 10', meets: (v) => v <= 10, peer: 'dispatch_start_floor_pipe_p99_ms' },
  { match: /^dispatch_(spawn_lateness|start_floor|release_lateness)_(p50|p90|max)_ms$|^dispatch_(start_floor|release_lateness)_p99_ms$/, unit: 'ms' },
  { match: 'dispatch_throughput_ratio', unit: 'x raw spawn', goal: '>= 0.5', meets: (v) => v >= 0.5, peer: 'dispatch_raw_spawn_per_second' },
  { match: 'dispatch_runs_per_second', unit: 'runs/s', peer: 'dispatch_raw_spawn_per_second' },
  { match: 'dispatch_process_rss_mb', unit: 'MB' },
  {
    match: /^memory_guard_peak(_unstated)?_mb$/,
    unit: 'MB',
    goal: '<= budget (memory_guard_budget_mb)',
    meets: (v, all) => {
      const b = num(all, 'memory_guard_budget_mb');
      return b === null ? null : v <= b;
    },
    peer: 'all_at_once_peak_mb',
  },
  // The jobs state memory and duration (--memory-mb, --duration); the bound from each job's own
  // time, measured alone in the same run; peer: the same rule with zero overhead.
  { match: 'memory_guard_makespan_ratio', unit: 'x lower bound', goal: '<= 1.2', meets: (v) => v <= 1.2, peer: 'memory_guard_policy_ideal_ratio' },
  // The same burst with memory alone (first runs of jobs nobody timed): reported beside it.
  { match: 'memory_guard_makespan_ratio_unstated', unit: 'x lower bound', peer: 'memory_guard_policy_ideal_ratio_unstated' },
  // Against the bound from the nominal seconds each job holds its memory (shorter than the job's
  // own time); peer: zero overhead on the jobs' own times against that bound.
  { match: 'memory_guard_makespan_ratio_nominal', unit: 'x nominal bound', peer: 'memory_guard_zero_overhead_ratio_nominal' },
  { match: 'memory_guard_makespan_ratio_measured', unit: 'x measured bound', peer: 'memory_guard_lower_bound_measured_s' },
  { match: 'memory_guard_runs_failed_unstated', unit: 'runs', goal: '0', meets: (v) => v === 0 },
  { match: 'memory_guard_makespan_s', unit: 's', peer: 'all_at_once_makespan_s' },
  { match: /^memory_guard_policy_random_bursts_(unstated_)?mean_ratio$/, unit: 'x lower bound', peer: 'memory_guard_strict_fifo_random_bursts_mean_ratio' },
  { match: 'memory_guard_runs_failed', unit: 'runs', goal: '0', meets: (v) => v === 0, peer: 'all_at_once_failed' },
  // bench/idle-rss.ts names each figure after its job count (_1k, _10k): the goal is at 1k, other counts are reported beside it.
  { match: /^idle_rss_.*_mb_1k$/, unit: 'MB', goal: '<= 80 at 1k jobs', meets: (v) => v <= 80 },
  { match: /^idle_rss_.*_mb_[^_]+$/, unit: 'MB', peer: (f) => f.replace(/_[^_]+$/, '_1k') },
  { match: /^idle_cpu_percent_of_core_[^_]+$/, unit: '% of a core', peer: (f) => (f.endsWith('_1k') ? '' : f.replace(/_[^_]+$/, '_1k')) },
  { match: /^idle_(startup|register)_s_[^_]+$/, unit: 's', peer: (f) => (f.endsWith('_1k') ? '' : f.replace(/_[^_]+$/, '_1k')) },
  { match: 'discovery_100k_files_seconds', unit: 's', goal: '< 10', meets: (v) => v < 10 },
  { match: /^cluster_runs_per_second_[23]nodes?$/, unit: 'runs/s', peer: 'cluster_runs_per_second_1node' },
  { match: 'cluster_scaling_ratio_3v1', unit: 'x 1 node' },
  { match: 'load_api_list_p95_ms', unit: 'ms', goal: '<= 30 while the burst drains', meets: (v) => v <= 30, peer: 'load_api_list_p95_idle_ms' },
  { match: 'load_priority_order', unit: '1 = yes', goal: '1 (drains in priority order)', meets: (v) => v === 1 },
  { match: 'load_drain_seconds', unit: 's', peer: 'load_burst_runs' },
];

function unitFromName(f: string): string {
  if (/_ms(_at_|$)/.test(f)) return 'ms';
  if (/_(s|seconds)$/.test(f)) return 's';
  if (/_mb$/.test(f)) return 'MB';
  if (/percent/.test(f)) return '%';
  if (/_ratio/.test(f)) return 'x';
  if (/per_second/.test(f)) return '/s';
  return '';
}

export function rowsFor(bench: string, figures: Figures): Row[] {
  const rows: Row[] = [];
  for (const [figure, value] of figures) {
    const g = GOALS.find((x) => (typeof x.match === 'string' ? x.match === figure : x.match.test(figure)));
    const peer = g?.peer ? (typeof g.peer === 'string' ? g.peer : g.peer(figure)) : null;
    rows.push({
      figure,
      value,
      unit: g?.unit ?? unitFromName(figure),
      goal: g?.goal ?? null,
      meets_goal: g?.meets && typeof value === 'number' ? g.meets(value, figures) : null,
      peer: peer && figures.has(peer) ? peer : null,
      peer_value: peer ? (figures.get(peer) ?? null) : null,
      bench,
    });
  }
  return rows;
}

export function parseFigures(stdout: string): Figures {
  const out: Figures = new Map();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z][a-z0-9_]*) (\S+)\s*$/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    out.set(m[1]!, Number.isFinite(n) && m[2] !== '' ? n : m[2]!);
  }
  return out;
}

interface Outcome {
  figures: Figures;
  error: string | null;
  seconds: number;
}

let current: { pid: number } | null = null;

function runBench(name: string): Promise<Outcome> {
  const plan = PLAN[name] ?? { timeoutS: DEFAULT_TIMEOUT_S };
  const timeoutS = Number(process.env.BENCH_TIMEOUT_S) || plan.timeoutS;
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Its own process group: a timeout ends the bench and whatever it started.
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, `${name}.ts`), ...(plan.args ?? [])], {
      cwd: ROOT,
      env: { ...process.env, SMART_CRON_CGROUP_PREFIX: DAEMON_CGROUP_PREFIX, ...plan.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    current = { pid: child.pid! };
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      process.stderr.write(`  [${name}] ${String(d).replace(/\n(?=.)/g, `\n  [${name}] `)}`);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      process.stderr.write(`  [${name}] ${String(d).replace(/\n(?=.)/g, `\n  [${name}] `)}`);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = null;
      const figures = parseFigures(stdout);
      const seconds = (Date.now() - t0) / 1000;
      let error: string | null = null;
      if (timedOut) error = `timed out after ${timeoutS} s`;
      else if (code !== 0) error = `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`;
      else if (figures.size === 0) error = `printed no figures${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}` : ''}`;
      resolve({ figures, error, seconds });
    });
  });
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'NO';
  return String(v);
}

export function table(rows: Row[]): string {
  const head = ['figure', 'value', 'unit', 'goal', 'meets goal', 'peer', 'peer value'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    if (r.error) lines.push(`| ${r.figure} | error | | | NO | | ${r.error.replace(/\|/g, '/')} |`);
    else lines.push(`| ${[r.figure, fmt(r.value), r.unit, fmt(r.goal), fmt(r.meets_goal), fmt(r.peer), fmt(r.peer_value)].join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The cgroup prefix of the real daemons the benches start (idle-rss, load, ...): a daemon keeps
 * its cgroups when it stops, and these are removed at the end (a user's own prefix is kept).
 */
const DAEMON_CGROUP_PREFIX = process.env.SMART_CRON_CGROUP_PREFIX || `sc-bench-run-${process.pid}`;

/**
 * Empty cgroups of benches that are gone (killed on their timeout or by hand keep them:
 * sc-bench-<pid>, sc-bench-<what>-<pid>, and sc-bench-run-<pid>-<tag> of their daemons): they
 * would slow the next run's cgroup accounting.
 */
function removeDeadBenchCgroups(): void {
  removeCgroups((name) => {
    const m = /^sc-bench-(?:[a-z]+-)?(\d+)(?:-[0-9a-f]{8})?$/.exec(name);
    return m !== null && !pidAlive(Number(m[1]));
  });
}

async function main(): Promise<number> {
  const all = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !NOT_BENCHES.has(f) && !f.endsWith('.d.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length) {
    console.error(`bench: no such bench: ${unknown.join(', ')} (have: ${all.join(', ')})`);
    return 2;
  }
  const names = wanted.length ? wanted : all;
  const started = new Date().toISOString();
  const load0 = loadavg();
  const rows: Row[] = [];
  removeDeadBenchCgroups();
  for (const name of names) {
    process.stderr.write(`\n# bench ${name} …\n`);
    const o = await runBench(name);
    removeDeadBenchCgroups();
    process.stderr.write(`# bench ${name}: ${o.error ?? 'ok'} (${o.seconds.toFixed(0)} s, ${o.figures.size} figures)\n`);
    if (o.error) rows.push({ figure: name, value: null, unit: '', goal: null, meets_goal: false, peer: null, peer_value: null, bench: name, error: o.error });
    rows.push(...rowsFor(name, o.figures));
  }
  if (!process.env.SMART_CRON_CGROUP_PREFIX) removeCgroups((name) => name.startsWith(DAEMON_CGROUP_PREFIX));
  const load1 = loadavg();
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, Node ${process.version}; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${load1.map((x) => x.toFixed(1)).join(' ')} at end`;
  const out = `# smart-cron benchmarks, ${started}\n# ${machine}\n\n${table(rows)}\n`;
  console.log(out);
  writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
  console.error(`wrote ${join(BENCH_DIR, 'results.json')}`);
  const missed = rows.filter((r) => r.meets_goal === false);
  if (missed.length) console.error(`${missed.length} figure(s) miss their goal or failed: ${missed.map((r) => r.figure).join(', ')}`);
  return 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (current) {
      try {
        process.kill(-current.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    process.exit(130);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
