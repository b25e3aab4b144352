/**
 * Runs claimed per second by 1, 2 and 3 daemon nodes sharing one PostgreSQL (a throwaway
 * cluster from test/helpers/pg-cluster.ts, fsync off): real daemon processes on this machine,
 * many short `true` jobs on per-second schedules (overlap allow), the portable enforcement
 * backend, each node's default slot allowing 20 at once. Each phase gets a fresh database;
 * after every node has started and a short warm-up, the runs started in a fixed window count.
 *
 *   node --import tsx bench/cluster.ts [--seconds 20] [--jobs 40]
 *
 * Prints cluster_runs_per_second_1node, _2nodes, _3nodes, cluster_scaling_ratio_2v1 and _3v1.
 * On one two-core machine the nodes share the same CPUs, so this measures claim contention
 * more than scale-out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApp } from '../src/daemon/app.js';
import { findPostgresBinDir, startPostgres } from '../test/helpers/pg-cluster.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const SECONDS = arg('seconds', 20);
const JOBS = arg('jobs', 40);
const WARMUP_MS = 3000;
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!findPostgresBinDir()) {
  console.error('cluster bench: no postgres binary found');
  process.exit(1);
}

const base = mkdtempSync(join(tmpdir(), 'smart-cron-bench-cluster-'));
const server = await startPostgres();
const procs: ChildProcess[] = [];
const stopAll = async () => {
  await Promise.all(
    procs.splice(0).map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
          p.once('close', () => (clearTimeout(t), resolve()));
          p.kill('SIGTERM');
        }),
    ),
  );
};

async function phase(nodes: number): Promise<number> {
  const url = await server.url(`bench_${nodes}n`);
  const app = await openApp({ home: join(base, `admin-${nodes}`), database: url });
  try {
    for (let i = 0; i < JOBS; i++) {
      await app.jobs.registerJob(
        { name: `t-${i}`, schedule: '* * * * * *', timezone: 'UTC', command: ['true'], overlap_policy: 'allow', estimated_memory_mb: 1, estimated_cpu_percent: 0 },
        { source: 'manual', byUser: true },
      );
    }
    const logs: string[] = [];
    for (let n = 0; n < nodes; n++) {
      const home = join(base, `p${nodes}-n${n}`);
      mkdirSync(home, { recursive: true });
      writeFileSync(
        join(home, 'config.yaml'),
        'host: { psi_veto: 0, reserve_mb: 0 }\nexecution: { enforcement: portable, kill_grace_seconds: 1 }\nslots:\n  default: { max_concurrent_jobs: 20, max_memory_mb: 100000, max_cpu_percent: 100 }\n',
      );
      const p = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, '--database', url, '--node-id', `n${n}`, 'daemon', '--no-api'], { stdio: ['ignore', 'pipe', 'pipe'] });
      logs[n] = '';
      p.stdout!.on('data', (d) => (logs[n] += d));
      p.stderr!.on('data', (d) => (logs[n] += d));
      procs.push(p);
    }
    for (let i = 0; !logs.every((l) => /daemon started/.test(l)); i++) {
      if (procs.some((p) => p.exitCode !== null) || i > 1800) throw new Error(`a node did not start:\n${logs.join('\n---\n')}`);
      await sleep(100);
    }
    await sleep(WARMUP_MS);
    const from = new Date().toISOString();
    await sleep(SECONDS * 1000);
    const to = new Date().toISOString();
    const rows = await app.database.db
      .selectFrom('smart_cron_job_history')
      .select(['node'])
      .where('started_at', '>=', from)
      .where('started_at', '<', to)
      .execute();
    const perNode = Object.fromEntries([...new Set(rows.map((r) => r.node))].map((n) => [n, rows.filter((r) => r.node === n).length]));
    console.error(`# ${nodes} node(s): ${rows.length} runs started in ${SECONDS} s (demand ${JOBS}/s); per node ${JSON.stringify(perNode)}`);
    await stopAll();
    return rows.length / SECONDS;
  } finally {
    await stopAll();
    await app.close();
  }
}

try {
  const r1 = await phase(1);
  const r2 = await phase(2);
  const r3 = await phase(3);
  console.log(`cluster_runs_per_second_1node ${r1.toFixed(1)}`);
  console.log(`cluster_runs_per_second_2nodes ${r2.toFixed(1)}`);
  console.log(`cluster_runs_per_second_3nodes ${r3.toFixed(1)}`);
  console.log(`cluster_scaling_ratio_2v1 ${(r2 / r1).toFixed(2)}`);
  console.log(`cluster_scaling_ratio_3v1 ${(r3 / r1).toFixed(2)}`);
  console.log(`cluster_demand_runs_per_second ${JOBS}`);
} finally {
  await stopAll();
  await server.stop();
  rmSync(base, { recursive: true, force: true });
}
