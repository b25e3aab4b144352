/**
 * Several machines sharing one PostgreSQL: three real daemon processes on 127.0.0.1 with
 * different node ids, jobs on second schedules. Every (job, tick) runs exactly once; a node
 * killed with -9 has its running runs marked lost and retried elsewhere; a database restart
 * in the middle loses no run result.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openApp } from '../../src/daemon/app.js';
import { findPostgresBinDir, startPostgres } from '../helpers/pg-cluster.js';
import { postgresRequired } from '../helpers/postgres.js';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const MAIN = join(ROOT, 'src/cli/main.ts');
const available = findPostgresBinDir() !== null;
if (!available && postgresRequired()) throw new Error('SMART_CRON_REQUIRE_POSTGRES=1 and no postgres binary found');
if (!available) process.stderr.write('\n!!! PostgreSQL cluster suite SKIPPED: no postgres binary found !!!\n\n');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SLOT_JOBS = 3;

interface Node {
  id: string;
  home: string;
  proc: ChildProcess;
  log: string;
}

function startNode(id: string, base: string, url: string): Node {
  const home = join(base, id);
  mkdirSync(home, { recursive: true });
  // Short lease and heartbeat so failover happens within the test; a small slot so its budget binds.
  const labels = id === 'n3' ? ', labels: { disk: ssd }' : '';
  writeFileSync(
    join(home, 'config.yaml'),
    `node: { heartbeat_seconds: 1, lease_seconds: 4${labels} }\nexecution: { enforcement: portable, kill_grace_seconds: 1 }\nslots: { default: { max_concurrent_jobs: ${SLOT_JOBS}, max_memory_mb: 1000, max_cpu_percent: 100 } }\n`,
  );
  const log = join(home, 'daemon.log');
  const fd = openSync(log, 'a');
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, '--database', url, '--node-id', id, 'daemon', '--no-api'], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
  });
  return { id, home, proc, log };
}

async function waitForLog(n: Node, text: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (readFileSync(n.log, 'utf8').includes(text)) return;
    if (n.proc.exitCode !== null) throw new Error(`node ${n.id} exited:\n${readFileSync(n.log, 'utf8')}`);
    await sleep(200);
  }
  throw new Error(`node ${n.id}: no "${text}" after ${ms} ms:\n${readFileSync(n.log, 'utf8')}`);
}

function stop(n: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    n.proc.once('exit', () => resolve());
    n.proc.kill(signal);
  });
}

test('three daemons on one PostgreSQL: each tick exactly once, failover after kill -9, a database restart loses nothing', { skip: !available, timeout: 600_000 }, async () => {
  const server = await startPostgres();
  const base = tempDir('smart-cron-cluster-');
  const nodes: Node[] = [];
  try {
    const url = await server.url('cluster');
    const app = await openApp({ home: join(base, 'admin'), database: url });
    const JOBS = 12;
    for (let i = 0; i < JOBS; i++) {
      await app.jobs.registerJob(
        { name: `job-${i}`, schedule: '*/2 * * * * *', command: ['sleep', '0.6'], retries: 1, retry_backoff_seconds: 0, estimated_memory_mb: 10 },
        { source: 'manual', byUser: true },
      );
    }
    // One job needs a label only n3 has; one is pinned to n2.
    await app.jobs.registerJob({ name: 'ssd-only', schedule: '*/2 * * * * *', command: ['true'], node_selector: { disk: 'ssd' }, estimated_memory_mb: 10 }, { source: 'manual', byUser: true });
    await app.jobs.registerJob({ name: 'pinned-n2', schedule: '*/2 * * * * *', command: ['true'], pinned_node: 'n2', estimated_memory_mb: 10 }, { source: 'manual', byUser: true });
    for (const id of ['n1', 'n2', 'n3']) nodes.push(startNode(id, base, url));
    for (const n of nodes) await waitForLog(n, 'daemon started');
    await sleep(8_000);

    // kill -9 the node that is running the most right now.
    const running = await app.database.db.selectFrom('smart_cron_job_history').select(['node']).where('status', '=', 'running').execute();
    const count = (id: string) => running.filter((r) => r.node === id).length;
    const victim = [...nodes].sort((a, b) => count(b.id) - count(a.id))[0]!;
    const victimRunning = count(victim.id);
    victim.proc.kill('SIGKILL');
    await sleep(8_000);

    // The database goes away for a moment; the daemons keep their running jobs and record them after.
    await server.restart();
    await sleep(8_000);

    for (const n of nodes) await stop(n);
    const runs = await app.database.db.selectFrom('smart_cron_job_history').selectAll().execute();
    const lost = runs.filter((r) => r.status === 'lost');
    const byTick = new Map<string, typeof runs>();
    for (const r of runs) {
      const k = `${r.job_id}|${r.scheduled_for}`;
      byTick.set(k, [...(byTick.get(k) ?? []), r]);
    }
    // Exactly once: per tick at most one attempt succeeded, and attempts are numbered without repeats.
    for (const [k, list] of byTick) {
      assert.ok(list.filter((r) => r.status === 'succeeded').length <= 1, `tick ${k} succeeded more than once`);
      const attempts = list.map((r) => r.attempt).sort();
      assert.deepEqual(attempts, [...new Set(attempts)], `tick ${k} has a repeated attempt`);
    }
    // No gap: between each job's first and last planned tick, every 2-second tick has a row.
    const jobIds = [...new Set(runs.map((r) => r.job_id))];
    assert.equal(jobIds.length, JOBS + 2, 'every job has runs');
    // Labels and pins: a job runs only where it may.
    const ssd = (await app.jobs.getJob('ssd-only')).id;
    const pinned = (await app.jobs.getJob('pinned-n2')).id;
    const started = runs.filter((r) => r.started_at);
    assert.ok(started.some((r) => r.job_id === ssd), 'the labelled job ran');
    for (const r of started.filter((x) => x.job_id === ssd)) assert.equal(r.node, 'n3', `run #${r.id} of ssd-only ran on ${r.node}`);
    for (const r of started.filter((x) => x.job_id === pinned)) assert.equal(r.node, 'n2', `run #${r.id} of pinned-n2 ran on ${r.node}`);
    // Per-node slot budgets held: at no run's start were more than SLOT_JOBS runs going on its node.
    for (const r of started.filter((x) => x.status === 'succeeded')) {
      const t = Date.parse(r.started_at!);
      const going = started.filter((x) => x.node === r.node && x.status === 'succeeded' && Date.parse(x.started_at!) <= t && Date.parse(x.finished_at!) > t);
      const show = (x: (typeof runs)[number]) => `#${x.id} job ${x.job_id} attempt ${x.attempt} ${x.trigger} ${x.scheduled_for} ${x.started_at}..${x.finished_at}`;
      assert.ok(going.length <= SLOT_JOBS, `node ${r.node} ran ${going.length} runs at once (slot allows ${SLOT_JOBS}) at ${r.started_at}:\n${going.map(show).join('\n')}`);
    }
    for (const id of jobIds) {
      const ticks = [...new Set(runs.filter((r) => r.job_id === id).map((r) => Date.parse(r.scheduled_for)))].sort((a, b) => a - b);
      for (let i = 1; i < ticks.length; i++) {
        assert.equal(ticks[i]! - ticks[i - 1]!, 2000, `job ${id}: a tick between ${new Date(ticks[i - 1]!).toISOString()} and ${new Date(ticks[i]!).toISOString()} has no row`);
      }
    }
    // The victim's running runs were marked lost (and retried when their job allows).
    if (victimRunning > 0) {
      assert.ok(lost.length > 0, `the killed node had ${victimRunning} running runs, none was marked lost`);
      const retries = new Map((await app.database.db.selectFrom('smart_cron_integrated_jobs').select(['id', 'retries']).execute()).map((j) => [j.id, j.retries]));
      for (const l of lost) {
        assert.equal(l.node, victim.id);
        assert.match(l.error_message ?? '', /stopped sending heartbeats/);
        const retry = runs.find((r) => r.job_id === l.job_id && r.scheduled_for === l.scheduled_for && r.attempt === l.attempt + 1);
        // job-* allow one retry; ssd-only and pinned-n2 none (a run of theirs prepared ahead on the victim is lost for good).
        if (l.attempt <= (retries.get(l.job_id) ?? 0)) assert.ok(retry, `lost run #${l.id} was not retried`);
        else assert.equal(retry, undefined, `lost run #${l.id} was retried beyond its job's retries`);
      }
    }
    // Nothing is left running or unrecorded, and the others ran runs too.
    const stuck = runs.filter((r) => r.status === 'running' && r.node !== victim.id);
    assert.equal(stuck.length, 0, `runs left running: ${JSON.stringify(stuck.map((r) => [r.id, r.node, r.started_at]))}\n${nodes.map((n) => `--- ${n.id}\n${readFileSync(n.log, 'utf8').slice(-3000)}`).join('\n')}`);
    const executedBy = new Set(runs.filter((r) => r.status === 'succeeded').map((r) => r.node));
    assert.ok(executedBy.size >= 2, `runs were spread over the nodes (${[...executedBy].join(', ')})`);
    // Finished runs all carry their result.
    for (const r of runs.filter((x) => x.status === 'succeeded')) assert.equal(r.exit_code, 0);
    await app.close();
  } finally {
    for (const n of nodes) await stop(n, 'SIGKILL');
    await server.stop();
  }
});
