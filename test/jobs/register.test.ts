import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { ValidationError, NotFoundError } from '../../src/errors.js';
import type { JobDefinition } from '../../src/jobs/definition.js';

/** Job definitions as plain objects (keeps the tests independent of how JobDefinition's type is derived). */
const d = (x: Record<string, unknown>) => x as JobDefinition;
import { forEachDatabase } from '../helpers/postgres.js';
import { manager, START } from './helpers.js';

const MIN = 60_000;

forEachDatabase('registerJob: new, unchanged, updated (with the changed fields)', async ({ database }) => {
  const { mgr } = manager(database);
  const def = { name: 'backup', schedule: '*/15 * * * *', timezone: 'UTC', command: ['backup.sh', '--all'], tags: ['b', 'a'] };
  const first = await mgr.registerJob(def, { source: 'manual' });
  assert.equal(first.change, 'new');
  assert.equal(first.job.enabled, 1, 'manual jobs start enabled');
  assert.equal(first.job.next_scheduled_run, iso(Date.UTC(2026, 5, 1, 12, 15)));
  assert.equal(first.job.command, JSON.stringify(['backup.sh', '--all']));
  assert.deepEqual(first.job.tags, ['a', 'b']);

  const same = await mgr.registerJob({ ...def, tags: ['a', 'b'] }, { source: 'manual' });
  assert.equal(same.change, 'unchanged');
  assert.deepEqual(same.changed, []);
  assert.equal(same.job.updated_at, first.job.updated_at);

  const changed = await mgr.registerJob(d({ ...def, priority: 'high', tags: ['a'] }), { source: 'manual' });
  assert.equal(changed.change, 'updated');
  assert.deepEqual([...changed.changed].sort(), ['priority', 'tags']);
  assert.equal(changed.job.priority, 'high');
  assert.deepEqual(changed.job.tags, ['a']);
  assert.equal(changed.job.id, first.job.id);
});

forEachDatabase('registerJob: discovered jobs start disabled; re-discovery keeps what the user edited', async ({ database }) => {
  const { mgr } = manager(database);
  const found = { name: 'report', schedule: '0 3 * * *', timezone: 'UTC', script_path: '/opt/cron/report.php', script_type: 'php' as const, priority: 'low' as const, category: 'reporting' };
  const first = await mgr.registerJob(d(found), { source: 'discovered', info: { root: '/opt/cron' } });
  assert.equal(first.job.enabled, 0, 'discovered jobs wait for a person');
  assert.equal(first.job.next_scheduled_run, null);
  assert.deepEqual(JSON.parse(first.job.user_overrides), []);

  await mgr.updateJob('report', { priority: 'critical', timeout_seconds: 60 });
  const edited = await mgr.getJob('report');
  assert.deepEqual(JSON.parse(edited.user_overrides), ['priority', 'timeout_seconds']);

  const again = await mgr.registerJob(d({ ...found, priority: 'medium', category: 'backup', timeout_seconds: 999 }), { source: 'discovered' });
  assert.equal(again.change, 'updated');
  assert.deepEqual(again.changed, ['category'], 'only the fields the user did not touch');
  assert.equal(again.job.priority, 'critical');
  assert.equal(again.job.timeout_seconds, 60);
  assert.equal(again.job.category, 'backup');

  // Found again by script path even under another name.
  const renamed = await mgr.registerJob(d({ ...found, name: 'report-v2' }), { source: 'discovered' });
  assert.equal(renamed.job.id, first.job.id);
  assert.equal(renamed.job.name, 'report');
});

forEachDatabase('registerJob: re-registration never changes enabled', async ({ database }) => {
  const { mgr } = manager(database);
  const found = { name: 'sync', schedule: '*/5 * * * *', timezone: 'UTC', script_path: '/opt/sync.sh' };
  await mgr.registerJob(found, { source: 'discovered' });
  await mgr.enableJob('sync');
  const r1 = await mgr.registerJob({ ...found, enabled: false }, { source: 'discovered' });
  assert.equal(r1.job.enabled, 1);
  assert.equal(r1.change, 'unchanged');
  await mgr.disableJob('sync');
  const r2 = await mgr.registerJob({ ...found, enabled: true }, { source: 'crontab' });
  assert.equal(r2.job.enabled, 0);
  assert.equal(r2.job.next_scheduled_run, null);
});

forEachDatabase('enable computes the next run from the clock; disable clears it', async ({ database }) => {
  const { mgr, clock } = manager(database);
  await mgr.registerJob({ name: 'j', schedule: '*/15 * * * *', timezone: 'UTC', command: ['true'], enabled: false }, { source: 'manual' });
  assert.equal((await mgr.getJob('j')).next_scheduled_run, null);
  const on = await mgr.enableJob('j');
  assert.equal(on.enabled, 1);
  assert.equal(on.next_scheduled_run, iso(Date.UTC(2026, 5, 1, 12, 15)));
  const off = await mgr.disableJob('j');
  assert.equal(off.enabled, 0);
  assert.equal(off.next_scheduled_run, null);
  await clock.advance(10 * MIN); // 12:17
  assert.equal((await mgr.enableJob('j')).next_scheduled_run, iso(Date.UTC(2026, 5, 1, 12, 30)));
  // A schedule in another timezone: 09:00 in New York (EDT, UTC-4) is 13:00 UTC.
  await mgr.registerJob({ name: 'ny', schedule: '0 9 * * *', timezone: 'America/New_York', command: ['true'] }, { source: 'manual' });
  assert.equal((await mgr.getJob('ny')).next_scheduled_run, iso(Date.UTC(2026, 5, 1, 13, 0)), '12:17 UTC is 08:17 in New York');
  await assert.rejects(mgr.enableJob('nope'), NotFoundError);
});

forEachDatabase('updateJob: a schedule change moves the next run; a user edit becomes an override', async ({ database }) => {
  const { mgr } = manager(database);
  await mgr.registerJob({ name: 'j', schedule: '0 * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' });
  assert.equal((await mgr.getJob('j')).next_scheduled_run, iso(Date.UTC(2026, 5, 1, 13, 0)));
  const r = await mgr.updateJob('j', { schedule: '*/10 * * * *' });
  assert.deepEqual(r.changed, ['schedule']);
  assert.equal(r.job.next_scheduled_run, iso(Date.UTC(2026, 5, 1, 12, 10)));
  const unchanged = await mgr.updateJob('j', { schedule: '*/10 * * * *' });
  assert.equal(unchanged.change, 'unchanged');
});

forEachDatabase('getJobsDueForExecution: due at the instant, not a millisecond before', async ({ database }) => {
  const { mgr, clock } = manager(database, Date.UTC(2026, 5, 1, 12, 0, 0));
  await mgr.registerJob({ name: 'every5', schedule: '*/5 * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' });
  await mgr.registerJob({ name: 'hourly', schedule: '0 * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' });
  await mgr.registerJob({ name: 'off', schedule: '* * * * *', timezone: 'UTC', command: ['true'], enabled: false }, { source: 'manual' });
  const due5 = Date.UTC(2026, 5, 1, 12, 5, 0);
  assert.deepEqual((await mgr.getJobsDueForExecution(due5 - 1)).map((j) => j.name), []);
  assert.deepEqual((await mgr.getJobsDueForExecution(due5)).map((j) => j.name), ['every5']);
  assert.deepEqual((await mgr.getJobsDueForExecution(due5 + 1)).map((j) => j.name), ['every5']);
  await clock.advance(60 * MIN);
  assert.deepEqual((await mgr.getJobsDueForExecution()).map((j) => j.name), ['every5', 'hourly'], 'uses the clock; soonest first');
  assert.equal((await mgr.getJobsDueForExecution(clock.now(), 1)).length, 1, 'limit');
});

const bad: [string, Record<string, unknown>, RegExp, string][] = [
  ['bad cron', { schedule: '61 * * * *' }, /schedule/, 'schedule'],
  ['too few fields', { schedule: '* * *' }, /schedule: .*3 fields/, 'schedule'],
  ['bad macro', { schedule: '@fortnightly' }, /schedule: unknown macro/, 'schedule'],
  ['bad timezone', { timezone: 'Mars/Olympus' }, /timezone: unknown timezone "Mars\/Olympus"/, 'timezone'],
  ['unknown field', { priorty: 'high' }, /unknown setting "priorty" \(did you mean "priority"\?\)/, 'priorty'],
  ['bad enum', { priority: 'urgent' }, /priority = "urgent": expected/, 'priority'],
  ['wrong type', { timeout_seconds: 'soon' }, /timeout_seconds = "soon"/, 'timeout_seconds'],
  ['out of range', { timeout_seconds: 0 }, /timeout_seconds = 0/, 'timeout_seconds'],
  ['bad name', { name: 'has space' }, /name = "has space": expected a name of letters, digits and \. _ : @ \/ - that starts with a letter or digit and is not a number alone \(a number refers to a job by its id\) nor list or history \(API routes\), at most 200 characters$/, 'name'],
  // GET /api/jobs/list and /api/jobs/history are routes: a job so named could not be read by name.
  ['a route for a name', { name: 'list' }, /name = "list": expected .*nor list or history \(API routes\)/, 'name'],
  ['the other route', { name: 'history' }, /name = "history": expected /, 'name'],
  ['a number for a name', { name: '11' }, /name = "11": expected .*is not a number alone \(a number refers to a job by its id\)/, 'name'],
  ['bad tag', { tags: ['ok', 'with space'] }, /tags\.1 = "with space": expected a tag of letters, digits/, 'tags.1'],
  ['bad env name', { env: { 'BAD-KEY': 'x' } }, /env: "BAD-KEY" is not a valid key \(expected an environment variable name \(letters, digits and _, not starting with a digit\)\)$/, 'env.BAD-KEY'],
  ['bad email', { alert_emails: ['ops'] }, /alert_emails\.0 = "ops": expected an email address \(name@host\)$/, 'alert_emails.0'],
  // Values every run would fail on: no program, a limit the kernel cannot take, a directory read against the daemon's.
  ['a blank program', { command: ['  ', 'x'] }, /command\.0 = "  ": expected the program to run .*not blank text$/, 'command.0'],
  ['an empty program', { command: [''] }, /command\.0 = "": expected the program to run .*not empty text$/, 'command.0'],
  ['a blank shell line', { command: [' '], shell: true }, /command\.0 = " ": expected the program to run \(a name or path; with shell, the shell line\)/, 'command.0'],
  ['a memory limit no machine has', { memory_limit_mb: 1e308 }, /memory_limit_mb = 1e\+308: expected .*16777216/, 'memory_limit_mb'],
  ['a relative working directory', { working_dir: 'relative/dir' }, /working_dir = "relative\/dir": expected an absolute path \(starting with \/\)/, 'working_dir'],
  ['a pinned node no node could be named', { pinned_node: ' n3' }, /pinned_node = " n3": expected letters, digits, '\.', '_' or '-', up to 128, starting with a letter or digit or null \(not set\)$/, 'pinned_node'],
];

for (const [label, patch, message, field] of bad) {
  forEachDatabase(`registerJob rejects ${label}, naming the field, and writes nothing`, async ({ database }) => {
    const { mgr } = manager(database);
    const def = { name: 'job', schedule: '* * * * *', timezone: 'UTC', command: ['true'], ...patch };
    await assert.rejects(mgr.registerJob(def as never, { source: 'manual' }), (e: unknown) => {
      assert.ok(e instanceof ValidationError, `a ValidationError, got ${String(e)}`);
      assert.match(e.message, message);
      assert.equal(e.field, field);
      return true;
    });
    assert.equal((await mgr.listJobs()).total, 0);
  }, { only: ['sqlite'] });
}

forEachDatabase('updateJob rejects bad input naming the field, and changes nothing', async ({ database }) => {
  const { mgr } = manager(database);
  await mgr.registerJob({ name: 'job', schedule: '* * * * *', timezone: 'UTC', command: ['true'] }, { source: 'manual' });
  const before = await mgr.getJob('job');
  for (const [patch, re] of [
    [{ schedule: 'every day' }, /schedule/],
    [{ timezone: 'Nowhere/City' }, /timezone/],
    [{ slots: 'heavy' }, /unknown setting "slots" \(did you mean "slot"\?\)/],
    [{ name: 'renamed' }, /unknown setting "name"/],
    [{ command: ['', '--flag'] }, /command\.0 = "": expected the program to run/],
    [{ memory_limit_mb: 1e308 }, /memory_limit_mb = 1e\+308/],
    [{ working_dir: 'tmp' }, /working_dir = "tmp": expected an absolute path/],
  ] as const) {
    await assert.rejects(mgr.updateJob('job', patch), re);
  }
  assert.deepEqual(await mgr.getJob('job'), before);
  await assert.rejects(mgr.updateJob('missing', { priority: 'high' }), /no job named "missing"/);
  // A shell job's command stays one shell line: a new argv list would run its first word alone.
  await mgr.registerJob({ name: 'sh', schedule: '* * * * *', timezone: 'UTC', command: ['echo one; echo two'], shell: true }, { source: 'manual' });
  const shell = await mgr.getJob('sh');
  await assert.rejects(mgr.updateJob('sh', { command: ['echo', 'a', 'b'] }), (e: unknown) => e instanceof ValidationError && e.field === 'command' && /with shell, command must be one shell line \(got 3 items\)/.test(e.message));
  await assert.rejects(mgr.updateJob('job', { shell: true, command: ['echo', 'a'] }), /one shell line \(got 2 items\)/);
  assert.deepEqual(await mgr.getJob('sh'), shell);
  // Either way round is fine: one line with shell, or the switch back to an argv list.
  assert.equal((await mgr.updateJob('sh', { command: ['echo three'] })).change, 'updated');
  assert.equal((await mgr.updateJob('sh', { shell: false, command: ['echo', 'a', 'b'] })).change, 'updated');
});

forEachDatabase('removing a found job remembers it (discovered: its script, imported: its entry); registering it again forgets that', async ({ database }) => {
  const { mgr } = manager(database);
  const found = d({ name: 'report', schedule: '0 3 * * *', timezone: 'UTC', script_path: '/opt/cron/report.php', script_type: 'php' });
  await mgr.registerJob(found, { source: 'discovered', info: { root: '/opt/cron' } });
  await mgr.registerJob(d({ name: 'crontab-rsync-0a1b2c3d', schedule: '5 * * * *', command: ['rsync -a /a /b'], shell: true }), { source: 'crontab', info: {} });
  await mgr.registerJob(d({ name: 'mine', schedule: '5 * * * *', command: ['true'] }), { source: 'manual', byUser: true });
  for (const n of ['report', 'crontab-rsync-0a1b2c3d', 'mine']) await mgr.removeJob(n);
  const gone = await mgr.dismissed.all();
  assert.deepEqual([...gone.keys()].sort(), ['crontab:crontab-rsync-0a1b2c3d', 'script:/opt/cron/report.php'], 'a job a person added is not remembered');
  assert.equal(gone.get('script:/opt/cron/report.php')!.job_name, 'report');
  // Removed a second time (registered, removed again): one entry, the newer date.
  await mgr.registerJob(found, { source: 'discovered', info: {} });
  assert.equal((await mgr.dismissed.all()).has('script:/opt/cron/report.php'), false, 'registering the script again forgets the removal');
  await mgr.removeJob('report');
  // A person registering the script under a name of their own forgets it too.
  await mgr.registerJob(d({ name: 'my-report', schedule: '0 4 * * *', script_path: '/opt/cron/report.php' }), { source: 'manual', byUser: true });
  assert.deepEqual([...(await mgr.dismissed.all()).keys()], ['crontab:crontab-rsync-0a1b2c3d']);
});

test('the test start time is what the cases assume', () => {
  assert.equal(iso(START), '2026-06-01T12:07:00.000Z');
});
