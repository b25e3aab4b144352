/**
 * `smart-cron run NAME --wait` when things go wrong around the run: the daemon it waits on
 * stops mid-run (it says so and exits 3 instead of waiting for ever, and the next daemon records
 * the run), this host cannot build the engine to run it here (exit 2, nothing left queued), and
 * a waiting reason whose figures move at every admission cycle (one line, not several a second).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFinal } from '../../src/daemon/oneshot.js';
import { probeHost } from '../../src/execution/enforcement/detect.js';
import { describe, runCli } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { daemonStarted, startCliProcess, startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';

test('run --wait: the daemon stops mid-run; the wait ends saying so (exit 3), and the next daemon records the run', { timeout: 300_000 }, async () => {
  const { home, slot, app: a } = await testHome('waitgone');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  let w: ReturnType<typeof startCliProcess> | null = null;
  try {
    // Longer than the daemon's 10 s grace at its stop: it leaves the run going for the next daemon.
    await a.jobs.registerJob({ name: 's16', schedule: '@yearly', timezone: 'UTC', shell: true, command: ['sleep 16'], slot }, { source: 'manual', byUser: true });
    d = startDaemonProcess(home);
    await daemonStarted(d);
    const daemonPid = d.child.pid!;
    const wait = (w = startCliProcess(home, ['run', 's16', '--wait']));
    const runId = Number((await until('run --wait to queue', async () => /queued run #(\d+); waiting for the daemon/.exec(wait.stdout()), 60_000))[1]);
    await until('the run to start', async () => (await a.jobs.history.byId(runId))?.status === 'running', 60_000);

    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.output());
    const stoppedAt = Date.now();
    const code = await wait.exited;
    const took = Date.now() - stoppedAt;
    assert.equal(code, 3, wait.output());
    assert.ok(took < 3500, `run --wait noticed within seconds, not when the job ended (${took} ms)`);
    assert.match(wait.stderr(), new RegExp(`smart-cron: run #${runId} is still running, unwatched: the daemon \\(pid ${daemonPid}\\) stopped and none runs for this home now; its process goes on, and the next daemon adopts it and records its end`));
    assert.equal((await a.jobs.history.byId(runId))!.status, 'running');

    // As it said: the next daemon adopts the run and records its end.
    d = startDaemonProcess(home);
    await daemonStarted(d);
    await until('the next daemon to record the run', async () => (await a.jobs.history.byId(runId))?.status === 'succeeded', 60_000);
  } finally {
    if (w && w.child.exitCode === null) w.child.kill('SIGKILL');
    if (d && d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGTERM');
      await d.exited;
    }
    await a.close();
  }
});

test('run without a daemon on a host that cannot run it here (enforcement cgroup2, none here): exit 2 and nothing queued', { skip: probeHost().cgroup2.ok && 'this host has a usable cgroup v2' }, async () => {
  const { home, slot, app: a } = await testHome('noengine', 'execution: { enforcement: cgroup2 }\n');
  try {
    const job = (await a.jobs.registerJob({ name: 'hello', schedule: '@yearly', timezone: 'UTC', shell: true, command: ['echo hi'], slot }, { source: 'manual', byUser: true })).job;
    for (const args of [['run', 'hello', '--wait'], ['run', 'hello']]) {
      const r = await runCli(['--home', home, ...args], { timeoutMs: 120_000 });
      assert.equal(r.code, 2, describe(r));
      assert.match(r.stderr, /execution\.enforcement is 'cgroup2' but this host cannot provide it/, describe(r));
      assert.doesNotMatch(r.stdout, /running #\d+/, describe(r));
    }
    assert.deepEqual(await a.jobs.history.list({ jobId: job.id }), [], 'no run queued for a later daemon to start');
  } finally {
    await a.close();
  }
});

test('run --wait: a waiting line when the reason changes in substance, not when its figures move, at most every few seconds', { timeout: 60_000 }, async () => {
  const { slot, app: a } = await testHome('waitlines');
  try {
    const job = (await a.jobs.registerJob({ name: 'big', schedule: '@yearly', timezone: 'UTC', shell: true, command: ['true'], slot }, { source: 'manual', byUser: true })).job;
    const memory = (mb: number) => `host memory: ${mb} MB available - 0 MB promised to running jobs - 512 MB = ${mb - 512} MB < 30000 MB reserve`;
    const run = await insertRun(a.database, job.id, { status: 'queued', slot, wait_reason: memory(22968) });
    const lines: [number, string][] = [];
    const t0 = Date.now();
    const waited = waitFinal(a, run.id, { pollMs: 50, onWait: (reason) => lines.push([Date.now() - t0, reason]) });
    // As the dispatcher leaves it: the figures move at every cycle (four a second here) ...
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await a.jobs.history.update(run.id, { wait_reason: memory(22968 - 37 * i) });
    }
    // ... then the run waits for something else, which is said, though not within seconds of the last line.
    await a.jobs.history.update(run.id, { wait_reason: `slot ${slot} full: 5/5 jobs running` });
    await until('the new reason to be said', async () => lines.length > 1, 20_000, 50);
    await a.jobs.history.update(run.id, { status: 'succeeded', finished_at: new Date().toISOString() });
    assert.equal((await waited).status, 'succeeded');
    assert.deepEqual(
      lines.map(([, l]) => l),
      [memory(22968), `slot ${slot} full: 5/5 jobs running`],
    );
    assert.ok(lines[1]![0] - lines[0]![0] >= 5000, `the second line ${lines[1]![0] - lines[0]![0]} ms after the first`);
  } finally {
    await a.close();
  }
});
