/**
 * `smart-cron slots`: each node's slots against their budgets, as the nodes last wrote them;
 * a node that stopped or stopped answering is left out (its last rows are not its load now);
 * before any daemon wrote rows, this node's configured slots, empty, with a note.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodesRepo } from '../../src/storage/repos/nodes.js';
import { describe, runCli } from '../helpers/cli.js';
import { testHome } from '../fixtures/exec-core/daemon-proc.js';

test('slots: this node and the other nodes that are up, as table and --json; before any daemon, the configured slots', { timeout: 120_000 }, async () => {
  const { home, slot, app } = await testHome('slots');
  const cli = (...args: string[]) => runCli(['--home', home, '--node-id', 'here', ...args]);
  try {
    const empty = await cli('--json', 'slots');
    assert.equal(empty.code, 0, describe(empty));
    assert.deepEqual(
      (JSON.parse(empty.stdout) as { node: string; slot: string; current_running_jobs: number }[]).map((r) => [r.node, r.slot, r.current_running_jobs]),
      [['here', 'default', 0], ['here', 'heavy', 0], ['here', 'light', 0], ['here', slot, 0]],
      "the seed's slots and the configured one, nothing running",
    );
    assert.match((await cli('slots')).stdout, /no daemon is running for this home: nothing runs/);

    const now = Date.now();
    const nodes = new NodesRepo(app.database.db);
    const node = (id: string) => ({ id, hostname: id, labels: {}, slots: {}, version: '0.1.0', pid: 1, enforcement: 'portable' });
    await nodes.register(node('here'), now);
    await nodes.register(node('peer'), now);
    await nodes.register(node('silent'), now - 3_600_000); // past any lease
    await nodes.register(node('left'), now);
    await nodes.markStopped('left');
    for (const [n, used] of [['here', 100], ['peer', 700], ['silent', 900], ['left', 300]] as const) {
      await app.database.db
        .insertInto('smart_cron_execution_slots')
        .values({ node: n, slot, max_concurrent_jobs: 5, max_memory_mb: 1000, max_cpu_percent: 100, current_running_jobs: 1, current_memory_mb: used, current_cpu_percent: 10, updated_at: new Date(now).toISOString() })
        .execute();
    }
    const rows = JSON.parse((await cli('--json', 'slots')).stdout) as { node: string; current_memory_mb: number }[];
    assert.deepEqual(rows.map((r) => [r.node, r.current_memory_mb]), [['here', 100], ['peer', 700]]);
    const table = (await cli('slots')).stdout;
    assert.match(table, /^NODE\s+SLOT\s+JOBS\s+MEMORY\s+CPU/m);
    assert.match(table, new RegExp(`^peer\\s+${slot}\\s+1/5\\s+700/1000 MB\\s+10/100 %`, 'm'));
    assert.doesNotMatch(table, /silent|left/);
    assert.match(table, /no daemon is running for this home: nothing runs/);

    // Runs a stopped daemon left going are not "nothing": they are said, and who takes them on.
    await app.jobs.registerJob({ name: 'orphan', schedule: '@yearly', timezone: 'UTC', command: ['sleep', '40'] }, { source: 'manual', byUser: true });
    const job = await app.jobs.getJob('orphan');
    const run = await app.database.db
      .insertInto('smart_cron_job_history')
      .values({ job_id: job.id, scheduled_for: new Date(now).toISOString(), attempt: 1, trigger: 'manual', status: 'running', node: 'here', slot, queued_at: new Date(now).toISOString(), started_at: new Date(now).toISOString() } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    assert.match((await cli('slots')).stdout, new RegExp(`no daemon is running for this home: 1 run \\(#${run.id}\\) goes on unsupervised; the next daemon adopts and records it`));
  } finally {
    await app.close();
  }
});
