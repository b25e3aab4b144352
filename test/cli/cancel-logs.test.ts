/**
 * `smart-cron logs` and `smart-cron cancel` against real processes: a daemon process runs the
 * job, `logs --follow` (another process) prints its output as it comes, and `cancel` (a third)
 * stops it through the request on the run, which the daemon acts on.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { queueManualRun } from '../../src/execution/manual.js';
import { processGroupMembers } from '../../src/execution/procfs.js';
import { describe, runCli } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { daemonStarted, startCliProcess, startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';

test('logs shows and follows a run’s output; cancel skips a queued run and has the daemon stop a running one', { timeout: 300_000 }, async () => {
  const { home, slot, app: a } = await testHome('cancel');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  let follower: ReturnType<typeof startCliProcess> | null = null;
  try {
    const add = (name: string, line: string) =>
      a.jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', shell: true, command: [line], slot }, { source: 'manual', byUser: true });
    await add('hello', 'printf "line one\\nline two\\n"; echo "to stderr" >&2');
    // Prints a line every 0.2 s for a minute, in a child that ignores TERM (the group is killed after the grace).
    await add('ticker', 'for i in $(seq 1 300); do echo "tick $i"; sleep 0.2; done');
    const cli = (...args: string[]) => runCli(['--home', home, ...args], { timeoutMs: 120_000 });

    // Nothing to show yet, and mistakes: each says what is wrong.
    const none = await cli('logs', 'hello');
    assert.equal(none.code, 2, describe(none));
    assert.match(none.stderr, /job hello has no runs yet \(start one with `smart-cron run hello`\)/);
    const neither = await cli('logs');
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /logs: name a job \(its latest run is shown\) or give --run ID/);
    const badId = await cli('cancel', 'abc');
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /"abc" is not a run id \(expected the number `history` shows, e.g. 42 or #42\)/);
    const badTail = await cli('logs', 'hello', '--tail', '-5');
    assert.equal(badTail.code, 2);
    assert.match(badTail.stderr, /--tail: "-5" is not a whole number of bytes above 0/);

    // A run here (no daemon): its whole output, exactly, and its tail from a whole line on.
    assert.equal((await cli('run', 'hello', '--wait')).code, 0);
    const shown = await cli('logs', 'hello');
    assert.equal(shown.code, 0, describe(shown));
    assert.equal(shown.stdout, 'line one\nline two\nto stderr\n');
    assert.equal(shown.stderr, '');
    const tail = await cli('logs', 'hello', '--tail', '14');
    assert.equal(tail.stdout, 'to stderr\n');
    const helloRun = (await a.jobs.history.list({ limit: 1 }))[0]!;
    const byId = await cli('logs', '--run', `#${helloRun.id}`, '--json');
    assert.equal(JSON.parse(byId.stdout).output, 'line one\nline two\nto stderr\n');
    // Its log file gone (pruned, or the run was another host's): the output kept with the run, tailed the same way.
    rmSync(helloRun.log_path!);
    const kept = await cli('logs', '--run', String(helloRun.id), '--tail', '14');
    assert.equal(kept.stdout, 'to stderr\n');
    assert.match(kept.stderr, /log file .* is not on this host.*or was pruned: this is the output kept with the run/);
    const keptJson = JSON.parse((await cli('logs', '--run', String(helloRun.id), '--tail', '14', '--json')).stdout);
    assert.deepEqual([keptJson.output, keptJson.from_log_file], ['to stderr\n', false]);
    const finished = await cli('cancel', String(helloRun.id));
    assert.equal(finished.code, 2);
    assert.match(finished.stderr, new RegExp(`run #${helloRun.id} has already finished \\(status succeeded\\); nothing to cancel`));

    // A queued run (no daemon to start it): skipped, with the reason.
    const queued = await queueManualRun(a.jobs, a.clock, { job: 'ticker' });
    const skip = await cli('cancel', String(queued.id), '--reason', 'not now');
    assert.equal(skip.code, 0, describe(skip));
    assert.match(skip.stdout, new RegExp(`run #${queued.id} \\(ticker\\) was queued: skipped, it will not start`));
    const skipped = (await a.jobs.history.byId(queued.id))!;
    assert.deepEqual([skipped.status, skipped.skip_reason], ['skipped', 'not now']);

    d = startDaemonProcess(home);
    await daemonStarted(d);
    const started = await cli('run', 'ticker');
    assert.equal(started.code, 0, describe(started));
    assert.match(started.stdout, /Follow it with `smart-cron logs ticker --follow`/);
    const runId = Number(/queued run #(\d+)/.exec(started.stdout)![1]);

    // --follow in its own process: the output as it comes, then the run's end.
    const f = (follower = startCliProcess(home, ['logs', 'ticker', '--follow']));
    await until('the follower to print tick 3', async () => /tick 3\n/.test(f.stdout()), 60_000);

    const running = (await a.jobs.history.byId(runId))!;
    assert.equal(running.status, 'running');
    const stop = await cli('cancel', `#${runId}`, '--reason', 'enough ticks', '--wait');
    assert.equal(stop.code, 0, describe(stop));
    assert.match(stop.stdout, new RegExp(`run #${runId} \\(ticker\\) is running: asked to stop; the daemon \\(pid ${d.child.pid}\\) stops it within a second`));
    assert.match(stop.stdout, new RegExp(`run #${runId}: interrupted`));
    assert.match(stop.stdout, /error: enough ticks/);
    const ended = (await a.jobs.history.byId(runId))!;
    assert.deepEqual([ended.status, ended.error_message, ended.cancel_requested], ['interrupted', 'enough ticks', 'enough ticks']);
    assert.ok(ended.duration_ms! < 55_000, `stopped long before its minute was up: ${ended.duration_ms} ms`);
    assert.deepEqual(processGroupMembers(ended.pid!), [], 'no process of the run is left');

    assert.equal(await f.exited, 0, f.stderr());
    const followed = f.stdout();
    assert.match(followed, /^tick 1\ntick 2\ntick 3\n/);
    const lines = followed.trim().split('\n').filter((l) => l.startsWith('tick '));
    assert.deepEqual(lines, lines.map((_, i) => `tick ${i + 1}`), 'every line once, in order');
    assert.match(f.stderr(), new RegExp(`--- run #${runId} \\(ticker\\): interrupted .*: enough ticks`));
    // What followed is what the log holds.
    assert.equal((await cli('logs', '--run', String(runId))).stdout, followed);

    const hist = await cli('history', 'ticker');
    assert.match(hist.stdout, /interrupted .*enough ticks/);

    // Another node's run: its log is on that host. --follow says so, then prints what the run kept when it ends.
    const ticker = await a.jobs.getJob('ticker');
    const remote = await insertRun(a.database, ticker.id, { status: 'running', node: 'elsewhere', started_at: new Date().toISOString(), slot, log_path: '/nonexistent/run/output.log' });
    const rf = (follower = startCliProcess(home, ['logs', '--run', String(remote.id), '--follow']));
    await until('the follower to say where the log is', async () => /runs on elsewhere: its log is on that host/.test(rf.stderr()), 60_000);
    await a.jobs.history.update(remote.id, { status: 'succeeded', finished_at: new Date().toISOString(), exit_code: 0, output_tail: 'kept line\n' });
    assert.equal(await rf.exited, 0, rf.stderr());
    assert.equal(rf.stdout(), 'kept line\n');
    assert.match(rf.stderr(), new RegExp(`--- run #${remote.id} \\(ticker\\): succeeded \\(exit 0\\)`));
  } finally {
    if (follower && follower.child.exitCode === null) follower.child.kill('SIGKILL');
    if (d && d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGTERM');
      await d.exited;
    }
    await a.close();
  }
});
