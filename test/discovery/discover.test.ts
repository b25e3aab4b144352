import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readHead, type HeadReader } from '../../src/discovery/detect.js';
import { discover, type DiscoverReport } from '../../src/discovery/discover.js';
import { RUN_PARTS_SKIP } from '../../src/discovery/scanner.js';
import { copyFixture, openEnv, type Env } from './helpers.js';

// name -> [type, description, schedule, guessed, category, priority]
type Row = [string, string | null, string, boolean, string, string];
const EXPECTED: Record<string, Row> = {
  'queue/bin/process_queue': ['php', 'Processes the pending messages in the work queue.', '@daily', true, 'business', 'medium'],
  'backup/db_backup': ['bash', 'Dumps the main database to /var/backups.', '0 2 * * *', false, 'backup', 'high'],
  'reports/monthly_sales_report': ['python', 'Builds the monthly sales report for the finance team.', '0 6 1 * *', false, 'reporting', 'low'],
  'sync/sync_users': ['node', 'Synchronises users from LDAP into the app.', '0,15,30,45 * * * *', false, 'sync', 'medium'],
  'monitoring/healthcheck': ['node', 'Pings the public API and raises an alert when it is down.', '*/5 * * * *', false, 'monitoring', 'high'],
  'cleanup/purge-temp-files': ['bash', 'Purges files older than a week from /tmp/app.', '@daily', true, 'cleanup', 'low'],
  'billing/charge_subscriptions': ['php', 'Charges every subscription that is due today.', '0 4 * * *', false, 'business', 'critical'],
  'notifications/send_reminders': ['python', 'Sends appointment reminders by SMS.', '@daily', true, 'notification', 'medium'],
  'import/import_products': ['node', 'Imports the product catalogue from the supplier feed.', '30 0-23/2 * * *', false, 'import_export', 'high'],
  'export/export_orders': ['node', "Exports yesterday's orders to the accounting system.", '@daily', true, 'import_export', 'high'],
  'maintenance/vacuum_db': ['bash', 'Vacuums and analyses the PostgreSQL database.', '0 3 * * 0', false, 'maintenance', 'low'],
  'bin/run-report': ['python', "Prints yesterday's statistics.", '@daily', true, 'reporting', 'low'],
  'bin/nightly-dump': ['executable', 'Dumps the LDAP directory to a file.', '@daily', true, 'backup', 'high'],
  'bin/compiled-tool': ['executable', null, '@daily', true, 'other', 'medium'],
  'cron.hourly/rotate-logs': ['bash', null, '@hourly', false, 'cleanup', 'low'],
  'cron.daily/update-geoip': ['bash', 'Downloads the GeoIP database.', '@daily', false, 'maintenance', 'low'],
  // run-parts runs a folder's own files only: one in a subfolder gets a guess, not the folder's schedule.
  'cron.weekly/lib/rebuild-index': ['bash', 'Rebuilds the search index.', '@weekly', true, 'maintenance', 'low'],
  'app/Console/Commands/SendNewsletter': ['php', 'Mails the weekly newsletter to all subscribers.', '0 9 * * 1', false, 'notification', 'medium'],
  'scripts/warm_cache': ['node', 'Warms the page cache after a deploy.', '@daily', true, 'maintenance', 'low'],
  'scripts/fetch_rates': ['python', 'Fetch exchange rates from the ECB.', '@daily', true, 'sync', 'medium'],
  'scripts/heartbeat': ['bash', 'Reports that this host is alive.', '* * * * *', false, 'monitoring', 'high'],
  'scripts/legacy': ['php', null, '@daily', true, 'other', 'medium'],
  'scripts/annotated_all': ['php', 'Closes the books for the day.', '30 1 * * 1-5', false, 'reporting', 'critical'],
  'scripts/bad_annotations': ['bash', 'Does something odd.', '@daily', true, 'other', 'medium'],
  'deep/a/b/c/d/deep_cleanup': ['python', 'Removes orphaned upload records.', '@daily', true, 'cleanup', 'low'],
  'py/etl_pipeline': ['python', 'Loads the warehouse.', '15 3 * * *', false, 'import_export', 'medium'],
  'node/digest': ['node', 'Builds the daily activity digest.', '@daily', true, 'reporting', 'low'],
  'node/tsx_job': ['node', 'Recomputes search rankings.', '@daily', true, 'other', 'medium'],
  'shell/mirror': ['bash', 'Mirrors the package repository.', '@daily', true, 'sync', 'medium'],
  // A file named with digits alone: a job name is never a number (that is a job id).
  'script-2024': ['bash', 'Closes the accounting year.', '@daily', true, 'other', 'medium'],
  'shell/check_disk': ['bash', 'Checks free disk space.', '@daily', false, 'monitoring', 'low'],
  'php/renew_certificates': ['php', 'Renews the TLS certificates that expire within 30 days.', '@daily', true, 'maintenance', 'critical'],
  'misc/orders_worker': ['php', 'Works through new orders.', '@daily', true, 'business', 'high'],
  'misc/license_header': ['python', 'Recalculates loyalty points for all customers.', '@daily', true, 'other', 'medium'],
  'misc/Dockerfile': ['bash', null, '@daily', true, 'other', 'medium'],
  'huge/huge_export': ['bash', 'Exports every invoice ever issued.', '0 1 * * 6', false, 'import_export', 'high'],
};

let env: Env;
let root: string;
const UNREADABLE = 'secret/unreadable.sh';
// Root can read anything, so the unreadable file is made unreadable by the reader.
const reader: HeadReader = (p) => {
  if (p.endsWith(UNREADABLE)) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
  return readHead(p);
};
let first: DiscoverReport;

before(async () => {
  env = await openEnv();
  root = copyFixture('tree', env.dir);
  const put = (rel: string, data: string | Buffer, mode = 0o644) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), data);
    chmodSync(join(root, rel), mode);
  };
  // Folders that are never ours.
  put('node_modules/pkg/cron.js', '// Not ours.\n');
  put('vendor/lib/job.php', '<?php // Not ours.\n');
  put('.git/hooks/post-commit.sh', '#!/bin/sh\n# Not ours.\n', 0o755);
  // Binaries: an ELF executable is a job, an ELF without exec bit and an image are not.
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120)]);
  put('bin/compiled-tool', elf, 0o755);
  put('data/blob.bin', elf);
  put('images/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  put('2024', '#!/bin/sh\n# Closes the accounting year.\n', 0o755);
  // Names run-parts does not run: a package manager's old copy, and a name with an extension.
  put('cron.daily/update-geoip.dpkg-old', '#!/bin/sh\n# The old GeoIP download.\n', 0o755);
  put('cron.daily/rotate.sh', '#!/bin/sh\n# Never run by run-parts.\n', 0o755);
  put('cron.weekly/lib/rebuild-index', '#!/bin/sh\n# Rebuilds the search index.\n', 0o755);
  // A huge script: only its head is read.
  put('huge/huge_export.sh', '#!/bin/sh\n# Exports every invoice ever issued.\n# @cron 0 1 * * 6\n', 0o755);
  const chunk = `echo ${'x'.repeat(1019)}\n`.repeat(1024);
  for (let i = 0; i < 40; i++) appendFileSync(join(root, 'huge/huge_export.sh'), chunk);
  // Links: a loop back up, a two-link loop, a dangling link, a link out of the root, a second path to a script.
  mkdirSync(join(root, 'loop'));
  symlinkSync('..', join(root, 'loop/up'));
  symlinkSync('b', join(root, 'loop/a'));
  symlinkSync('a', join(root, 'loop/b'));
  symlinkSync('nowhere.sh', join(root, 'loop/dangling.sh'));
  symlinkSync('/etc', join(root, 'outside'));
  mkdirSync(join(root, 'aliases'));
  symlinkSync('../backup/db_backup.sh', join(root, 'aliases/backup.sh'));
  execFileSync('mkfifo', [join(root, 'fifo.sh')]);
  put(UNREADABLE, '#!/bin/sh\n# Secret.\n', 0o755);
  first = await discover(env.jm, [root], { readHead: reader });
});

after(async () => {
  await env.close();
});

test('every script in the fixture tree is found with the expected type, description, schedule, category and priority', () => {
  const byName = new Map(first.jobs.map((j) => [j.name, j]));
  assert.ok(Object.keys(EXPECTED).length >= 30);
  for (const [name, [type, description, schedule, guessed, category, priority]] of Object.entries(EXPECTED)) {
    const j = byName.get(name);
    assert.ok(j, `${name} was not discovered`);
    assert.deepEqual(
      [j.script_type, j.description, j.schedule, j.schedule_guessed, j.category, j.priority],
      [type, description, schedule, guessed, category, priority],
      name,
    );
    assert.equal(j.change, 'new', name);
    assert.ok(j.category_reason && j.priority_reason, `${name} says why`);
  }
  assert.deepEqual([...byName.keys()].sort(), Object.keys(EXPECTED).sort(), 'nothing else (no libraries, data, binaries or dependencies)');
});

test('problems are reported, not fatal: unreadable file, dangling link, link loop', () => {
  const reasons = first.problems.map((p) => `${p.path.slice(root.length + 1)}: ${p.reason}`).sort();
  assert.equal(reasons.length, 4, reasons.join('\n'));
  assert.match(reasons.find((r) => r.startsWith('loop/a'))!, /symlink loop/);
  assert.match(reasons.find((r) => r.startsWith('loop/b'))!, /symlink loop/);
  assert.match(reasons.find((r) => r.startsWith('loop/dangling.sh'))!, /dangling symlink/);
  assert.match(reasons.find((r) => r.startsWith(UNREADABLE))!, /permission denied/);
  assert.ok(first.skipped['link leads out of the scanned folders']! >= 1);
});

test('files run-parts would not run (names with a dot) are skipped with their reason, not given the folder schedule', async () => {
  assert.equal(first.skipped[RUN_PARTS_SKIP], 2);
  assert.ok(!first.jobs.some((j) => j.script_path.includes('dpkg-old') || j.script_path.endsWith('rotate.sh')));
  // Scanning the run-parts folder itself: its scripts still run at its schedule.
  const fresh = await openEnv();
  try {
    const r = await discover(fresh.jm, [join(root, 'cron.daily')], { dryRun: true });
    assert.deepEqual(r.jobs.map((j) => [j.name, j.schedule, j.schedule_guessed]), [['update-geoip', '@daily', false]]);
    assert.equal(r.skipped[RUN_PARTS_SKIP], 2);
  } finally {
    await fresh.close();
  }
});

test('reasons, annotations and estimates are kept in discovery_info', async () => {
  const q = await env.jm.getJob('queue/bin/process_queue');
  assert.equal(q.estimated_memory_mb, 512);
  assert.equal(q.timeout_seconds, 300);
  assert.equal(q.script_path, realpathSync(join(root, 'queue/bin/process_queue.php')));
  const info = JSON.parse(q.discovery_info!);
  assert.equal(info.category_reason, 'keyword "queue" in name');
  assert.equal(info.priority_reason, 'default for category business');
  assert.equal(info.schedule_guessed, true);
  assert.match(info.schedule_source, /^default @daily: nothing in the script says when it runs/);
  // Words count for the guess, and the reason says which.
  assert.equal(JSON.parse((await env.jm.getJob('bin/nightly-dump')).discovery_info!).schedule_source, 'guessed from "nightly" in name');
  const a = await env.jm.getJob('scripts/annotated_all');
  assert.deepEqual(
    [a.timezone, a.timeout_seconds, a.estimated_memory_mb, a.slot, a.tags],
    ['Europe/Berlin', 900, 768, 'heavy', ['finance', 'ledger', 'nightly']],
  );
  const bad = await env.jm.getJob('scripts/bad_annotations');
  assert.equal(JSON.parse(bad.discovery_info!).warnings.length, 3);
  const huge = await env.jm.getJob('huge/huge_export');
  assert.ok(JSON.parse(huge.discovery_info!).size_bytes > 40_000_000);
  assert.match(JSON.parse(huge.discovery_info!).estimate_reason, /size \d+ KB x2/);
});

test('nothing discovered is enabled or scheduled', async () => {
  const { jobs } = await env.jm.listJobs();
  assert.equal(jobs.length, Object.keys(EXPECTED).length);
  for (const j of jobs) {
    assert.equal(j.enabled, 0, j.name);
    assert.equal(j.next_scheduled_run, null, j.name);
    assert.equal(j.source, 'discovered');
  }
});

test('a second discover changes nothing', async () => {
  const before = await env.jm.listJobs();
  const again = await discover(env.jm, [root], { readHead: reader });
  assert.deepEqual(again.counts, { new: 0, updated: 0, unchanged: Object.keys(EXPECTED).length, missing: 0 });
  const afterwards = await env.jm.listJobs();
  assert.deepEqual(afterwards, before);
});

test('user edits and enabled state survive re-discovery; other fields follow the script', async () => {
  await env.jm.updateJob('queue/bin/process_queue', { priority: 'critical', description: 'Mine.' });
  await env.jm.enableJob('shell/mirror');
  const file = join(root, 'queue/bin/process_queue.php');
  writeFileSync(file, readFileSync(file, 'utf8').replace('Processes the pending', 'Processes all pending').replace(' */', ' * @cron 0,30 * * * *\n */'));
  const r = await discover(env.jm, [root], { readHead: reader });
  const row = r.jobs.find((j) => j.name === 'queue/bin/process_queue')!;
  assert.equal(row.change, 'updated');
  // The row shows the job as it is: the person's values, without discovery's reasons for them.
  assert.deepEqual([row.priority, row.priority_reason, row.description], ['critical', null, 'Mine.']);
  const q = await env.jm.getJob('queue/bin/process_queue');
  assert.equal(q.priority, 'critical');
  assert.equal(q.description, 'Mine.');
  assert.equal(q.schedule, '0,30 * * * *');
  assert.equal(q.enabled, 0);
  assert.equal((await env.jm.getJob('shell/mirror')).enabled, 1);
});

test('a removed script becomes missing (not deleted), and comes back when restored', async () => {
  const file = join(root, 'scripts/legacy.php');
  const text = readFileSync(file);
  rmSync(file);
  const r = await discover(env.jm, [root], { readHead: reader });
  assert.equal(r.jobs.find((j) => j.name === 'scripts/legacy')?.change, 'missing');
  assert.equal(r.counts.missing, 1);
  assert.equal((await env.jm.getJob('scripts/legacy')).missing, 1);
  writeFileSync(file, text);
  const back = await discover(env.jm, [root], { readHead: reader });
  assert.equal(back.jobs.find((j) => j.name === 'scripts/legacy')?.change, 'updated');
  assert.equal((await env.jm.getJob('scripts/legacy')).missing, 0);
});

test('a discovered job a person removes stays out of later scans (listed as left out) until --include-removed', async () => {
  const own = await openEnv();
  try {
    const dir = join(own.dir, 'cron');
    mkdirSync(dir);
    for (const n of ['a.sh', 'b.sh']) writeFileSync(join(dir, n), '#!/bin/sh\n# @cron 0 1 * * *\necho ok\n', { mode: 0o755 });
    await discover(own.jm, [dir], { readHead: reader });
    await own.jm.removeJob('b');
    const again = await discover(own.jm, [dir], { readHead: reader });
    assert.deepEqual(again.jobs.map((j) => j.name), ['a']);
    assert.deepEqual(again.removed.map((r) => [r.script_path, r.job_name]), [[join(dir, 'b.sh'), 'b']]);
    assert.equal(await own.jm.findJob('b'), undefined, 'not registered again');
    const dry = await discover(own.jm, [dir], { readHead: reader, includeRemoved: true, dryRun: true });
    assert.deepEqual(dry.jobs.map((j) => [j.name, j.change]), [['a', 'unchanged'], ['b', 'new']]);
    assert.equal(await own.jm.findJob('b'), undefined, 'a dry run writes nothing');
    const back = await discover(own.jm, [dir], { readHead: reader, includeRemoved: true });
    assert.deepEqual(back.jobs.map((j) => [j.name, j.change]), [['a', 'unchanged'], ['b', 'new']]);
    assert.deepEqual((await discover(own.jm, [dir], { readHead: reader })).removed, []);
  } finally {
    await own.close();
  }
});

test('a script moved away: its old job is marked missing even when its old folder is not scanned again', async () => {
  const own = await openEnv();
  try {
    const oldDir = join(own.dir, 'old');
    const newDir = join(own.dir, 'new');
    mkdirSync(oldDir);
    mkdirSync(newDir);
    writeFileSync(join(oldDir, 'sync.sh'), '#!/bin/sh\n# @cron 0 1 * * *\necho ok\n', { mode: 0o755 });
    await discover(own.jm, [oldDir], { readHead: reader });
    renameSync(join(oldDir, 'sync.sh'), join(newDir, 'sync.sh'));
    const r = await discover(own.jm, [newDir], { readHead: reader });
    assert.deepEqual(r.jobs.map((j) => [j.name, j.change, j.script_path]).sort(), [
      ['sync', 'missing', join(oldDir, 'sync.sh')],
      ['sync.sh', 'new', join(newDir, 'sync.sh')],
    ]);
    assert.equal((await own.jm.getJob('sync')).missing, 1);
  } finally {
    await own.close();
  }
});

test('--dry-run writes nothing', async () => {
  const fresh = await openEnv();
  try {
    const r = await discover(fresh.jm, [root], { dryRun: true, readHead: reader });
    assert.equal(r.counts.new, Object.keys(EXPECTED).length);
    assert.equal((await fresh.jm.listJobs()).total, 0);
  } finally {
    await fresh.close();
  }
});

test('--include and --exclude narrow the scan', async () => {
  const fresh = await openEnv();
  try {
    const r = await discover(fresh.jm, [root], { dryRun: true, include: ['*.php'], exclude: ['misc/**', 'app'] });
    assert.deepEqual(
      r.jobs.map((j) => j.name),
      ['billing/charge_subscriptions', 'php/renew_certificates', 'queue/bin/process_queue', 'scripts/annotated_all', 'scripts/legacy'],
    );
  } finally {
    await fresh.close();
  }
});

test('a script a person registered themselves (jobs add --script) is left as they set it: not taken over, not added twice', async () => {
  const own = await openEnv();
  try {
    const dir = join(own.dir, 'scripts');
    mkdirSync(dir);
    const script = join(dir, 'backup.sh');
    writeFileSync(script, '#!/bin/sh\n# Backs up the database every night.\n# @memory 900M\necho ok\n');
    chmodSync(script, 0o755);
    await own.jm.registerJob({ name: 'mine', schedule: '0 1 * * *', timezone: 'UTC', script_path: script, category: 'other', priority: 'low', estimated_memory_mb: 64 }, { source: 'manual', byUser: true });
    const before = await own.jm.getJob('mine');
    const r = await discover(own.jm, [dir], { readHead: reader });
    assert.deepEqual(r.counts, { new: 0, updated: 0, unchanged: 1, missing: 0 });
    // The row shows the job as it stands, not discovery's guesses for the script.
    const row = r.jobs.find((j) => j.name === 'mine')!;
    assert.deepEqual([row.schedule, row.schedule_guessed, row.category, row.category_reason, row.priority, row.estimated_memory_mb], ['0 1 * * *', false, 'other', null, 'low', 64]);
    assert.deepEqual([row.description, row.timeout_seconds], [null, 3600], 'what the person left unset stays unset');
    const after = await own.jm.getJob('mine');
    assert.deepEqual(after, before, 'its category, priority, memory and description are the person\'s');
    assert.deepEqual((await own.jm.listJobs()).jobs.map((j) => j.name), ['mine'], 'no second job for the script');
  } finally {
    await own.close();
  }
});
