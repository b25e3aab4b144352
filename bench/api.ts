/**
 * API latency at scale: 10,000 jobs and 1,000,000 history rows in a temp SQLite file, the
 * server on 127.0.0.1, and p50/p95 of the dashboard's heaviest reads over real HTTP.
 *
 *   node --import tsx bench/api.ts [--jobs N] [--runs N] [--requests N] [--home DIR]
 *
 * --home keeps the database in DIR (seeded once, reused by later runs) instead of a temp dir.
 *
 * Prints `api_<name>_p50_ms <v>` and `api_<name>_p95_ms <v>` lines (goal: p95 <= 30 ms).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../src/storage/schema.js';
import { buildServer, startServer } from '../src/api/server.js';
import { loadConfig } from '../src/config/load.js';
import { openApp } from '../src/daemon/app.js';
import { EventBus } from '../src/events.js';
import type { Executor } from '../src/execution/types.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const JOBS = arg('jobs', 10_000);
const RUNS = arg('runs', 1_000_000);
const REQUESTS = arg('requests', 200);
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

export async function seed(db: Kysely<DB>, JOBS: number, RUNS: number): Promise<void> {
  // One statement per table: recursive CTEs keep a million rows inside SQLite (seconds, not minutes).
  await sql`
    INSERT INTO smart_cron_integrated_jobs
      (name, command, schedule, category, priority, enabled, source, consecutive_failures, executions_24h, failures_24h,
       total_executions, last_executed_at, next_scheduled_run, description, created_at, updated_at)
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${JOBS})
    SELECT 'job-' || printf('%05d', i), '["/usr/local/bin/task","' || i || '"]', '*/5 * * * *',
      CASE i % 4 WHEN 0 THEN 'backup' WHEN 1 THEN 'reports' WHEN 2 THEN 'maintenance' ELSE 'sync' END,
      CASE i % 4 WHEN 0 THEN 'critical' WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END,
      CASE WHEN i % 10 = 9 THEN 0 ELSE 1 END,
      CASE WHEN i % 10 = 9 THEN 'discovered' ELSE 'manual' END,
      CASE WHEN i % 50 = 0 THEN 3 WHEN i % 20 = 1 THEN 2 ELSE 0 END,
      24, CASE WHEN i % 33 = 0 THEN 10 ELSE 0 END, 100,
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000} - (i * 37) % 172800, 'unixepoch'),
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000} + (i * 13) % 3600, 'unixepoch'),
      'generated job ' || i,
      '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
    FROM c`.execute(db);
  await sql`
    INSERT INTO smart_cron_job_history
      (job_id, scheduled_for, attempt, trigger, status, node, slot, queued_at, started_at, finished_at,
       wait_ms, duration_ms, exit_code, peak_memory_mb, output_tail, output_bytes)
    WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ${RUNS - 1})
    SELECT (i % ${JOBS}) + 1,
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000 - RUNS} + i, 'unixepoch'), 1, 'schedule',
      CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END, 'bench', 'default',
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000 - RUNS} + i, 'unixepoch'),
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000 - RUNS} + i, 'unixepoch'),
      strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000 - RUNS} + i + 2, 'unixepoch'),
      5, 2000 + i % 1000, CASE WHEN i % 17 = 0 THEN 1 ELSE 0 END, 64 + i % 200, 'done ' || i || char(10), 12
    FROM c`.execute(db);
  await sql`ANALYZE`.execute(db);
}

const idle: Executor = {
  requestRun: () => Promise.reject(new Error('not in the bench')),
  cancelRun: () => Promise.reject(new Error('not in the bench')),
  slots: async () => [],
  queued: async () => [],
};

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

export async function main(): Promise<void> {
  const homeArg = process.argv.indexOf('--home');
  const keep = homeArg >= 0 ? process.argv[homeArg + 1]! : null;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'smart-cron-bench-api-'));
  try {
    const config = loadConfig({ home: dir, env: {}, nodeId: 'bench' });
    const app = await openApp({ config, clock: { now: () => NOW, setTimer: (ms, fn) => { const t = setTimeout(fn, ms); return { cancel: () => clearTimeout(t) }; } } });
    let t = performance.now();
    const have = await app.database.db.selectFrom('smart_cron_integrated_jobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    if (Number(have?.n ?? 0) === 0) {
      await seed(app.database.db, JOBS, RUNS);
      console.error(`seeded ${JOBS} jobs and ${RUNS} runs in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }

    const token = randomBytes(32).toString('hex');
    const server = buildServer({ app, executor: idle, bus: new EventBus(), token, webRoot: join(dir, 'none') });
    const base = await startServer(server, { host: '127.0.0.1', port: 0, allow_remote: false });
    const headers = { authorization: `Bearer ${token}` };
    const someJob = Math.floor(JOBS / 2);

    const cases: Array<[string, () => string]> = [
      ['jobs_list', () => '/api/jobs?limit=50'],
      ['jobs_list_filtered', () => '/api/jobs?health=warning&limit=50'],
      ['jobs_list_sorted', () => '/api/jobs?sort=-last_executed_at&limit=50'],
      ['job_history', () => `/api/jobs/${someJob}/runs?limit=50`],
      ['jobs_list_page_100', () => '/api/jobs?limit=50&offset=5000'],
      ['runs_list', () => '/api/runs?limit=50'],
      ['runs_failed', () => '/api/runs?status=failed&limit=50'],
      ['seed_history', () => `/api/jobs/history?job=job-${String(someJob).padStart(5, '0')}`],
      ['overview', () => '/api/overview'],
    ];
    // Latency on a busy host says little: say how busy it was.
    console.error(`load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`);
    for (const [name, url] of cases) {
      for (let i = 0; i < 10; i++) await (await fetch(base + url(), { headers })).arrayBuffer();
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        t = performance.now();
        const res = await fetch(base + url(), { headers });
        await res.arrayBuffer();
        times.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`${url()} -> ${res.status}`);
      }
      console.log(`api_${name}_p50_ms ${pct(times, 0.5).toFixed(2)}`);
      console.log(`api_${name}_p95_ms ${pct(times, 0.95).toFixed(2)}`);
    }
    await server.close();
    await app.close();
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
