/**
 * `smart-cron run NAME --wait` for a job that retries: it waits for the last attempt, printing
 * each attempt as it ends and the retry that follows, and exits by the last one. Without a
 * daemon the one-shot run runs the retries too, and says which runs it leaves queued (the
 * dependents it triggered) for a daemon to start.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DependencyRepo } from '../../src/jobs/dependencies.js';
import { describe, runCli } from '../helpers/cli.js';
import { daemonStarted, startDaemonProcess, testHome } from '../fixtures/exec-core/daemon-proc.js';

test('run --wait follows the retries to the last attempt, here and through the daemon; what a one-shot run leaves queued is named', { timeout: 240_000 }, async () => {
  const { home, slot, app: a } = await testHome('runretry');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  try {
    const add = (name: string, line: string, more: Record<string, unknown> = {}) =>
      a.jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', shell: true, command: [line], slot, ...more }, { source: 'manual', byUser: true });
    const mark = join(home, 'tried');
    await add('flaky', `test -f ${mark} || { touch ${mark}; exit 3; }`, { retries: 2, retry_backoff_seconds: 1 });
    await add('bad', 'exit 3', { retries: 1, retry_backoff_seconds: 1 });
    await add('after', 'true');
    await new DependencyRepo(a.database.db).add((await a.jobs.getJob('after')).id, (await a.jobs.getJob('flaky')).id, 'triggers', { on: 'success' }, Date.now());

    const flaky = await runCli(['--home', home, 'run', 'flaky', '--wait'], { timeoutMs: 120_000 });
    assert.equal(flaky.code, 0, describe(flaky));
    assert.match(flaky.stdout, /^run #(\d+): failed \(exit 3\)$[\s\S]*^retry: attempt 2 \(run #(\d+)\) queued for .*; running it here when it is due…$[\s\S]*^run #\2: succeeded \(exit 0\)$/m);
    assert.match(flaky.stdout, /^run #\d+ of after \(dependency\) stays queued: no daemon runs for this home; it starts when one does/m);

    const bad = await runCli(['--home', home, 'run', 'bad', '--wait'], { timeoutMs: 120_000 });
    assert.equal(bad.code, 1, describe(bad));
    assert.equal(bad.stdout.match(/^run #\d+: failed \(exit 3\)$/gm)?.length, 2, describe(bad));
    assert.match(bad.stdout, /^retry: attempt 2 \(run #\d+\) queued for /m);
    assert.deepEqual((await a.jobs.history.list({ jobId: (await a.jobs.getJob('bad')).id })).map((r) => [r.attempt, r.status]).reverse(), [[1, 'failed'], [2, 'failed']]);

    d = startDaemonProcess(home);
    await daemonStarted(d);
    const viaDaemon = await runCli(['--home', home, 'run', 'bad', '--wait'], { timeoutMs: 120_000 });
    assert.equal(viaDaemon.code, 1, describe(viaDaemon));
    assert.match(viaDaemon.stdout, /^run #(\d+): failed \(exit 3\)$[\s\S]*^retry: attempt 2 \(run #(\d+)\) queued for .*; waiting for it…$[\s\S]*^run #\2: failed \(exit 3\)$/m);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.output());
  } finally {
    if (d && d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await a.close();
  }
});
