/**
 * Which node ran what, and the nodes themselves, through the real CLI on a SQLite home:
 * `history` shows a NODE column once runs of more than one node are listed (and filters with
 * --node); STARTED is empty for a run that never started and says when a queued retry is due;
 * `logs --run` of a skipped run says it never started and why; `nodes` marks the nodes gone for
 * over a day stale and `nodes remove` forgets one, refusing a node that is up or still runs
 * something; init records --database and --node-id in config.yaml, and node.id there is the
 * node id unless --node-id says otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { openApp } from '../../src/daemon/app.js';
import { NodesRepo } from '../../src/storage/repos/nodes.js';
import { describe, runCli, type CliResult } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const ok = (r: CliResult) => (assert.equal(r.code, 0, describe(r)), r);
const header = (r: CliResult) => r.stdout.split('\n')[0]!;
const rowOf = (r: CliResult, id: number) => r.stdout.split('\n').find((l) => new RegExp(`^\\s*#${id}\\b`).test(l)) ?? '';

test('history: a NODE column once several nodes ran the runs listed, --node filters; STARTED only for runs that started', { timeout: 120_000 }, async () => {
  const home = tempDir('smart-cron-history-node-');
  const app = await openApp({ home });
  const now = Date.now();
  const ids: Record<string, number> = {};
  try {
    const { job } = await app.jobs.registerJob({ name: 'tick', schedule: '@hourly', command: ['true'] }, { source: 'manual', byUser: true });
    const at = (ms: number) => iso(now + ms);
    ids.a = (await insertRun(app.database, job.id, { scheduled_for: at(-600_000), status: 'succeeded', node: 'alpha', started_at: at(-600_000), finished_at: at(-599_000), duration_ms: 1000, exit_code: 0 })).id;
    ids.skipped = (await insertRun(app.database, job.id, { scheduled_for: at(-300_000), queued_at: at(-300_000), status: 'skipped', skip_reason: 'deadline passed before a slot was free', finished_at: at(-240_000) })).id;
    ids.retry = (await insertRun(app.database, job.id, { scheduled_for: at(-600_000), attempt: 2, trigger: 'retry', status: 'queued', queued_at: at(-60_000), not_before: iso(Date.parse(at(3_600_000)) - (Date.parse(at(3_600_000)) % 1000)) })).id;
  } finally {
    await app.close();
  }
  // One node only (and rows of none): the table SQLite homes had, without a NODE column.
  const one = ok(await runCli(['--home', home, 'history']));
  assert.doesNotMatch(header(one), /\bNODE\b/, one.stdout);
  // A skipped tick never started: no start is shown (its queued_at used to read as one).
  assert.doesNotMatch(rowOf(one, ids.skipped!), /\d\d:\d\d:\d\d/, one.stdout);
  assert.match(rowOf(one, ids.skipped!), /\bskipped\b.*deadline passed/, one.stdout);
  // A queued retry: when it is due.
  const due = new Date(JSON.parse(ok(await runCli(['--home', home, '--json', 'history'])).stdout).find((r: { id: number }) => r.id === ids.retry).not_before as string);
  const hms = [due.getHours(), due.getMinutes(), due.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  assert.match(rowOf(one, ids.retry!), new RegExp(`retry at (\\d{4}-\\d\\d-\\d\\d )?${hms}`), one.stdout);

  // A second node's run: the column appears, and --node picks one node's runs.
  const app2 = await openApp({ home });
  try {
    const job = await app2.jobs.getJob('tick');
    ids.b = (await insertRun(app2.database, job.id, { scheduled_for: iso(now - 120_000), status: 'failed', node: 'beta', started_at: iso(now - 120_000), finished_at: iso(now - 119_000), duration_ms: 1000, exit_code: 1 })).id;
  } finally {
    await app2.close();
  }
  const two = ok(await runCli(['--home', home, 'history']));
  assert.match(header(two), /^\s*RUN\s+JOB\s+NODE\s+TRIGGER/, two.stdout);
  assert.match(rowOf(two, ids.a!), /\btick\s+alpha\b/, two.stdout);
  assert.match(rowOf(two, ids.b!), /\btick\s+beta\b/, two.stdout);
  const beta = ok(await runCli(['--home', home, 'history', '--node', 'beta']));
  assert.deepEqual(beta.stdout.split('\n').filter((l) => /#\d+/.test(l)).map((l) => Number(/#(\d+)/.exec(l)![1])), [ids.b]);
  assert.match(ok(await runCli(['--home', home, 'history', '--node', 'gamma'])).stdout, /^no runs of node gamma/);

  // logs of the skipped run: it never started, and why.
  const logs = ok(await runCli(['--home', home, 'logs', '--run', String(ids.skipped)]));
  assert.equal(logs.stdout, '');
  assert.match(logs.stderr, new RegExp(`run #${ids.skipped} \\(tick\\) never started: skipped \\(deadline passed before a slot was free\\)`), describe(logs));
});

test('nodes: stale nodes are marked; nodes remove forgets one, refusing a node that is up or has running runs', { timeout: 120_000 }, async () => {
  const home = tempDir('smart-cron-nodes-');
  const app = await openApp({ home });
  const now = Date.now();
  let runId = 0;
  try {
    const nodes = new NodesRepo(app.database.db);
    const node = (id: string) => ({ id, hostname: id, labels: {}, slots: {}, version: '0.1.0', pid: 1, enforcement: 'portable' });
    await nodes.register(node('live'), now);
    await nodes.register(node('old'), now - 3 * 86_400_000);
    await nodes.markStopped('old');
    await nodes.register(node('busy'), now - 2 * 86_400_000);
    await nodes.markStopped('busy');
    await nodes.register(node('recent'), now - 600_000);
    await nodes.markStopped('recent');
    const { job } = await app.jobs.registerJob({ name: 'j', schedule: '@hourly', command: ['true'] }, { source: 'manual', byUser: true });
    runId = (await insertRun(app.database, job.id, { scheduled_for: iso(now - 60_000), status: 'running', node: 'busy', started_at: iso(now - 60_000), slot: 'default' })).id;
    await insertRun(app.database, job.id, { scheduled_for: iso(now - 3 * 86_400_000), status: 'succeeded', node: 'old', started_at: iso(now - 3 * 86_400_000), finished_at: iso(now - 3 * 86_400_000 + 1000) });
  } finally {
    await app.close();
  }
  const cli = (...args: string[]) => runCli(['--home', home, ...args]);
  const list = ok(await cli('nodes'));
  assert.match(list.stdout, /^old\s+stopped, stale\b/m, list.stdout);
  assert.match(list.stdout, /^busy\s+stopped, stale\b/m, list.stdout);
  assert.match(list.stdout, /^recent\s+stopped\s/m, list.stdout);
  assert.match(list.stdout, /^live\s+up\s/m, list.stdout);
  assert.match(list.stdout, /stale: busy, old: not up for over 1\.0d; `smart-cron nodes remove ID`/, list.stdout);
  const json = JSON.parse(ok(await cli('--json', 'nodes')).stdout) as { id: string; stale: boolean }[];
  assert.deepEqual(Object.fromEntries(json.map((n) => [n.id, n.stale])), { busy: true, live: false, old: true, recent: false });

  const up = await cli('nodes', 'remove', 'live');
  assert.equal(up.code, 2, describe(up));
  assert.match(up.stderr, /nodes remove: node live is up .*stop its daemon first/, describe(up));
  const busy = await cli('nodes', 'remove', 'busy');
  assert.equal(busy.code, 2, describe(busy));
  assert.match(busy.stderr, new RegExp(`node busy has 1 running run \\(#${runId}\\)`), describe(busy));
  const none = await cli('nodes', 'remove', 'nope');
  assert.equal(none.code, 2, describe(none));
  assert.match(none.stderr, /no node "nope" \(the nodes: busy, live, old, recent\)/, describe(none));

  assert.match(ok(await cli('nodes', 'remove', 'old')).stdout, /^removed node old \(stopped, last heartbeat .*\); its runs stay in the history/);
  assert.deepEqual((JSON.parse(ok(await cli('--json', 'nodes')).stdout) as { id: string }[]).map((n) => n.id), ['busy', 'live', 'recent']);
  const history = JSON.parse(ok(await cli('--json', 'history', '--node', 'old')).stdout) as unknown[];
  assert.equal(history.length, 1, 'the removed node’s run stays');
});

test('init records --database and --node-id in config.yaml; node.id there names the node unless --node-id says otherwise', { timeout: 120_000 }, async () => {
  const dir = tempDir('smart-cron-init-record-');
  const home = join(dir, 'home');
  const db = join(dir, 'elsewhere.db');
  const init = ok(await runCli(['--home', home, '--database', `sqlite:${db}`, '--node-id', 'web1', 'init']));
  assert.match(init.stdout, /config\.yaml: +database and node\.id recorded/, init.stdout);
  const text = readFileSync(join(home, 'config.yaml'), 'utf8');
  assert.match(text, new RegExp(`^database: "sqlite:${db}"$`, 'm'), text);
  assert.match(text, /^node:\n {2}id: web1$/m, text);
  // Without the flags: the database init set up, and the node id.
  const status = JSON.parse(ok(await runCli(['--home', home, '--json', 'status'])).stdout) as { database: string };
  assert.equal(status.database, `sqlite:${db}`);
  assert.ok(!existsSync(join(home, 'smart-cron.db')), 'no SQLite file made in the home');
  const slots = (flags: string[]) => runCli(['--home', home, ...flags, '--json', 'slots']).then((r) => (JSON.parse(ok(r).stdout) as { node: string }[])[0]!.node);
  assert.equal(await slots([]), 'web1');
  assert.equal(await slots(['--node-id', 'web2']), 'web2', 'the flag wins');

  // init again with other values keeps config.yaml as it is, and says so.
  const again = ok(await runCli(['--home', home, '--database', `sqlite:${join(dir, 'other.db')}`, 'init']));
  assert.match(again.stderr, /names database sqlite:.*elsewhere\.db, kept; this command used sqlite:.*other\.db/, describe(again));
  assert.equal(readFileSync(join(home, 'config.yaml'), 'utf8'), text);

  // A bad node.id is refused, naming the setting and what was expected.
  writeFileSync(join(home, 'config.yaml'), 'node: { id: "web 1" }\n');
  const bad = await runCli(['--home', home, 'status']);
  assert.equal(bad.code, 2, describe(bad));
  assert.match(bad.stderr, /config\.yaml: node\.id.*letters, digits/, describe(bad));
});
