/**
 * The spawn helper (spawn-helper.ts) with real processes: what it forks is exactly what was
 * asked (any bytes in argv and env, cwd, own session, log, reset signals), a placement it cannot
 * write leaves the command unstarted, and when the helper dies or is stopped the runs it forked
 * carry on and are still recorded.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PortableBackend } from '../../src/execution/enforcement/portable.js';
import { processGroupMembers, startToken, tokenPrefix } from '../../src/execution/procfs.js';
import { runnerOptionsFromConfig, startRun } from '../../src/execution/runner.js';
import { readExitFile, readRunFile, SHIM_UNSTARTED } from '../../src/execution/shim.js';
import { Sampler } from '../../src/execution/sampler.js';
import { perlAvailable, SpawnHelper, type HelperExit } from '../../src/execution/spawn-helper.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const skip = perlAvailable() ? false : 'perl is not installed: no spawn helper';
const sampler = new Sampler({ intervalMs: 50 });
const helpers: SpawnHelper[] = [];
after(() => {
  sampler.stop();
  for (const h of helpers) h.dispose();
});
function newHelper(): SpawnHelper {
  const h = new SpawnHelper();
  helpers.push(h);
  return h;
}
/** A new helper, a temp dir, and an empty log in it. */
function fresh(): { helper: SpawnHelper; dir: string; log: string } {
  const dir = tempDir();
  const log = path.join(dir, 'out.log');
  fs.writeFileSync(log, '');
  return { helper: newHelper(), dir, log };
}
/** An exit callback for spawn() and the promise of what it is called with. */
function watchExit(): { exited: Promise<HelperExit | null>; exit: (e: HelperExit | null) => void } {
  let exit!: (e: HelperExit | null) => void;
  const exited = new Promise<HelperExit | null>((r) => (exit = r));
  return { exited, exit };
}
const optsWith = (helper: SpawnHelper) => runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 4096, log_max_bytes: 1 << 20 }, sampler, undefined, helper);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('the helper runs exactly the argv, env and cwd it was given, in a session of its own, output to the log', { skip }, async () => {
  const { helper, dir, log } = fresh();
  const { exited, exit } = watchExit();
  const odd = ['a b', 'line\nbreak', 'ünï ✓', '', '$HOME', "quote ' \" \\"];
  const s = await helper.spawn(
    {
      cwd: dir,
      logPath: log,
      env: { ODD: 'x\ny=z', PATH: process.env.PATH! },
      // stdin first (the handshake), then what the process is.
      argv: ['/bin/sh', '-c', 'read go; echo "go=$go"; for a in "$@"; do printf "[%s]" "$a"; done; echo; printf "%s\\n" "$ODD"; pwd; read -r _ _ _ _ pgrp sid _ < /proc/$$/stat; echo "$sid $pgrp"; grep SigIgn /proc/$$/status; echo err >&2', 'argv0', ...odd],
      placeFiles: [],
    },
    exit,
  );
  assert.ok(s.pid > 0 && s.failed === null);
  s.go('now\n');
  assert.deepEqual(await exited, { code: 0, signal: null });
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  assert.equal(lines[0], 'go=now');
  assert.equal(`${lines[1]}\n${lines[2]}`, odd.map((a) => `[${a}]`).join(''), 'every argument arrives byte for byte');
  assert.deepEqual(lines.slice(3, 5), ['x', 'y=z'], 'env values with newlines and = survive');
  assert.equal(lines[5], fs.realpathSync(dir));
  assert.deepEqual(lines[6]!.trim().split(/\s+/).map(Number), [s.pid, s.pid], 'its own session and process group');
  assert.match(lines[7]!, /^SigIgn:\s+0+$/, 'no signal stays ignored');
  assert.equal(lines[8], 'err', 'stderr goes to the log too');
});

test('a placement the helper cannot write: the process never starts its command and exits unstarted', { skip }, async () => {
  const { helper, dir, log } = fresh();
  const marker = path.join(dir, 'ran');
  const { exited, exit } = watchExit();
  const s = await helper.spawn(
    { cwd: dir, logPath: log, env: {}, argv: ['/bin/sh', '-c', `IFS= read -r go || exit ${SHIM_UNSTARTED}; touch ${marker}`], placeFiles: [path.join(dir, 'no-such-cgroup', 'cgroup.procs')] },
    exit,
  );
  assert.equal(s.failed?.stage, 'place');
  assert.match(s.failed?.message ?? '', /no-such-cgroup\/cgroup\.procs: No such file or directory/);
  assert.deepEqual(await exited, { code: SHIM_UNSTARTED, signal: null });
  assert.equal(fs.existsSync(marker), false);
});

test('a confinement plan the helper cannot apply: no shim starts, and what was created is removed again', { skip }, async () => {
  const { helper, dir, log } = fresh();
  const made = path.join(dir, 'run-cg');
  const req = { cwd: dir, logPath: log, env: {}, argv: ['/bin/true'], placeFiles: [] };
  await assert.rejects(helper.spawn({ ...req, mkdirs: [path.join(dir, 'no-parent', 'run-cg')] }, () => {}), /^Error: cannot create cgroup .*no-parent\/run-cg \(No such file or directory\)$/);
  await assert.rejects(
    helper.spawn({ ...req, mkdirs: [made], writes: [[path.join(made, 'sub', 'memory.max'), '1048576']] }, () => {}),
    /^Error: cannot write '1048576' to .*run-cg\/sub\/memory\.max \(No such file or directory\)$/,
  );
  assert.equal(fs.existsSync(made), false, 'the directory it made is gone');
  // And a plan that applies: directories made, files written, the pid placed (control files
  // exist in a cgroup; here they are plain files made beforehand, as the helper creates none).
  const cg = path.join(dir, 'cg-ok');
  const files = path.join(dir, 'files');
  fs.mkdirSync(files);
  fs.writeFileSync(path.join(files, 'limit'), '');
  fs.writeFileSync(path.join(files, 'procs'), '');
  const { exited, exit } = watchExit();
  const s = await helper.spawn({ ...req, argv: ['/bin/sh', '-c', 'read go'], mkdirs: [cg], writes: [[path.join(files, 'limit'), '42']], placeFiles: [path.join(files, 'procs')] }, exit);
  assert.ok(fs.statSync(cg).isDirectory());
  assert.equal(fs.readFileSync(path.join(files, 'limit'), 'utf8'), '42');
  assert.equal(fs.readFileSync(path.join(files, 'procs'), 'utf8'), String(s.pid));
  s.go('go\n');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('the helper makes the run directory and its empty log before forking; a reused one loses its stale exit status; one it cannot make forks nothing', { skip }, async () => {
  const helper = newHelper();
  const home = tempDir();
  // runs/ itself does not exist yet (a new home): made too.
  const runDir = path.join(home, 'runs', '7');
  const log = path.join(runDir, 'output.log');
  const req = { cwd: home, logPath: log, runDir, env: {}, placeFiles: [] };
  let { exited, exit } = watchExit();
  let s = await helper.spawn({ ...req, argv: ['/bin/sh', '-c', 'read go; echo first'] }, exit);
  assert.equal(fs.readFileSync(log, 'utf8'), '', 'the log exists, empty, when the pid comes back');
  s.go('go\n');
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.equal(fs.readFileSync(log, 'utf8'), 'first\n');
  // The same run directory again (a run id started again): the old log is emptied and the old
  // exit status (of the shim, or of a run_as_user shim under status/) is gone before the fork.
  fs.writeFileSync(path.join(runDir, 'exit'), '0 1 2\n');
  fs.mkdirSync(path.join(runDir, 'status'));
  fs.writeFileSync(path.join(runDir, 'status', 'exit'), '0 1 2\n');
  ({ exited, exit } = watchExit());
  s = await helper.spawn({ ...req, argv: ['/bin/sh', '-c', 'read go'] }, exit);
  assert.equal(fs.readFileSync(log, 'utf8'), '');
  assert.equal(fs.existsSync(path.join(runDir, 'exit')), false);
  assert.equal(fs.existsSync(path.join(runDir, 'status')), false);
  s.go('go\n');
  await exited;
  // A run directory that cannot be made: the reason, and nothing forked.
  const blocker = path.join(home, 'a-file');
  fs.writeFileSync(blocker, '');
  const bad = path.join(blocker, 'runs', '8');
  await assert.rejects(
    helper.spawn({ ...req, runDir: bad, logPath: path.join(bad, 'output.log'), argv: ['/bin/true'] }, () => {}),
    /^Error: cannot create the run directory .*a-file\/runs\/8 \(Not a directory\)$/,
  );
});

test('the helper writes run.json with the pid and its start token before the shim may start; one it cannot write leaves the command unstarted', { skip }, async () => {
  const helper = newHelper();
  const dir = tempDir();
  const log = path.join(dir, 'output.log');
  const file = path.join(dir, 'run.json');
  const fields = { runId: '9', jobName: 'odd "name" ✓\n', argv: ['a b'], startedAt: 5, timeoutMs: 0, memoryLimitMb: null, confinement: { backend: 'portable', paths: [], memoryLimitBytes: null } };
  const req = { cwd: dir, logPath: log, runDir: dir, env: {}, placeFiles: [], argv: ['/bin/sh', '-c', 'read go'] };
  let { exited, exit } = watchExit();
  let s = await helper.spawn({ ...req, runFile: { path: file, tokenPrefix: tokenPrefix(), fields } }, exit);
  assert.equal(s.failed, null);
  // Written when the pid comes back, before any "go": what a restarted daemon would read.
  const rf = readRunFile(dir);
  assert.deepEqual(rf, { pid: s.pid, pidStart: startToken(s.pid), ...fields });
  assert.equal(`${tokenPrefix()}${s.startTime}`, startToken(s.pid), 'the start time the helper reports is the one /proc has');
  s.go('go\n');
  assert.deepEqual(await exited, { code: 0, signal: null });
  // Fields of an empty object still make valid JSON.
  ({ exited, exit } = watchExit());
  s = await helper.spawn({ ...req, runFile: { path: file, tokenPrefix: tokenPrefix(), fields: {} } }, exit);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { pid: s.pid, pidStart: startToken(s.pid) });
  s.go('go\n');
  await exited;
  // A run.json it cannot write (here a directory in its place): the shim exists but never starts.
  fs.rmSync(file);
  fs.mkdirSync(file);
  const marker = path.join(dir, 'ran');
  ({ exited, exit } = watchExit());
  s = await helper.spawn({ ...req, argv: ['/bin/sh', '-c', `IFS= read -r go || exit ${SHIM_UNSTARTED}; touch ${marker}`], runFile: { path: file, tokenPrefix: tokenPrefix(), fields } }, exit);
  assert.deepEqual(s.failed, { stage: 'runfile', message: 'EISDIR (Is a directory)' });
  assert.deepEqual(await exited, { code: SHIM_UNSTARTED, signal: null });
  assert.equal(fs.existsSync(marker), false);
  await assert.rejects(helper.spawn({ ...req, runFile: { path: file, tokenPrefix: 'x"y:', fields } }, () => {}), /bad start token prefix/);
});

test('a process that ends at once is reported spawned before it is reported ended (the runner confines it first)', { skip }, async () => {
  const { helper, dir, log } = fresh();
  const fields = { runId: 'x', jobName: 'j', argv: ['true'], startedAt: 1, timeoutMs: 0, memoryLimitMb: null, confinement: { backend: 'portable', paths: [], memoryLimitBytes: null } };
  // run.json cannot be written (a directory in its place): the process reports so and exits 125
  // at once, so its "failed" and its end often reach us in one read.
  const file = path.join(dir, 'run.json');
  fs.mkdirSync(file);
  const order: string[] = [];
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const { exited, exit } = watchExit();
      const spawned = helper.spawn({ cwd: dir, logPath: log, env: {}, placeFiles: [], argv: ['/bin/sh', '-c', 'exit 0'], runFile: { path: file, tokenPrefix: tokenPrefix(), fields } }, (e) => {
        order.push(`${i} ended`);
        exit(e);
      });
      void spawned.then(() => order.push(`${i} spawned`));
      return Promise.all([spawned, exited]);
    }),
  );
  for (let i = 0; i < 40; i++) assert.ok(order.indexOf(`${i} spawned`) < order.indexOf(`${i} ended`), `spawn ${i}: ${order.join(', ')}`);
});

test('a start stuck on its disk work holds up neither the starts after it nor the runs before it', { skip }, async () => {
  const helper = newHelper();
  const dir = tempDir();
  const fields = { runId: 'x', jobName: 'j', argv: ['true'], startedAt: 1, timeoutMs: 0, memoryLimitMb: null, confinement: { backend: 'portable', paths: [], memoryLimitBytes: null } };
  const req = (name: string, file = path.join(dir, `${name}.json`)) => ({ cwd: dir, logPath: path.join(dir, `${name}.log`), runDir: dir, env: {}, placeFiles: [], argv: ['/bin/sh', '-c', `IFS= read -r go || exit ${SHIM_UNSTARTED}`], runFile: { path: file, tokenPrefix: tokenPrefix(), fields } });
  const within = <T,>(p: Promise<T>, what: string) => Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(what)), 5000).unref())]);
  // B exists before A, and waits for its start signal.
  const b = watchExit();
  const sb = await helper.spawn(req('b'), b.exit);
  // A's run.json is a FIFO: opening it for writing blocks until someone reads (a disk that hangs).
  const fifo = path.join(dir, 'a.json');
  execFileSync('mkfifo', [fifo]);
  const a = watchExit();
  const startedA = helper.spawn(req('a', fifo), a.exit);
  let aDone = false;
  void startedA.then(() => (aDone = true));
  const c = watchExit();
  const sc = await within(helper.spawn(req('c'), c.exit), 'C waited for A');
  assert.equal(aDone, false, 'A is still stuck');
  sc.go('go\n');
  assert.deepEqual(await within(c.exited, 'C never ended'), { code: 0, signal: null }, 'C started and ended meanwhile');
  // B let go unstarted: its shim sees its stdin end, although A (forked after it) is still stuck.
  sb.close();
  assert.deepEqual(await within(b.exited, 'B still waits: A holds its stdin open'), { code: SHIM_UNSTARTED, signal: null });
  // Unstuck: A's run.json is read from the FIFO, and A goes on.
  const text = fs.readFileSync(fifo, 'utf8');
  const sa = await startedA;
  assert.deepEqual(JSON.parse(text), { pid: sa.pid, pidStart: startToken(sa.pid), ...fields });
  sa.go('go\n');
  assert.deepEqual(await a.exited, { code: 0, signal: null });
});

test('a run cancelled while the helper is still forking it never runs its command', { skip }, async () => {
  const helper = newHelper();
  const opts = optsWith(helper);
  const backend = new PortableBackend();
  const dir = tempDir();
  const marker = path.join(dir, 'ran');
  const h = startRun({ runId: 'c1', jobName: 'j', argv: ['touch', marker], timeoutMs: 5000, slot: 'default', runDir: path.join(dir, 'c1') }, backend, opts);
  h.cancel('user request'); // before the helper has answered
  const o = await h.done;
  assert.equal(o.status, 'interrupted');
  assert.equal(o.errorMessage, 'cancelled: user request before its start: the command never ran');
  assert.equal(o.started, false, 'no start time');
  assert.equal(fs.existsSync(marker), false, 'the command never ran');
});

test('the helper killed while runs go on: they finish and are recorded from their exit files; the next run starts a new helper', { skip }, async () => {
  const helper = newHelper();
  const opts = optsWith(helper);
  const backend = new PortableBackend();
  const dir = tempDir();
  const h = startRun({ runId: 'k1', jobName: 'j', argv: ['sleep 0.6; echo finished; exit 4'], shell: true, timeoutMs: 10_000, slot: 'default', runDir: path.join(dir, 'k1') }, backend, opts);
  await h.ready;
  await waitFor(() => processGroupMembers(h.pid!).length > 1, 'the command has started (the helper passed on its go)');
  const first = helper.pid!;
  process.kill(first, 'SIGKILL');
  const o = await h.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.exitCode, 4, 'the exit status the shim wrote');
  assert.match(o.outputTail, /finished/);
  const h2 = startRun({ runId: 'k2', jobName: 'j', argv: ['echo', 'again'], timeoutMs: 10_000, slot: 'default', runDir: path.join(dir, 'k2') }, backend, opts);
  const o2 = await h2.done;
  assert.equal(o2.status, 'succeeded');
  assert.equal(o2.outputTail, 'again\n');
  assert.ok(helper.pid && helper.pid !== first, 'a new helper');
});

test('the helper stopped (the daemon went away): it exits, and a run it forked carries on to write its exit status', { skip }, async () => {
  const helper = newHelper();
  const opts = optsWith(helper);
  const dir = tempDir();
  const runDir = path.join(dir, 'a1');
  const h = startRun({ runId: 'a1', jobName: 'j', argv: ['sleep 0.5; exit 6'], shell: true, timeoutMs: 10_000, slot: 'default', runDir }, new PortableBackend(), opts);
  await h.ready;
  await waitFor(() => processGroupMembers(h.pid!).length > 1, 'the command has started');
  const helperPid = helper.pid!;
  h.abandon();
  helper.dispose();
  await waitFor(() => !alive(helperPid), 'the helper exits when the daemon closes its stdin');
  assert.ok(alive(h.pid!), 'the run lives on');
  await waitFor(() => readExitFile(runDir) !== null, 'the run ends on its own', 5000);
  assert.equal(readExitFile(runDir)!.exitCode, 6);
});
