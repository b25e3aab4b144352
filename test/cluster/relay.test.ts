/**
 * The cluster relay (daemon/relay.ts) on a real PostgreSQL: what happens on one node reaches the
 * event stream of another, read back from the database; a node does not hear its own events
 * again; metrics count only a node's own runs. Two real daemons in this process with their APIs,
 * and the relay alone for batching and the events' contents.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { batches, RELAY_CHANNEL, startRelay } from '../../src/daemon/relay.js';
import { notify } from '../../src/storage/pg-listen.js';
import { EventBus, type RelayedEvent } from '../../src/events.js';
import { openDatabase } from '../../src/storage/database.js';
import { AlertsRepo } from '../../src/storage/repos/alerts.js';
import { HistoryRepo } from '../../src/storage/repos/history.js';
import { JobManager } from '../../src/jobs/manager.js';
import { until } from '../fixtures/exec-core/daemon-proc.js';
import { describe, runCli } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { findPostgresBinDir, freshDatabaseUrl, postgresRequired, SKIP_MESSAGE, startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

test('batches: NOTIFY payloads under PostgreSQL’s limit, every item once, in order', () => {
  const items = Array.from({ length: 2000 }, (_, i) => ['run.finished', i + 1] as ['run.finished', number]);
  const out = batches('node-with-a-long-name', items);
  assert.ok(out.length > 1, 'split');
  for (const p of out) assert.ok(Buffer.byteLength(p) < 8000, `${Buffer.byteLength(p)} bytes`);
  assert.deepEqual(out.flatMap((p) => (JSON.parse(p) as { e: unknown[] }).e), items);
  assert.deepEqual(batches('n', []), []);
});

test('relay: another node’s runs, alerts and job changes arrive as cluster events, read back from the database; not one’s own', { timeout: 60_000 }, async (t) => {
  const url = await freshDatabaseUrl('postgres', 'relay');
  if (url === null) return t.skip(SKIP_MESSAGE);
  const database = await openDatabase(url);
  const jobs = new JobManager(database, systemClock);
  const { job } = await jobs.registerJob({ name: 'relayed', schedule: '@yearly', command: ['true'] } as never, { source: 'manual', byUser: true });
  const heard = { a: [] as RelayedEvent[], b: [] as RelayedEvent[] };
  const node = (id: 'a' | 'b') => {
    const bus = new EventBus();
    bus.on('cluster', (e) => heard[id].push(e));
    return { bus, relay: startRelay({ database, url, node: id, bus, history: new HistoryRepo(database.db), alerts: new AlertsRepo(database.db), clock: systemClock, flushMs: 20 }) };
  };
  const a = node('a');
  const b = node('b');
  try {
    // LISTEN is up once a notification sent now arrives: send until one does.
    await until('b to listen', async () => {
      a.bus.emit('job.changed', { id: job.id, change: 'probe' });
      await new Promise((r) => setTimeout(r, 100));
      return heard.b.length > 0;
    }, 20_000);
    await until('a to listen', async () => {
      b.bus.emit('job.changed', { id: job.id, change: 'probe' });
      await new Promise((r) => setTimeout(r, 100));
      return heard.a.length > 0;
    }, 20_000);
    heard.a.length = 0;
    heard.b.length = 0;

    // What node a emits about a run: b hears it with the row as the database has it now.
    const run = await insertRun(database, job.id, { status: 'running', node: 'a', started_at: new Date().toISOString(), slot: 'default' });
    a.bus.emit('run.started', run);
    await jobs.history.update(run.id, { status: 'succeeded', exit_code: 0, finished_at: new Date().toISOString() });
    a.bus.emit('run.finished', { ...run, status: 'succeeded' });
    const alert = await new AlertsRepo(database.db).insert({ job_id: job.id, alert_type: 'failure', severity: 'warning', message: 'it failed', created_at: new Date().toISOString(), updated_at: new Date().toISOString() } as never);
    a.bus.emit('alert.raised', alert);
    a.bus.emit('job.changed', { id: job.id, change: 'updated' });
    await until('b to hear all four', async () => heard.b.length >= 4, 10_000);
    assert.deepEqual(
      heard.b.map((e) => [e.event, e.data.id]),
      [['run.started', run.id], ['run.finished', run.id], ['alert.raised', alert.id], ['job.changed', job.id]],
    );
    const [started] = heard.b;
    assert.equal((started!.data as { status: string }).status, 'succeeded', 'the row as it is now, read back from the database');
    assert.equal((heard.b[3]!.data as { change: string }).change, 'updated');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(heard.a, [], 'a node does not hear its own events back');

    // Anyone who may use the database can send on the channel: junk is passed over, the rest read back.
    heard.b.length = 0;
    await notify(database, RELAY_CHANNEL, 'not json');
    await notify(database, RELAY_CHANNEL, JSON.stringify({ n: 'x', e: [['run.finished', 'abc'], 'junk', ['run.started', 1.5], ['job.changed', 5, 'ok']] }));
    await until('b to hear the one good item', async () => heard.b.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heard.b.map((e) => [e.event, e.data.id]), [['job.changed', 5]]);

    // Many at once: one NOTIFY a batch, every event arrives once.
    heard.b.length = 0;
    for (let i = 0; i < 300; i++) a.bus.emit('job.changed', { id: i + 1, change: 'bulk' });
    await until('b to hear the 300', async () => heard.b.length >= 300, 10_000);
    assert.deepEqual(heard.b.map((e) => e.data.id), Array.from({ length: 300 }, (_, i) => i + 1));
    // A run that is gone by the time it is read is left out (nothing to show).
    heard.b.length = 0;
    a.bus.emit('run.queued', { ...run, id: 999_999 });
    a.bus.emit('job.changed', { id: job.id, change: 'after' });
    await until('b to hear the job change', async () => heard.b.length >= 1, 10_000);
    assert.deepEqual(heard.b.map((e) => e.event), ['job.changed']);
  } finally {
    await a.relay.close();
    await b.relay.close();
    await database.close();
  }
});

test('two daemons on one PostgreSQL: a run on one shows on the other’s event stream; each counts only its own runs', { timeout: 180_000 }, async (t) => {
  const url = await freshDatabaseUrl('postgres', 'relay-daemons');
  if (url === null) return t.skip(SKIP_MESSAGE);
  const base = tempDir('smart-cron-relay-');
  const daemons: Daemon[] = [];
  const start = async (id: string) => {
    const home = join(base, id);
    mkdirSync(home);
    writeFileSync(join(home, 'config.yaml'), 'host: { psi_veto: 0 }\nexecution: { enforcement: portable }\nnode: { heartbeat_seconds: 1, lease_seconds: 4 }\n');
    const d = await startDaemon({ home, database: url, nodeId: id, listen: { host: '127.0.0.1', port: 0 }, log: () => {} });
    daemons.push(d);
    return { d, base: d.apiUrl!, auth: { authorization: `Bearer ${readFileSync(join(home, 'api-token'), 'utf8').trim()}` } };
  };
  try {
    const one = await start('relay-one');
    const two = await start('relay-two');
    await one.d.app.jobs.registerJob({ name: 'on-one', schedule: '@yearly', timezone: 'UTC', command: ['echo', 'from one'], pinned_node: 'relay-one' } as never, { source: 'manual', byUser: true });

    // Node two's event stream, as its dashboard reads it.
    const ac = new AbortController();
    const stream = await fetch(`${two.base}/api/events`, { headers: two.auth, signal: ac.signal });
    assert.equal(stream.status, 200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += value;
      }
    })();
    try {
      // The relay listens a moment after the daemon starts: run again until node two has heard of one.
      let runId = 0;
      const heard = () => eventsFor(text, 'run.finished', runId).find((d) => d.status === 'succeeded' && d.node === 'relay-one');
      await until(
        'node two to stream a run node one ran',
        async () => {
          if (heard()) return true;
          if (runId === 0 || (await one.d.app.jobs.history.byId(runId))?.status === 'succeeded') {
            const res = await fetch(`${one.base}/api/jobs/on-one/run`, { method: 'POST', headers: one.auth });
            assert.equal(res.status, 202);
            runId = ((await res.json()) as { id: number }).id;
          }
          return false;
        },
        60_000,
        500,
      );
      assert.equal(eventsFor(text, 'run.started', runId).length, 1, 'run.started too');

      // A change the CLI makes (no daemon of its own) reaches the dashboards too: it says which job.
      const jobId = (await one.d.app.jobs.getJob('on-one')).id;
      const off = await runCli(['--home', join(base, 'relay-one'), '--database', url, '--node-id', 'relay-one', 'jobs', 'disable', 'on-one']);
      assert.equal(off.code, 0, describe(off));
      await until('node two to stream the CLI’s change', async () => eventsFor(text, 'job.changed', jobId).some((d) => d.change === 'disabled'), 20_000);
      // Its dependency links too (they are not the JobManager's writes).
      await one.d.app.jobs.registerJob({ name: 'upstream', schedule: '@yearly', timezone: 'UTC', command: ['true'] } as never, { source: 'manual', byUser: true });
      const link = await runCli(['--home', join(base, 'relay-one'), '--database', url, '--node-id', 'relay-one', 'deps', 'add', 'on-one', '--after', 'upstream']);
      assert.equal(link.code, 0, describe(link));
      await until('node two to stream the CLI’s new link', async () => eventsFor(text, 'job.changed', jobId).some((d) => d.change === 'dependencies'), 20_000);
    } finally {
      ac.abort();
      await pump;
    }
    // Metrics: node one counted the runs it ran; node two, which only heard of them, none.
    const metrics = async (n: typeof one) => (await fetch(`${n.base}/metrics`, { headers: n.auth })).text();
    assert.match(await metrics(one), /smart_cron_runs_total\{job="on-one",status="succeeded"\} [1-9]/);
    assert.doesNotMatch(await metrics(two), /smart_cron_runs_total\{job="on-one"/);
  } finally {
    for (const d of daemons.reverse()) await d.stop(2000).catch(() => {});
  }
});

/** The stream's events of this name for this run. */
function eventsFor(text: string, name: string, runId: number): Record<string, unknown>[] {
  return [...text.matchAll(/event: (\S+)\ndata: (.*)\n/g)].filter((m) => m[1] === name).map((m) => JSON.parse(m[2]!) as Record<string, unknown>).filter((d) => d.id === runId);
}

test('relay: after the database restarts, a node listens again and tells its dashboards to reload', { timeout: 120_000 }, async (t) => {
  if (findPostgresBinDir() === null) {
    if (postgresRequired()) throw new Error('SMART_CRON_REQUIRE_POSTGRES=1 and no postgres binary found');
    return t.skip(SKIP_MESSAGE);
  }
  // A server of this test's own: restarting the shared one would break the other suites.
  const server = await startPostgres();
  const url = await server.url('relay_restart');
  const database = await openDatabase(url);
  const heard: RelayedEvent[] = [];
  const logs: string[] = [];
  const relay = (node: string, bus: EventBus) =>
    startRelay({ database, url, node, bus, history: new HistoryRepo(database.db), alerts: new AlertsRepo(database.db), clock: systemClock, flushMs: 20, log: (m) => logs.push(m) });
  const busA = new EventBus();
  const busB = new EventBus();
  busB.on('cluster', (e) => heard.push(e));
  const a = relay('a', busA);
  const b = relay('b', busB);
  const reaches = (change: string) =>
    until(`b to hear "${change}"`, async () => {
      busA.emit('job.changed', { id: 1, change });
      await new Promise((r) => setTimeout(r, 200));
      return heard.some((e) => e.event === 'job.changed' && (e.data as { change: string }).change === change);
    }, 60_000);
  try {
    await reaches('before');
    await server.restart();
    await reaches('after');
    assert.ok(heard.some((e) => e.event === 'job.changed' && (e.data as { change: string }).change === 'resync'), 'b told its dashboards to reload');
    assert.ok(logs.some((l) => /cluster events: listening stopped/.test(l)), logs.join('\n'));
  } finally {
    await a.close();
    await b.close();
    await database.close();
    await server.stop();
  }
});
