/**
 * kill -9 of a real daemon process at random points, several cycles, with jobs running: short
 * and long runs with known exit codes on second schedules. Afterwards (one last daemon left to
 * finish what is in flight): no run result lost — every run that started ends recorded with the
 * exit code its job always exits with, or interrupted/lost with a reason; no reservation leaked
 * (slot rows back to zero); no tick ran twice; nothing of the jobs left running (/proc).
 *
 * Cycles: SMART_CRON_FAULT_KILL_CYCLES (default 3: each cycle starts a daemon, which takes
 * 5-20 s on a loaded two-core machine; 20 cycles is a soak, not a CI test). The kill points come
 * from a seeded PRNG; the seed is printed, SMART_CRON_FUZZ_SEED replays it.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { app as openHome, startDaemonProcess, until, writeHome, type DaemonProc } from '../fixtures/exec-core/daemon-proc.js';
import { fuzzSeed, int, mulberry32 } from '../fuzz/gen.js';
import { killAll, processesWithMarker } from './procs.js';

const CYCLES = Number(process.env.SMART_CRON_FAULT_KILL_CYCLES) || 3;
const SEED = fuzzSeed();

test(`kill -9 of the daemon at random points, ${CYCLES} cycles: no result lost, no reservation leaked, no tick twice`, { timeout: 150_000 + CYCLES * 60_000 }, async () => {
  process.stdout.write(`# kill -9 fault: ${CYCLES} cycles, seed ${SEED} (replay: SMART_CRON_FUZZ_SEED=${SEED})\n`);
  const rand = mulberry32(SEED);
  const home = join(tempDir('smart-cron-fault-kill-'), 'home');
  mkdirSync(home);
  const slot = `kill${process.pid}`;
  const marker = `SC_FAULT_KILL=${process.pid}-${SEED}`;
  writeHome(home, slot, 'execution: { kill_grace_seconds: 1 }\n');
  const a = await openHome(home);
  const procs: DaemonProc[] = [];
  // name -> the exit code its every run ends with
  const expected = new Map<string, number>();
  try {
    const jobs: [string, string, string][] = [
      ['short-0', '*/2 * * * * *', 'sleep 0.3; exit 0'],
      ['short-3', '*/2 * * * * *', 'sleep 0.5; exit 3'],
      ['mid-5', '*/3 * * * * *', 'sleep 1.5; exit 5'],
      ['long-7', '*/5 * * * * *', 'sleep 4; exit 7'],
      ['long-0', '*/7 * * * * *', 'sleep 6; echo done'],
    ];
    for (const [name, schedule, cmd] of jobs) {
      expected.set(name, Number(/exit (\d+)/.exec(cmd)?.[1] ?? 0));
      await a.jobs.registerJob(
        { name, schedule, timezone: 'UTC', shell: true, command: [cmd], slot, estimated_memory_mb: 10, env: { SC_FAULT_KILL: marker.split('=')[1]! } },
        { source: 'manual', byUser: true },
      );
    }
    const ids = new Map((await a.database.db.selectFrom('smart_cron_integrated_jobs').select(['id', 'name']).execute()).map((j) => [j.id, j.name]));

    for (let c = 0; c < CYCLES; c++) {
      const d = startDaemonProcess(home);
      procs.push(d);
      await until(`daemon ${c + 1} to start`, async () => /daemon started/.test(d.output()) || (d.child.exitCode !== null && Promise.reject(new Error(d.output()))), 90_000);
      // Let it run a random while, mostly with runs in flight, then kill it hard.
      const ms = int(rand, 500, 5000);
      await new Promise((r) => setTimeout(r, ms));
      const running = await a.jobs.history.list({ limit: 200 });
      process.stdout.write(`# cycle ${c + 1}: kill -9 after ${ms} ms, ${running.filter((r) => r.status === 'running').length} running\n`);
      d.child.kill('SIGKILL');
      await d.exited;
    }

    // Stop the schedules, then one last daemon adopts and records whatever is still in flight.
    for (const name of expected.keys()) await a.jobs.disableJob(name);
    const last = startDaemonProcess(home);
    procs.push(last);
    await until('the last daemon to start', async () => /daemon started/.test(last.output()) || (last.child.exitCode !== null && Promise.reject(new Error(last.output()))), 90_000);
    await until('every run to be recorded', async () => (await a.jobs.history.active()).length === 0, 60_000, 250);
    await until('slot rows back to zero', async () => {
      const rows = await a.database.db.selectFrom('smart_cron_execution_slots').selectAll().where('slot', '=', slot).execute();
      return rows.every((r) => r.current_running_jobs === 0 && r.current_memory_mb === 0);
    }, 20_000);
    last.child.kill('SIGTERM');
    assert.equal(await last.exited, 0, last.output());

    const runs = await a.database.db.selectFrom('smart_cron_job_history').selectAll().orderBy('id').execute();
    const started = runs.filter((r) => r.started_at !== null);
    process.stdout.write(`# ${runs.length} rows, ${started.length} started: ${JSON.stringify(Object.fromEntries([...new Set(runs.map((r) => r.status))].map((s) => [s, runs.filter((r) => r.status === s).length])))}\n`);
    assert.ok(started.length >= CYCLES, `runs started: ${started.length}`);
    for (const r of started) {
      const name = ids.get(r.job_id)!;
      const show = `${name} #${r.id} tick ${r.scheduled_for}: ${r.status} exit ${r.exit_code} signal ${r.signal} (${r.error_message})`;
      assert.equal(r.recorded, 1, `not recorded: ${show}`);
      if (r.status === 'succeeded' || r.status === 'failed') {
        assert.equal(r.exit_code, expected.get(name), `wrong exit code: ${show}`);
      } else {
        assert.ok(['interrupted', 'lost'].includes(r.status), `unexpected status: ${show}`);
        assert.ok(r.error_message, `no reason: ${show}`);
      }
    }
    // One row per tick, and no tick started twice.
    const ticks = new Map<string, number>();
    for (const r of started) ticks.set(`${r.job_id}|${r.scheduled_for}`, (ticks.get(`${r.job_id}|${r.scheduled_for}`) ?? 0) + 1);
    assert.deepEqual([...ticks].filter(([, n]) => n > 1), [], 'ticks started twice');
    const pids = started.map((r) => r.pid).filter((p) => p !== null);
    assert.equal(new Set(pids).size, pids.length, 'two runs with one pid');
    // Nothing of the jobs is left running.
    await until('no job process left', async () => processesWithMarker(marker).length === 0, 15_000, 250).catch(() => {
      assert.fail(`job processes still running: ${processesWithMarker(marker).map((p) => `${p}: ${readFileSync(`/proc/${p}/cmdline`, 'latin1').replace(/\0/g, ' ')}`)}`);
    });
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    killAll(processesWithMarker(marker));
    await a.close();
  }
});
