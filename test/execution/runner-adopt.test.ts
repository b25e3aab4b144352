/**
 * Adoption after a daemon restart: the first handle is abandoned (the daemon "dies"), a fresh
 * call finds the run from its record, and the result still arrives through the shim's exit file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import type { BackendName, EnforcementBackend } from '../../src/execution/enforcement/types.js';
import { adoptRun, collectFinishedRun, runnerOptionsFromConfig, startRun, type RunHandle, type RunSpec } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { tempDir } from '../helpers/tmp.js';
import { readExitFile, SHIM_UNSTARTED, shimArgs } from '../../src/execution/shim.js';
import { testCgroup } from '../helpers/cgroups.js';

const probe = probeHost();
const sampler = new Sampler({ intervalMs: 50 });
const opts = runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 1 << 20 }, sampler);
const made: EnforcementBackend[] = [];
after(() => {
  sampler.stop();
  for (const b of made) b.dispose();
});

let seq = 0;
function spec(over: Partial<RunSpec> & { argv: string[] }): RunSpec {
  const id = `a${process.pid}-${++seq}`;
  return { runId: id, jobName: 'adopt-job', timeoutMs: 15_000, slot: 'default', runDir: path.join(tempDir(), id), ...over };
}
const record = (h: RunHandle) => ({ runId: h.runId, pid: h.pid!, pidStart: h.pidStart!, runDir: h.runDir });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const name of ['portable', 'cgroup1', 'cgroup2'] as BackendName[]) {
  const ok = name === 'portable' || (name === 'cgroup1' ? probe.cgroup1.ok : probe.cgroup2.ok);
  const skip = ok ? false : `${name} not available here: ${name === 'cgroup1' ? probe.cgroup1.reason : probe.cgroup2.reason}`;
  let backend: EnforcementBackend | null = null;
  const get = (): EnforcementBackend => {
    if (!backend) made.push((backend = createBackend(name, { groupName: testCgroup('adopt') }, probe)));
    return backend;
  };

  test(`${name}: a run adopted mid-flight still reports its exit status and output`, { skip }, async () => {
    const b = get();
    const h = startRun(spec({ argv: ['echo started; sleep 0.8; echo finished; exit 7'], shell: true }), b, opts);
    await sleep(300);
    h.abandon();
    const h2 = adoptRun(record(h), b, opts);
    assert.ok(h2, 'the run is still alive and adopted');
    assert.equal(h2.pid, h.pid);
    const o = await h2.done;
    assert.equal(o.status, 'failed');
    assert.equal(o.exitCode, 7);
    assert.equal(o.outputTail, 'started\nfinished\n');
    assert.equal(o.memorySource, name === 'portable' ? 'sampled' : 'cgroup');
    assert.ok(o.durationMs >= 700 && o.durationMs < 3000, `duration ${o.durationMs}`);
    assert.equal(o.startedAt, h.startedAt);
  });

  test(`${name}: a run that finished while no daemon watched: null, then its recorded exit`, { skip }, async () => {
    const b = get();
    const h = startRun(spec({ argv: ['echo hi; exit 0'], shell: true }), b, opts);
    h.abandon();
    await sleep(400);
    assert.equal(adoptRun(record(h), b, opts), null);
    const o = await collectFinishedRun(record(h), opts);
    assert.equal(o.status, 'succeeded');
    assert.equal(o.exitCode, 0);
    assert.equal(o.outputTail, 'hi\n');
    if (name !== 'portable') assert.equal(o.memorySource, 'cgroup', 'the cgroup outlived the run and was read, then removed');
  });

  test(`${name}: a run killed while no daemon watched is interrupted`, { skip }, async () => {
    const b = get();
    const h = startRun(spec({ argv: ['sleep', '30'] }), b, opts);
    await sleep(200);
    h.abandon();
    process.kill(-h.pid!, 'SIGKILL');
    await sleep(200);
    assert.equal(adoptRun(record(h), b, opts), null);
    const o = await collectFinishedRun(record(h), opts);
    assert.equal(o.status, 'interrupted');
    assert.match(o.errorMessage ?? '', /no supervisor was watching/);
  });

  test(`${name}: an adopted run keeps its original deadline`, { skip }, async () => {
    const b = get();
    const h = startRun(spec({ argv: ['sleep', '30'], timeoutMs: 900 }), b, opts);
    await sleep(200);
    h.abandon();
    const h2 = adoptRun(record(h), b, opts)!;
    const o = await h2.done;
    assert.equal(o.status, 'timeout');
    assert.ok(o.durationMs >= 850 && o.durationMs < 2500, `duration ${o.durationMs}`);
  });
}

test('a shim whose daemon went away before its start signal never runs the command, and a later daemon reads it so', async () => {
  const runDir = path.join(tempDir(), 'never');
  fs.mkdirSync(runDir);
  const marker = path.join(runDir, 'ran');
  // The real shim, its stdin closed before any "go" (the daemon killed while preparing the run).
  const shim = spawnSync('/bin/sh', shimArgs(runDir, ['touch', marker]), { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(shim.status, SHIM_UNSTARTED);
  assert.match(String(shim.stderr), /supervisor went away before the start signal/);
  assert.equal(fs.existsSync(marker), false, 'the command never ran');
  const o = await collectFinishedRun({ runId: 'never', pid: shim.pid!, pidStart: '', runDir }, opts);
  assert.equal(o.status, 'interrupted');
  assert.equal(o.started, false, 'no start time is recorded for it');
  assert.equal(o.exitCode, null, "125 is the shim's, not the command's");
  assert.match(o.errorMessage ?? '', /^never started: the daemon went away before the run's start signal/);
  // A command that itself exits 125 is not mistaken for it.
  const own = path.join(tempDir(), 'own');
  fs.mkdirSync(own);
  const child = spawnSync('/bin/sh', shimArgs(own, ['sh', '-c', 'exit 125']), { input: 'go\n' });
  assert.equal(child.status, 125);
  const p = await collectFinishedRun({ runId: 'own', pid: child.pid!, pidStart: '', runDir: own }, opts);
  assert.equal(p.status, 'failed');
  assert.equal(p.exitCode, 125);
  assert.equal(p.started, true);
});

test('a reused pid (different start time) is never adopted', async () => {
  const b = createBackend('portable', {}, probe);
  const h = startRun(spec({ argv: ['sleep', '5'] }), b, opts);
  await sleep(100);
  const rec = record(h);
  assert.equal(adoptRun({ ...rec, pidStart: rec.pidStart.replace(/:\d+$/, ':1') }, b, opts), null);
  assert.equal(adoptRun({ ...rec, pid: process.pid }, b, opts), null);
  h.cancel('test over');
  assert.equal((await h.done).status, 'interrupted');
});

test('the shim writes exit status and CPU time into the run directory; its mtime is the end time', async () => {
  const b = createBackend('portable', {}, probe);
  const h = startRun(spec({ argv: ['exit 4'], shell: true }), b, opts);
  await h.done;
  const file = path.join(h.runDir, 'exit');
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines[0], '4');
  assert.match(lines[2]!, /^\d+m[\d.]+s \d+m[\d.]+s$/);
  assert.ok(Math.abs(fs.statSync(file).mtimeMs - Date.now()) < 5000);
  assert.equal(readExitFile(h.runDir)?.endedAt, Math.round(fs.statSync(file).mtimeMs));
  const rf = JSON.parse(fs.readFileSync(path.join(h.runDir, 'run.json'), 'utf8'));
  assert.equal(rf.pid, h.pid);
  assert.equal(rf.pidStart, h.pidStart);
});
