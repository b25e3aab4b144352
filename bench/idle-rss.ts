/**
 * The daemon at rest: 1,000 registered jobs (enabled, hourly), nothing due. Starts a real daemon
 * process (`smart-cron daemon`, API on a free loopback port) and prints its RSS after start-up
 * and after 30 s (goal <= 80 MB), and its CPU use while idle. The daemon runs from dist/ when
 * `--dist` is given and dist/cli/main.js exists, else through tsx (whose compiler adds memory).
 *
 *   node --import tsx bench/idle-rss.ts [seconds=30] [jobs=1000] [--dist] [--no-api]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApp } from '../src/daemon/app.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SECONDS = Number(args[0] ?? 30);
const NJOBS = Number(args[1] ?? 1000);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = process.argv.includes('--dist') && fs.existsSync(path.join(ROOT, 'dist/cli/main.js'));

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-bench-idle-'));
fs.writeFileSync(path.join(home, 'config.yaml'), `api: { host: 127.0.0.1, port: ${await freePort()} }\n`);
const app = await openApp({ home });
for (let i = 0; i < NJOBS; i++) {
  await app.jobs.registerJob({ name: `idle-${i}`, schedule: `${i % 60} * * * *`, command: ['true'], timezone: 'UTC' }, { source: 'manual', byUser: true });
}
// Nothing due during the measurement: every job's next run is at least an hour away.
await app.database.db.updateTable('smart_cron_integrated_jobs').set({ next_scheduled_run: new Date(Date.now() + 3600_000).toISOString() }).execute();
await app.close();

const argv = dist ? [path.join(ROOT, 'dist/cli/main.js')] : ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')];
const noApi = process.argv.includes('--no-api');
const child = spawn(process.execPath, [...argv, '--home', home, 'daemon', ...(noApi ? ['--no-api'] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d) => (out += d));
child.stderr.on('data', (d) => (out += d));
const pid = child.pid!;
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const cpuTicks = () => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const t0 = Date.now();
while (!/daemon started/.test(out)) {
  if (child.exitCode !== null) throw new Error(`the daemon exited: ${out}`);
  if (Date.now() - t0 > 180_000) throw new Error(`no start after 180 s: ${out}`);
  await new Promise((r) => setTimeout(r, 100));
}
const startupMs = Date.now() - t0;
await new Promise((r) => setTimeout(r, 2000)); // let start-up work settle
const rssStart = rssMb();
const c0 = cpuTicks();
const w0 = Date.now();
let peak = rssStart;
for (let i = 0; i < SECONDS; i++) {
  await new Promise((r) => setTimeout(r, 1000));
  peak = Math.max(peak, rssMb());
}
const rssEnd = rssMb();
const cpuPct = (((cpuTicks() - c0) / 100) / ((Date.now() - w0) / 1000)) * 100; // USER_HZ = 100
child.kill('SIGTERM');
await new Promise((r) => child.on('close', r));
fs.rmSync(home, { recursive: true, force: true });

const lines: [string, string][] = [
  ['idle_jobs', String(NJOBS)],
  ['idle_runtime', dist ? 'dist' : 'tsx'],
  ['idle_api', noApi ? 'off' : 'on'],
  ['idle_startup_s', (startupMs / 1000).toFixed(1)],
  ['idle_rss_start_mb', rssStart.toFixed(1)],
  [`idle_rss_after_${SECONDS}s_mb`, rssEnd.toFixed(1)],
  ['idle_rss_peak_mb', peak.toFixed(1)],
  ['idle_cpu_percent_of_core', cpuPct.toFixed(2)],
];
for (const [k, v] of lines) console.log(`${k} ${v}`);
console.log('');
console.log(`| daemon, ${NJOBS} jobs idle (${dist ? 'dist' : 'tsx'}, API ${noApi ? 'off' : 'on'}) | RSS after start | after ${SECONDS} s | CPU idle |`);
console.log('| --- | ---: | ---: | ---: |');
console.log(`| smart-cron | ${rssStart.toFixed(1)} MB | ${rssEnd.toFixed(1)} MB | ${cpuPct.toFixed(2)} % of a core |`);
console.log(`goal RSS <= 80 MB: ${Math.max(rssStart, rssEnd) <= 80 ? 'yes' : 'NO'}`);
