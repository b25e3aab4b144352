/**
 * A slot that only some nodes of a cluster have: a person may name it on any node (its runs go
 * to a node that has it), a typo is still refused; a node without it leaves its runs to the
 * nodes with it, saying so, and skips them only when no node that is up has it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../src/errors.js';
import { JobManager } from '../../src/jobs/manager.js';
import { NodesRepo } from '../../src/storage/repos/nodes.js';
import { harness } from '../fixtures/exec-core/harness.js';
import { forEachDatabase } from '../helpers/postgres.js';
import { manager } from '../jobs/helpers.js';

const node = (id: string, slots: Record<string, unknown>) => ({ id, hostname: `${id}.example`, labels: {}, slots, version: '0', pid: 1, enforcement: 'portable' });
const SPECIAL = { special: { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 50 } };

forEachDatabase('a slot another node has may be named here; a typo is refused with every slot of the cluster', async ({ database }) => {
  const { clock } = manager(database);
  const jm = new JobManager(database, clock, { slots: ['default', 'heavy'] });
  await new NodesRepo(database.db).register(node('n3', SPECIAL), clock.now());
  const { job } = await jm.registerJob({ name: 'db-vacuum', schedule: '@daily', command: ['true'], slot: 'special' }, { source: 'manual', byUser: true });
  assert.equal(job.slot, 'special');
  await assert.rejects(
    jm.updateJob('db-vacuum', { slot: 'specail' }),
    (e: Error) => e instanceof ValidationError && e.message === 'job "db-vacuum": slot "specail" is not configured (did you mean "special"?) (expected auto or one of: default, heavy, special; slots are added under slots: in config.yaml)',
  );
});

test('a node without the slot leaves the run to a node that has it, saying so; with no such node up, the run is skipped', async () => {
  const h = await harness({ node: 'n1' });
  try {
    const nodes = new NodesRepo(h.database.db);
    await nodes.register(node('n1', { default: {} }), h.clock.now());
    await nodes.register(node('n3', SPECIAL), h.clock.now());
    await h.add({ name: 'vacuum', schedule: '0 0 1 1 *', slot: 'special' });
    h.d.start();
    const queued = await h.d.requestRun({ job: 'vacuum' });
    await h.step(2000);
    const waiting = (await h.jobs.history.byId(queued.id))!;
    assert.equal(waiting.status, 'queued', 'not skipped: n3 takes it');
    assert.equal(waiting.wait_reason, 'needs slot "special", which this node ("n1") does not have (nodes that have it: n3)');
    await nodes.markStopped('n3');
    await h.step(2000);
    const skipped = (await h.jobs.history.byId(queued.id))!;
    assert.equal(skipped.status, 'skipped');
    assert.match(skipped.skip_reason ?? '', /^slot "special" is not configured/);
  } finally {
    await h.close();
  }
});
