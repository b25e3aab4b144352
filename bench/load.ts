/**
 * A burst under load: 10,000 jobs (9,500 yearly, 500 due in the same second with mixed
 * priorities, each `sleep 0.2`) and a real daemon process with its API on 127.0.0.1. While the
 * burst drains through a 10-job slot, GET /api/jobs/list is polled (~10 requests a second):
 * does the daemon stay responsive, and does the queue drain in priority order?
 *
 *   node --import tsx bench/load.ts [--jobs 10000] [--burst 500] [--concurrency 10]
 *
 * Prints load_api_list_p95_ms (during the drain), load_api_list_p95_idle_ms (before it),
 * load_drain_seconds, load_burst_runs, load_priority_inversions and load_priority_order (1 = yes:
 * no run started after a run of a lower priority class had started, beyond 100 ms of admission jitter).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { initHome } from '../src/daemon/home.js';
import { openApp } from '../src/daemon/app.js';
import { freePort } from '../test/helpers/net.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const JOBS = arg('jobs', 10_000);
const BURST = arg('burst', 500);
const CONCURRENCY = arg('concurrency', 10);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN;
};


const home = mkdtempSync(join(tmpdir(), 'smart-cron-bench-load-'));
let daemon: ReturnType<typeof spawn> | null = null;
try {
  const port = await freePort();
  writeFileSync(
    join(home, 'config.yaml'),
    `api: { host: 127.0.0.1, port: ${port} }\nhost: { psi_veto: 0, reserve_mb: 0 }\nslots:\n  default: { max_concurrent_jobs: ${CONCURRENCY}, max_memory_mb: 100000, max_cpu_percent: 100 }\n`,
  );
  await initHome({ home });
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
  const app = await openApp({ home });
  const t0 = performance.now();
  // One registered the ordinary way, copied in one statement (registerJob one by one takes minutes).
  const { job: tpl } = await app.jobs.registerJob({ name: 'idle-0', schedule: '0 0 1 1 *', timezone: 'UTC', command: ['true'] }, { source: 'manual', byUser: true });
  const cols = (await sql<{ name: string }>`SELECT name FROM pragma_table_info('smart_cron_integrated_jobs')`.execute(app.database.db)).rows
    .map((r) => r.name)
    .filter((c) => c !== 'id' && c !== 'name' && c !== 'priority');
  const list = sql.raw(cols.map((c) => `"${c}"`).join(', '));
  await sql`
    INSERT INTO smart_cron_integrated_jobs (name, priority, ${list})
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${JOBS - BURST - 1})
    SELECT 'idle-' || i, CASE i % 4 WHEN 0 THEN 'critical' WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END, ${list}
    FROM c, smart_cron_integrated_jobs WHERE id = ${tpl.id}`.execute(app.database.db);
  console.error(`# ${JOBS - BURST} idle jobs registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const at = Math.ceil((Date.now() + 60_000) / 1000) * 1000;
  const t = new Date(at);
  const schedule = `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
  const burstIds = new Map<number, number>(); // job id -> priority rank
  for (let i = 0; i < BURST; i++) {
    const { job } = await app.jobs.registerJob(
      { name: `burst-${i}`, schedule, timezone: 'UTC', command: ['sleep', '0.2'], priority: PRIORITIES[i % 4], estimated_memory_mb: 1, estimated_cpu_percent: 0 },
      { source: 'manual', byUser: true },
    );
    burstIds.set(job.id, i % 4);
  }
  // The burst is registered before the daemon starts, 60 s ahead (a daemon starts in 4-20 s on a
  // loaded machine): registering while the daemon writes can fail with SQLITE_BUSY_SNAPSHOT.
  daemon = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, 'daemon'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  daemon.stdout!.on('data', (d) => (log += d));
  daemon.stderr!.on('data', (d) => (log += d));
  for (let i = 0; !/dashboard and API on/.test(log); i++) {
    if (daemon.exitCode !== null || i > 1200) throw new Error(`the daemon did not start:\n${log}`);
    await sleep(100);
  }
  if (Date.now() > at - 3000) throw new Error('the daemon started too late: the burst tick is less than 3 s away');

  const url = `http://127.0.0.1:${port}/api/jobs/list?limit=50`;
  const idle: number[] = [];
  const busy: number[] = [];
  const get = async (into: number[]) => {
    const s = performance.now();
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`GET /api/jobs/list -> ${r.status}`);
    into.push(performance.now() - s);
  };
  while (Date.now() < at - 1000) {
    await get(idle);
    await sleep(100);
  }
  const done = async () =>
    Number(
      (
        await app.database.db
          .selectFrom('smart_cron_job_history')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('scheduled_for', '=', new Date(at).toISOString())
          .where('recorded', '=', 1)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const deadline = Date.now() + 10 * 60_000;
  while ((await done()) < BURST) {
    if (Date.now() > deadline) throw new Error(`the burst did not drain in 10 minutes (${await done()}/${BURST})`);
    await get(busy);
    await sleep(100);
  }
  const runs = await app.database.db
    .selectFrom('smart_cron_job_history')
    .select(['job_id', 'started_at', 'finished_at', 'status'])
    .where('scheduled_for', '=', new Date(at).toISOString())
    .execute();
  const started = runs.filter((r) => r.started_at).map((r) => ({ rank: burstIds.get(r.job_id)!, at: Date.parse(r.started_at!) }));
  // An inversion: a run that started more than 100 ms after a run of a lower class (higher rank) had started.
  const firstStartOfRank = [0, 1, 2, 3].map((k) => Math.min(...started.filter((s) => s.rank === k).map((s) => s.at)));
  let inversions = 0;
  for (const s of started) for (let k = s.rank + 1; k < 4; k++) if (s.at > firstStartOfRank[k]! + 100) { inversions++; break; }
  const last = Math.max(...runs.map((r) => Date.parse(r.finished_at ?? r.started_at ?? '0')));
  console.log(`load_jobs ${JOBS}`);
  console.log(`load_burst_runs ${BURST}`);
  console.log(`load_burst_succeeded ${runs.filter((r) => r.status === 'succeeded').length}`);
  console.log(`load_drain_seconds ${((last - at) / 1000).toFixed(2)}`);
  console.log(`load_api_list_p95_idle_ms ${pct(idle, 0.95).toFixed(1)}`);
  console.log(`load_api_list_p50_ms ${pct(busy, 0.5).toFixed(1)}`);
  console.log(`load_api_list_p95_ms ${pct(busy, 0.95).toFixed(1)}`);
  console.log(`load_api_list_requests ${busy.length}`);
  console.log(`load_priority_inversions ${inversions}`);
  console.log(`load_priority_order ${inversions === 0 ? 1 : 0}`);
  await app.close();
} finally {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await Promise.race([new Promise((r) => daemon!.once('close', r)), sleep(20_000)]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  rmSync(home, { recursive: true, force: true });
}
