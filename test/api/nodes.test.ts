/**
 * GET /api/nodes: the daemons sharing the database, each with its status judged against
 * node.lease_seconds (30 s here), its running runs and their reserved memory, labels parsed;
 * the same rows as `smart-cron nodes --json`. (Failover does not act on that rule alone: it
 * watches a heartbeat stand still for a lease, see execution/failover.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Value from 'typebox/value';
import { NodeOut } from '../../src/api/schemas.js';
import { failDeadNodes, HeartbeatWatch } from '../../src/execution/failover.js';
import { NodesRepo } from '../../src/storage/repos/nodes.js';
import { insertRun } from '../helpers/fixtures.js';
import { addJob, harness, type Harness } from './helpers.js';

interface NodeAnswer {
  id: string;
  status: string;
  heartbeat_at: string;
  running_runs: number;
  reserved_memory_mb: number;
  labels: Record<string, string>;
  slots: unknown;
  enforcement: string | null;
  version: string;
  stale: boolean;
}

describe('GET /api/nodes', () => {
  let h: Harness;
  const get = async () => {
    const r = await h.server.inject({ url: '/api/nodes', headers: h.auth });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json() as { nodes: NodeAnswer[]; this_node: string };
    return { ...body, byId: new Map(body.nodes.map((n) => [n.id, n])) };
  };

  before(async () => {
    h = await harness(); // node id test-node, lease 30 s
    const nodes = new NodesRepo(h.app.database.db);
    const now = h.clock.now();
    const node = (id: string, labels: Record<string, string> = {}, enforcement = 'portable') => ({ id, hostname: `${id}.example`, labels, slots: { default: { max_concurrent_jobs: 5 } }, version: '0.1.0', pid: 100, enforcement });
    await nodes.register(node('test-node', { disk: 'ssd', zone: 'b' }, 'cgroup2'), now);
    await nodes.register(node('edge'), now - 30_000); // exactly the lease: still up
    await nodes.register(node('quiet'), now - 31_000); // past the lease: unresponsive
    await nodes.register(node('gone'), now - 3_600_000);
    await nodes.markStopped('gone');

    const job = await addJob(h, 'work');
    let attempt = 0;
    const run = (node: string, status: 'running' | 'queued' | 'succeeded', reservation_mb: number | null) =>
      insertRun(h.app.database, job.id, { status, node, reservation_mb, attempt: ++attempt, started_at: status === 'queued' ? null : new Date(now).toISOString() }, now);
    await run('test-node', 'running', 256);
    await run('test-node', 'running', 128.5);
    await run('test-node', 'queued', 1000); // waiting: holds no memory
    await run('test-node', 'succeeded', 2000); // over: holds none either
    await run('quiet', 'running', null);
  });
  after(() => h.close());

  test('lists every node by id with its status against the lease, running runs, reserved memory and labels', async () => {
    const { nodes, byId, this_node } = await get();
    assert.equal(this_node, 'test-node');
    assert.deepEqual(
      nodes.map((n) => [n.id, n.status, n.running_runs, n.reserved_memory_mb]),
      [
        ['edge', 'up', 0, 0],
        ['gone', 'stopped', 0, 0],
        ['quiet', 'unresponsive', 1, 0],
        ['test-node', 'up', 2, 384.5],
      ],
    );
    const self = byId.get('test-node')!;
    assert.deepEqual(self.labels, { disk: 'ssd', zone: 'b' });
    assert.deepEqual(self.slots, { default: { max_concurrent_jobs: 5 } });
    assert.equal(self.enforcement, 'cgroup2');
    assert.equal(self.version, '0.1.0');
    assert.equal(self.heartbeat_at, new Date(h.clock.now()).toISOString());
    for (const n of nodes) {
      assert.ok(Value.Check(NodeOut, n), `${n.id}: ${JSON.stringify([...Value.Errors(NodeOut, n)].slice(0, 3))}`);
      assert.deepEqual(Object.keys(n).filter((k) => !(k in NodeOut.properties)), [], `${n.id}: fields missing from NodeOut`);
    }
  });

  test("the overview's slots: this node's live, then those the other nodes that are up last wrote", async () => {
    const at = new Date(h.clock.now()).toISOString();
    for (const node of ['edge', 'quiet', 'gone']) {
      await h.app.database.db
        .insertInto('smart_cron_execution_slots')
        .values({ node, slot: 'default', max_concurrent_jobs: 4, max_memory_mb: 2048, max_cpu_percent: 90, current_running_jobs: 1, current_memory_mb: 512, current_cpu_percent: 20, updated_at: at })
        .execute();
    }
    const r = await h.server.inject({ url: '/api/overview', headers: h.auth });
    assert.equal(r.statusCode, 200, r.body);
    const slots = (r.json() as { slots: { node: string; slot: string; current_memory_mb: number; max_memory_mb: number; queued: number }[] }).slots;
    const local = slots.filter((x) => x.node === 'test-node');
    assert.ok(local.length > 0, "this node's own slots come first");
    assert.deepEqual(slots.slice(0, local.length), local);
    // quiet is past the lease and gone has stopped: their last rows are not shown as if live.
    assert.deepEqual(
      slots.filter((x) => x.node !== 'test-node').map((x) => [x.node, x.slot, x.current_memory_mb, x.max_memory_mb, x.queued]),
      [['edge', 'default', 512, 2048, 0]],
    );
  });

  test('failover marks down a node whose heartbeat stood still for a whole lease of watching (not one that only looks old); once marked, it reads down', async () => {
    // One second later 'edge' is past the lease too.
    await h.clock.advance(1000);
    const before = await get();
    assert.deepEqual(
      before.nodes.map((n) => [n.id, n.status]),
      [
        ['edge', 'unresponsive'],
        ['gone', 'stopped'],
        ['quiet', 'unresponsive'],
        ['test-node', 'up'],
      ],
    );
    const leaseMs = h.app.config.node.lease_seconds * 1000;
    const watch = new HeartbeatWatch(leaseMs);
    const failover = () => failDeadNodes({ jobs: h.app.jobs, clock: h.clock, self: 'test-node', leaseMs, watch, queueRetry: async () => undefined });
    assert.deepEqual((await failover()).nodes, [], 'a heartbeat merely older than the lease by our clock proves nothing: watching starts');
    await h.clock.advance(leaseMs - 1000);
    const repo = new NodesRepo(h.app.database.db);
    for (const id of ['edge', 'test-node']) await repo.heartbeat(id, h.clock.now()); // edge answers again (and so do we)
    assert.deepEqual((await failover()).nodes, []);
    await h.clock.advance(1000);
    const r = await failover();
    assert.deepEqual(r.nodes, ['quiet'], 'quiet stood still for the whole lease; edge moved');
    const afterwards = await get();
    assert.deepEqual(
      afterwards.nodes.map((n) => [n.id, n.status, n.running_runs]),
      [
        ['edge', 'up', 0],
        ['gone', 'stopped', 0],
        ['quiet', 'down', 0], // its run is lost now
        ['test-node', 'up', 2],
      ],
    );
  });

  test('stale as `smart-cron nodes --json` has it: not up, and silent for over a day', async () => {
    const repo = new NodesRepo(h.app.database.db);
    for (const id of ['edge', 'test-node']) await repo.heartbeat(id, h.clock.now());
    await h.clock.advance(24 * 3_600_000); // edge and test-node silent for exactly a day: not yet stale
    const { nodes } = await get();
    assert.deepEqual(
      nodes.map((n) => [n.id, n.status, n.stale]),
      [
        ['edge', 'unresponsive', false],
        ['gone', 'stopped', true],
        ['quiet', 'down', true],
        ['test-node', 'unresponsive', false],
      ],
    );
  });

  test('needs the token', async () => {
    const r = await h.server.inject({ url: '/api/nodes' });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, 'UNAUTHORIZED');
  });
});
