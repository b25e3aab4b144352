/**
 * The daemon at rest: N registered jobs (enabled, hourly), nothing due. For each job count given,
 * starts a real daemon process (`smart-cron daemon`, API on a free loopback port) over a fresh
 * home and prints its RSS after start-up and after 30 s (goal <= 80 MB at 1k jobs), and its CPU
 * use while idle. The daemon runs from dist/ when `--dist` is given and dist/cli/main.js exists,
 * else through tsx (whose compiler adds memory).
 *
 *   node --import tsx bench/idle-rss.ts [seconds=30] [jobs=1000[,10000…]] [--dist] [--no-api]
 *
 * Every figure name ends in the job count (`_1k`, `_10k`, `_2500`), so the counts of one run
 * never collide: idle_rss_start_mb_1k, idle_rss_after_30s_mb_10k, idle_cpu_percent_of_core_10k, …
 *
 * Registration: one job through JobManager.registerJob, the rest copied from its row in one
 * INSERT … SELECT with only name and schedule changed (so the rows are the ones registerJob
 * writes; one by one it takes ~5 s per 1,000 jobs on a loaded two-core machine).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openApp } from '../src/daemon/app.js';
import { freePort } from '../test/helpers/net.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SECONDS = Number(args[0] ?? 30);
const COUNTS = String(args[1] ?? '1000')
  .split(',')
  .map(Number);
if (!(SECONDS > 0) || COUNTS.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: idle-rss.ts [seconds] [jobs[,jobs…]] [--dist] [--no-api]');
  process.exit(2);
}
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = process.argv.includes('--dist') && fs.existsSync(path.join(ROOT, 'dist/cli/main.js'));
const noApi = process.argv.includes('--no-api');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 1000 -> 1k, 10000 -> 10k, 2500 -> 2500. */
const label = (n: number) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));


interface Measured {
  jobs: number;
  registerS: number;
  startupS: number;
  rssStart: number;
  rssEnd: number;
  peak: number;
  cpuPct: number;
}

async function measure(njobs: number): Promise<Measured> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-bench-idle-'));
  let child: ReturnType<typeof spawn> | null = null;
  try {
    fs.writeFileSync(path.join(home, 'config.yaml'), `api: { host: 127.0.0.1, port: ${await freePort()} }\n`);
    const app = await openApp({ home });
    const r0 = performance.now();
    const { job: tpl } = await app.jobs.registerJob({ name: 'idle-0', schedule: '0 * * * *', command: ['true'], timezone: 'UTC' }, { source: 'manual', byUser: true });
    if (njobs > 1) {
      const cols = (await sql<{ name: string }>`SELECT name FROM pragma_table_info('smart_cron_integrated_jobs')`.execute(app.database.db)).rows
        .map((r) => r.name)
        .filter((c) => c !== 'id' && c !== 'name' && c !== 'schedule');
      const list = sql.raw(cols.map((c) => `"${c}"`).join(', '));
      await sql`
        INSERT INTO smart_cron_integrated_jobs (name, schedule, ${list})
        WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${njobs - 1})
        SELECT 'idle-' || i, (i % 60) || ' * * * *', ${list}
        FROM c, smart_cron_integrated_jobs WHERE id = ${tpl.id}`.execute(app.database.db);
    }
    // Nothing due during the measurement: every job's next run is at least an hour away.
    await app.database.db.updateTable('smart_cron_integrated_jobs').set({ next_scheduled_run: new Date(Date.now() + 3600_000).toISOString() }).execute();
    const registerS = (performance.now() - r0) / 1000;
    const n = Number((await sql<{ n: number }>`SELECT count(*) AS n FROM smart_cron_integrated_jobs`.execute(app.database.db)).rows[0]!.n);
    await app.close();
    if (n !== njobs) throw new Error(`registered ${n} jobs, expected ${njobs}`);
    console.error(`# ${njobs} jobs registered in ${registerS.toFixed(1)} s`);

    const argv = dist ? [path.join(ROOT, 'dist/cli/main.js')] : ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')];
    const proc = spawn(process.execPath, [...argv, '--home', home, 'daemon', ...(noApi ? ['--no-api'] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const pid = proc.pid!;
    const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const cpuTicks = () => {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    const t0 = Date.now();
    while (!/daemon started/.test(out)) {
      if (proc.exitCode !== null) throw new Error(`the daemon exited: ${out}`);
      if (Date.now() - t0 > 180_000) throw new Error(`no start after 180 s: ${out}`);
      await sleep(100);
    }
    const startupS = (Date.now() - t0) / 1000;
    await sleep(2000); // let start-up work settle
    const rssStart = rssMb();
    const c0 = cpuTicks();
    const w0 = Date.now();
    let peak = rssStart;
    for (let i = 0; i < SECONDS; i++) {
      await sleep(1000);
      peak = Math.max(peak, rssMb());
    }
    const rssEnd = rssMb();
    const cpuPct = ((cpuTicks() - c0) / 100 / ((Date.now() - w0) / 1000)) * 100; // USER_HZ = 100
    return { jobs: njobs, registerS, startupS, rssStart, rssEnd, peak, cpuPct };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child!.on('close', r));
      child.kill('SIGTERM');
      if ((await Promise.race([closed, sleep(30_000).then(() => 'hung')])) === 'hung') child.kill('SIGKILL');
    }
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const results: Measured[] = [];
for (const n of COUNTS) results.push(await measure(n));

console.log(`idle_runtime ${dist ? 'dist' : 'tsx'}`);
console.log(`idle_api ${noApi ? 'off' : 'on'}`);
for (const m of results) {
  const s = `_${label(m.jobs)}`;
  const lines: [string, string][] = [
    [`idle_jobs${s}`, String(m.jobs)],
    [`idle_register_s${s}`, m.registerS.toFixed(1)],
    [`idle_startup_s${s}`, m.startupS.toFixed(1)],
    [`idle_rss_start_mb${s}`, m.rssStart.toFixed(1)],
    [`idle_rss_after_${SECONDS}s_mb${s}`, m.rssEnd.toFixed(1)],
    [`idle_rss_peak_mb${s}`, m.peak.toFixed(1)],
    [`idle_cpu_percent_of_core${s}`, m.cpuPct.toFixed(2)],
  ];
  for (const [k, v] of lines) console.log(`${k} ${v}`);
}
console.log('');
console.log(`| daemon idle (${dist ? 'dist' : 'tsx'}, API ${noApi ? 'off' : 'on'}) | RSS after start | after ${SECONDS} s | peak | CPU idle |`);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const m of results) {
  console.log(`| ${m.jobs} jobs | ${m.rssStart.toFixed(1)} MB | ${m.rssEnd.toFixed(1)} MB | ${m.peak.toFixed(1)} MB | ${m.cpuPct.toFixed(2)} % of a core |`);
}
const at1k = results.find((m) => m.jobs === 1000);
if (at1k) console.log(`goal RSS <= 80 MB at 1k jobs: ${Math.max(at1k.rssStart, at1k.rssEnd) <= 80 ? 'yes' : 'NO'}`);
