/**
 * What recording one run costs (JobManager.recordExecution) for a job with 1,000 history rows
 * and with 1,000,000, on SQLite in a temp file. DESIGN.md: recording must cost the same at any
 * history size (the seed re-read a day of history per run). Goal: ratio <= 1.5.
 *
 * The history is bulk-inserted with INSERT … SELECT from a recursive CTE (one run a minute
 * going back in time, 9 in 10 successful). The two databases are measured in alternating
 * batches so that load on the machine hits both sizes alike; each figure is the median batch.
 *
 *   node --import tsx bench/record-cost.ts            prints record_cost_ms_at_1k / _at_1m / _ratio
 *   BENCH_BIG_ROWS=100000 BENCH_BATCHES=5 …           smaller, for a quick look
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { iso, VirtualClock } from '../src/clock.js';
import { JobManager } from '../src/jobs/manager.js';
import { openDatabase, type Database } from '../src/storage/database.js';

const SMALL = 1_000;
const BIG = Number(process.env.BENCH_BIG_ROWS) || 1_000_000;
const BATCHES = Number(process.env.BENCH_BATCHES) || 9;
const PER_BATCH = Number(process.env.BENCH_PER_BATCH) || 100;
const START = Date.UTC(2026, 0, 1);
const MIN = 60_000;

interface Target {
  rows: number;
  database: Database;
  mgr: JobManager;
  clock: VirtualClock;
  jobId: number;
  times: number[];
}

async function prepare(dir: string, rows: number): Promise<Target> {
  const database = await openDatabase(`sqlite:${join(dir, `history-${rows}.db`)}`);
  const clock = new VirtualClock(START);
  const mgr = new JobManager(database, clock);
  const { job } = await mgr.registerJob({ name: 'bench', schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' });
  const t0 = performance.now();
  // One run a minute, ending a minute before the clock's start; every 10th failed.
  await sql`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
    INSERT INTO smart_cron_job_history
      (job_id, scheduled_for, attempt, "trigger", status, node, slot, queued_at, started_at, finished_at,
       duration_ms, exit_code, peak_memory_mb, memory_source, cpu_percent, recorded)
    SELECT ${job.id},
           strftime('%Y-%m-%dT%H:%M:%fZ', ${iso(START)}, '-' || (${rows} + 1 - i) || ' minutes'),
           1, 'schedule',
           CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
           'bench', 'default',
           strftime('%Y-%m-%dT%H:%M:%fZ', ${iso(START)}, '-' || (${rows} + 1 - i) || ' minutes'),
           strftime('%Y-%m-%dT%H:%M:%fZ', ${iso(START)}, '-' || (${rows} + 1 - i) || ' minutes'),
           strftime('%Y-%m-%dT%H:%M:%fZ', ${iso(START)}, '-' || (${rows} + 1 - i) || ' minutes', '+2 seconds'),
           2000 + (i % 7) * 100, CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, 100 + (i % 13), 'sampled', 12.5, 1
    FROM n`.execute(database.db);
  // No ANALYZE: a real deployment never runs it, so the planner must do well without statistics.
  const count = await database.db.selectFrom('smart_cron_job_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  process.stderr.write(`# ${Number(count.n)} history rows inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return { rows, database, mgr, clock, jobId: job.id, times: [] };
}

/** Record `n` runs (each queued, started, finished a second later) and return ms per record. */
async function batch(t: Target, n: number): Promise<number> {
  let spent = 0;
  for (let i = 0; i < n; i++) {
    await t.clock.advance(MIN);
    const now = t.clock.now();
    const run = await t.mgr.history.insertOnce({
      job_id: t.jobId,
      scheduled_for: iso(now),
      trigger: 'schedule',
      status: 'running',
      queued_at: iso(now),
      started_at: iso(now),
    });
    if (!run) throw new Error('duplicate run key');
    const failed = i % 10 === 9;
    const t0 = performance.now();
    await t.mgr.recordExecution(run.id, {
      status: failed ? 'failed' : 'succeeded',
      finished_at: iso(now + 1000),
      duration_ms: 1000,
      exit_code: failed ? 1 : 0,
      peak_memory_mb: 120,
      memory_source: 'sampled',
      cpu_percent: 10,
    });
    spent += performance.now() - t0;
  }
  return spent / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smart-cron-bench-'));
  try {
    const small = await prepare(dir, SMALL);
    const big = await prepare(dir, BIG);
    // Warm up both (JIT, page cache, prepared statements).
    await batch(small, 20);
    await batch(big, 20);
    for (let b = 0; b < BATCHES; b++) {
      small.times.push(await batch(small, PER_BATCH));
      big.times.push(await batch(big, PER_BATCH));
    }
    const a = median(small.times);
    const z = median(big.times);
    process.stderr.write(`# batches (ms/record) at ${SMALL}: ${small.times.map((x) => x.toFixed(3)).join(' ')}\n`);
    process.stderr.write(`# batches (ms/record) at ${BIG}: ${big.times.map((x) => x.toFixed(3)).join(' ')}\n`);
    const label = BIG === 1_000_000 ? '1m' : `${BIG}`;
    console.log(`record_cost_ms_at_1k ${a.toFixed(3)}`);
    console.log(`record_cost_ms_at_${label} ${z.toFixed(3)}`);
    console.log(`record_cost_ratio ${(z / a).toFixed(2)}`);
    await small.database.close();
    await big.database.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
