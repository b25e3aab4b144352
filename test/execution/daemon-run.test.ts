/** `smart-cron run NAME --wait`: in-process without a daemon (exit 0/1 by the result), queued to the daemon with one. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeHost } from '../../src/execution/enforcement/detect.js';
import { processGroupMembers } from '../../src/execution/procfs.js';
import { describe, runCli } from '../helpers/cli.js';
import { cgroupRoots, daemonStarted, startCliProcess, startDaemonProcess, testHome, until } from '../fixtures/exec-core/daemon-proc.js';

test('run --wait: here without a daemon (exit 0 on success, 1 on failure); through the daemon when one runs', { timeout: 240_000 }, async () => {
  const { home, slot, app: a } = await testHome('run');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  try {
    const add = (name: string, line: string) =>
      a.jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', shell: true, command: [line], slot }, { source: 'manual', byUser: true });
    await add('ok', 'echo fine');
    await add('bad', 'echo broken >&2; exit 3');
    // An enabled job that is overdue (no daemon has planned it): the one-shot run must not be disturbed by it.
    await a.jobs.registerJob({ name: 'overdue', schedule: '* * * * *', timezone: 'UTC', command: ['true'], slot }, { source: 'manual', byUser: true });
    await a.database.db.updateTable('smart_cron_integrated_jobs').set({ next_scheduled_run: '2020-01-01T00:00:00.000Z' }).where('name', '=', 'overdue').execute();

    const [ok, bad] = await Promise.all([
      runCli(['--home', home, 'run', 'ok', '--wait'], { timeoutMs: 120_000 }),
      runCli(['--home', home, 'run', 'bad', '--wait'], { timeoutMs: 120_000 }),
    ]);
    assert.equal(ok.code, 0, describe(ok));
    assert.match(ok.stdout, /running #\d+ of ok here \(no daemon is running\)/);
    assert.match(ok.stdout, /run #\d+: succeeded \(exit 0\)/);
    assert.equal(bad.code, 1, describe(bad));
    assert.match(bad.stdout, /run #\d+: failed \(exit 3\)/);
    const runs = await a.jobs.history.list({ limit: 10 });
    assert.deepEqual(runs.map((r) => [r.trigger, r.status]).sort(), [['manual', 'failed'], ['manual', 'succeeded']]);
    assert.ok(runs.every((r) => r.node !== null && r.slot === slot && r.recorded === 1));
    assert.equal((await a.jobs.history.list({ jobId: (await a.jobs.getJob('overdue')).id })).length, 0, 'the one-shot run plans nothing');
    // A one-shot run's cgroups go with it (its memory cgroup emptied first), not left for a daemon.
    const memRoot = probeHost().cgroup1.ok ? probeHost().cgroup1.controllers.memory?.base : null;
    const prefix = process.env.SMART_CRON_CGROUP_PREFIX;
    if (memRoot && prefix) {
      const runCgroups = () =>
        readdirSync(memRoot)
          .filter((g) => g.startsWith(`${prefix}-`) && existsSync(join(memRoot, g, slot)))
          .flatMap((g) => readdirSync(join(memRoot, g, slot), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(memRoot, g, slot, d.name)));
      await until('the one-shot runs\' cgroups to go', async () => runCgroups().length === 0, 5000).catch(() => assert.fail(`left: ${runCgroups().join(', ')}`));
    }

    d = startDaemonProcess(home);
    await daemonStarted(d);
    const viaDaemon = await runCli(['--home', home, 'run', 'ok', '--wait'], { timeoutMs: 120_000 });
    assert.equal(viaDaemon.code, 0, describe(viaDaemon));
    assert.match(viaDaemon.stdout, /queued run #\d+; waiting for the daemon \(pid \d+\)/);
    assert.match(viaDaemon.stdout, /succeeded \(exit 0\)/);
    const last = (await a.jobs.history.list({ jobId: (await a.jobs.getJob('ok')).id, limit: 1 }))[0]!;
    assert.equal(last.status, 'succeeded');
    assert.equal(last.pid !== null, true);
    // A failure through the daemon: the seed's alert line, in the daemon's log with its time like every line.
    const badViaDaemon = await runCli(['--home', home, 'run', 'bad', '--wait'], { timeoutMs: 120_000 });
    assert.equal(badViaDaemon.code, 1, describe(badViaDaemon));
    await until('the alert line in the daemon log', async () => /^\d{4}-\d\d-\d\dT[\d:.]+Z \[ALERT\] bad - failure - error$/m.test(d!.output()), 20_000).catch(() => assert.fail(d!.output()));
    // A run the daemon cannot take says why it waits (here: pinned to another node), once.
    await a.jobs.registerJob({ name: 'elsewhere', schedule: '@yearly', timezone: 'UTC', command: ['true'], slot, pinned_node: 'another-node' }, { source: 'manual', byUser: true });
    const waiting = startCliProcess(home, ['run', 'elsewhere', '--wait']);
    await until('run --wait to say why the run waits', async () => /^waiting: pinned to node "another-node" \(this node is "[^"]+"\)$/m.test(waiting.stdout()), 60_000).catch(() => assert.fail(waiting.output()));
    waiting.child.kill('SIGINT');
    await waiting.exited;
    assert.equal(waiting.stdout().match(/^waiting: /gm)?.length, 1, 'said once');
    assert.match(waiting.stdout(), /^never started: queued .*, ended /m, 'no start, wait or usage to report for it');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.output());
    // Stopped with nothing running, it leaves no cgroup of its own behind (slots included).
    const out = d.output();
    const ours = cgroupRoots(out);
    if (!out.includes('enforcement portable')) assert.ok(ours.length > 0, `no cgroup paths in the start-up line: ${out}`);
    for (const dir of ours) assert.equal(existsSync(dir), false, `${dir} is left after the daemon stopped`);
  } finally {
    if (d && d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await a.close();
  }
});

test('Ctrl-C on run --wait stops the run it started (recorded interrupted, nothing left running); a second one would leave it', { timeout: 120_000 }, async () => {
  const { home, slot, app: a } = await testHome('runint');
  try {
    await a.jobs.registerJob({ name: 'long', schedule: '@yearly', timezone: 'UTC', shell: true, command: ['echo begun; sleep 60'], slot }, { source: 'manual', byUser: true });
    const cli = startCliProcess(home, ['run', 'long', '--wait']);
    const run = await until(
      'the run to start',
      async () => {
        const [r] = await a.jobs.history.list({ limit: 1 });
        return r?.status === 'running' && r.pid && /running #\d+ of long here/.test(cli.stdout()) ? r : undefined;
      },
      60_000,
    );
    const t0 = Date.now();
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 130, cli.output());
    assert.match(cli.stderr(), new RegExp(`stopping run #${run.id} \\(SIGINT\\); Ctrl-C again leaves it running`));
    assert.match(cli.stdout(), new RegExp(`run #${run.id}: interrupted`));
    const done = (await a.jobs.history.byId(run.id))!;
    assert.deepEqual([done.status, done.error_message], ['interrupted', 'stopped by SIGINT to smart-cron run --wait']);
    assert.ok(Date.now() - t0 < 15_000, `stopped, not left to its minute: ${Date.now() - t0} ms`);
    assert.deepEqual(processGroupMembers(run.pid!), [], 'no process of the run is left');
  } finally {
    await a.close();
  }
});
