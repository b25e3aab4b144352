/**
 * Cost of watching runs: 100 sleeping runs sampled at 100 ms for ~10 s; prints the daemon's
 * CPU use over that window as a percent of one core (goal < 3 %), for the auto-chosen backend
 * and for portable (the /proc-walking one).
 *
 *   node --import tsx bench/sampling.ts [runs] [seconds] [backend...]
 *   BENCH_FROM_SOURCE=1 ...   the sources through tsx even when dist/ is built
 * prints lines "sampling_cpu_percent_of_core <value>" (the auto backend) and
 * "sampling_cpu_percent_of_core_<backend> <value>" for each backend measured.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendName } from '../src/execution/enforcement/types.js';
import type { RunHandle } from '../src/execution/runner.js';
import { DIST, from } from './built.js';

const { createBackend, probeHost } = await from<typeof import('../src/execution/enforcement/detect.js')>('execution/enforcement/detect');
const { runnerOptionsFromConfig, startRun } = await from<typeof import('../src/execution/runner.js')>('execution/runner');
const { Sampler } = await from<typeof import('../src/execution/sampler.js')>('execution/sampler');

const runs = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const probe = probeHost();
const names = (process.argv.slice(4) as BackendName[]).length ? (process.argv.slice(4) as BackendName[]) : [...new Set<BackendName>([probe.auto, 'portable'])];

async function measure(name: BackendName): Promise<number> {
  const backend = createBackend(name, { groupName: `sc-bench-${process.pid}` }, probe);
  const sampler = new Sampler({ intervalMs: 100 });
  const opts = runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 65536, log_max_bytes: 10 << 20 }, sampler);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-bench-'));
  const handles: RunHandle[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      handles.push(startRun({ runId: `b${i}`, jobName: 'bench', argv: ['sleep', String(seconds + 30)], timeoutMs: 0, slot: 'default', runDir: path.join(home, `b${i}`) }, backend, opts));
    }
    await new Promise((r) => setTimeout(r, 1000)); // let the spawns settle
    const ticks0 = sampler.ticks;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = process.cpuUsage(cpu0);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    const pct = ((cpu.user + cpu.system) / wallUs) * 100;
    const live = handles.filter((h) => h.currentUsage().memoryMb > 0).length;
    console.error(`# ${name}: ${runs} runs, ${sampler.ticks - ticks0} ticks in ${(wallUs / 1e6).toFixed(1)} s, ${live} with live usage, daemon CPU ${pct.toFixed(2)} % of one core`);
    return pct;
  } finally {
    for (const h of handles) h.cancel('bench over');
    await Promise.all(handles.map((h) => h.done));
    sampler.stop();
    backend.dispose();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const results = new Map<BackendName, number>();
for (const n of names) results.set(n, await measure(n));
const first = results.get(probe.auto) ?? [...results.values()][0]!;
console.log(`sampling_runtime ${DIST ? 'dist' : 'src'}`);
console.log(`sampling_cpu_percent_of_core ${first.toFixed(2)}`);
for (const [n, v] of results) console.log(`sampling_cpu_percent_of_core_${n} ${v.toFixed(2)}`);
