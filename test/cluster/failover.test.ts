/**
 * Failover's judgement of other nodes (execution/failover.ts), in virtual time: a node is down
 * only once its heartbeat stood still for a whole lease of our watching — not because its clock
 * or ours is off, nor right after our own connection came back — and a node that stopped
 * cleanly and never returned gives up its runs once they are past their timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { failDeadNodes, HeartbeatWatch } from '../../src/execution/failover.js';
import { NodesRepo } from '../../src/storage/repos/nodes.js';
import { forEachDatabase } from '../helpers/postgres.js';
import { manager, startRun } from '../jobs/helpers.js';

const LEASE = 30_000;

test('HeartbeatWatch: a heartbeat that keeps changing is alive whatever time it says; one that stands still for a lease of watching is not', () => {
  const w = new HeartbeatWatch(15_000);
  let now = 1_000_000;
  // n-ahead writes times 45 s in our future, n-behind 45 s in our past: both alive as long as they change.
  for (let i = 0; i < 10; i++, now += 5000) {
    const rows = [
      { id: 'n-ahead', heartbeat_at: iso(now + 45_000) },
      { id: 'n-behind', heartbeat_at: iso(now - 45_000) },
      { id: 'n-dead', heartbeat_at: iso(0) },
    ];
    const quiet = w.observe(rows, now, LEASE).map((r) => r.id);
    assert.deepEqual(quiet, i >= 6 ? ['n-dead'] : [], `after ${i * 5} s of watching`);
  }
});

test('HeartbeatWatch: after a gap in our own watching (our database away, our process stopped) it watches afresh', () => {
  const w = new HeartbeatWatch(15_000);
  const stale = [{ id: 'n2', heartbeat_at: iso(0) }];
  assert.deepEqual(w.observe(stale, 0, LEASE), []);
  assert.deepEqual(w.observe(stale, 10_000, LEASE), []);
  // 40 s without a look (a database outage): n2 could not write either; nothing proves it dead.
  assert.deepEqual(w.observe(stale, 50_000, LEASE), [], 'a gap starts the watch again');
  assert.deepEqual(w.observe(stale, 60_000, LEASE), []);
  assert.deepEqual(w.observe(stale, 75_000, LEASE), []);
  assert.deepEqual(w.observe(stale, 80_000, LEASE).map((r) => r.id), ['n2'], 'a whole lease of watching since');
  w.reset();
  assert.deepEqual(w.observe(stale, 85_000, LEASE), [], 'reset: watching afresh');
});

forEachDatabase('failover: a node that stopped cleanly and never came back gives up its runs past their timeout (plus the lease), not before', async ({ database }) => {
  const { mgr, clock } = manager(database);
  const nodes = new NodesRepo(database.db);
  const node = (id: string) => ({ id, hostname: `${id}.example`, labels: {}, slots: {}, version: '0', pid: 1, enforcement: 'portable' });
  await nodes.register(node('self'), clock.now());
  await nodes.register(node('away'), clock.now());
  const { job: long } = await mgr.registerJob({ name: 'long', schedule: '@yearly', timezone: 'UTC', command: ['sleep', '1000'], timeout_seconds: 600 }, { source: 'manual', byUser: true });
  const { job: short } = await mgr.registerJob({ name: 'short', schedule: '@yearly', timezone: 'UTC', command: ['sleep', '10'], timeout_seconds: 60 }, { source: 'manual', byUser: true });
  const runLong = await startRun(mgr, long.id);
  const runShort = await startRun(mgr, short.id);
  await database.db.updateTable('smart_cron_job_history').set({ node: 'away' }).execute();
  await nodes.markStopped('away');

  const watch = new HeartbeatWatch(60_000);
  const failover = () => failDeadNodes({ jobs: mgr, clock, self: 'self', leaseMs: LEASE, watch, queueRetry: async () => undefined });
  const statuses = async () => Promise.all([runLong, runShort].map(async (r) => (await mgr.history.byId(r.id))!.status));
  for (let t = 0; t <= 100_000; t += 10_000) {
    assert.deepEqual((await failover()).nodes, [], 'a stopped node is never marked down');
    assert.equal((await statuses())[1], t > 90_000 ? 'lost' : 'running', `short at ${t / 1000} s`);
    if (t < 100_000) await clock.advance(10_000);
  }
  // 100 s: short's timeout (60 s) and the lease (30 s) have passed; long's have not.
  assert.deepEqual(await statuses(), ['running', 'lost']);
  const lost = (await mgr.history.byId(runShort.id))!;
  assert.equal(lost.error_message, `node away stopped (last heartbeat ${iso(Date.UTC(2026, 5, 1, 12, 7, 0))}) and did not come back before the run's timeout (60s)`);
  assert.equal((await nodes.list()).find((n) => n.id === 'away')!.status, 'stopped');
});
