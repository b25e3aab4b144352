import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCrontab, splitPercent } from '../../src/discovery/crontab.js';
import { importCrontabs, programName, rewriteCrontab, shellLine } from '../../src/discovery/crontab-import.js';
import { readCrontabs } from '../../src/discovery/crontab-sources.js';
import { discover } from '../../src/discovery/discover.js';
import { reviewList } from '../../src/discovery/review.js';
import { ValidationError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURES, openEnv, type Env } from './helpers.js';

const CT = join(FIXTURES, 'crontab');

test('% rules: first unescaped % starts stdin, later ones are newlines, \\% is a literal %', () => {
  const cases: [string, string, string | null][] = [
    ['echo hi', 'echo hi', null],
    ['mail -s x a@b%Hello%World', 'mail -s x a@b', 'Hello\nWorld'],
    ['date +\\%Y-\\%m', 'date +%Y-%m', null],
    ['cat%50\\% off%', 'cat', '50% off\n'],
  ];
  for (const [input, command, stdin] of cases) assert.deepEqual(splitPercent(input), { command, stdin }, input);
});

test('the %-stdin reaches the whole command through sh, as under cron', () => {
  const line = shellLine({ command: 'cat | tr a-z A-Z', stdin: 'hello\nworld' });
  assert.equal(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' }), 'HELLO\nWORLD\n');
});

test('job names come from the program the entry runs', () => {
  const cases: [string, string][] = [
    ['command -v debian-sa1 > /dev/null && debian-sa1 1 1', 'debian-sa1'],
    ['[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi', 'sessionclean'],
    ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }', 'cron.daily'],
    ['/usr/bin/php /srv/app/queue/bin/process_queue.php >> /var/log/q.log 2>&1', 'process_queue'],
    ['SERVICE_MODE=1 /sbin/e2scrub_all -A -r', 'e2scrub_all'],
    // Wrappers with their options and arguments run the program after them.
    ['nice -n 19 ionice -c3 /usr/local/bin/pg_backup --full', 'pg_backup'],
    ['cd /srv/shop && APP_ENV=prod timeout 1h php bin/console app:orders:export >> /var/log/x.log 2>&1', 'console'],
    ['flock -w 60 /var/lock/db.lock /usr/local/bin/db-backup', 'db-backup'],
    ["flock -n /tmp/feed.lock -c 'cd /srv && ./bin/import-feed'", 'import-feed'],
    ['sudo -u www-data -- env -i PATH=/bin /usr/bin/php /srv/app/cron/mailer.php', 'mailer'],
    ["/bin/bash -lc '/srv/app/bin/rebuild-index.sh'", 'rebuild-index'],
  ];
  for (const [cmd, name] of cases) assert.equal(programName(cmd), name, cmd);
});

test('an imported entry is classified by what it really runs: not by its guard, wrappers, lock files or redirected files', async () => {
  // crontab line -> [category, why, priority, why]
  const cases: [string, [string, string, string, string]][] = [
    // Debian's guards: the keyword "test" is the shell builtin, not a word of the job.
    ['test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf', ['maintenance', 'keyword "logrotate" in name', 'low', 'default for category maintenance']],
    ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }', ['maintenance', 'keyword "run-parts" in path', 'low', 'default for category maintenance']],
    ['test -x /usr/local/bin/pg_backup && nice -n 19 ionice -c3 /usr/local/bin/pg_backup --full', ['backup', 'keyword "backup" in name', 'high', 'default for category backup']],
    ['[ -f /etc/maintenance.flag ] || /srv/app/bin/run', ['other', 'no category keyword found', 'medium', 'default for category other']],
    ['test -x /usr/bin/mysqldump || exit 0; /srv/app/bin/nightly-run', ['other', 'no category keyword found', 'medium', 'default for category other']],
    // A wrapper's lock file and arguments are not the job's.
    ['flock -w 60 /var/lock/test-backup.lock /usr/local/bin/db-rotate', ['cleanup', 'keyword "rotate" in name', 'low', 'default for category cleanup']],
    ['cd /srv/shop && APP_ENV=prod timeout 1h php bin/console app:orders:export', ['import_export', 'keyword "export" in path', 'high', 'keyword "order" in path']],
    // Where the output goes says nothing about what the job does.
    ['echo "100% done" > /tmp/monthly.flag', ['other', 'no category keyword found', 'medium', 'default for category other']],
    ['/srv/app/bin/charge-cards >> /var/log/sample-test.log 2>&1', ['business', 'keyword "charge" in name', 'critical', 'keyword "charge" in name']],
  ];
  const env = await openEnv();
  try {
    const r = await importText(env, 'guards', cases.map(([line]) => `0 4 * * * ${line}\n`).join(''));
    for (const [i, [line, want]] of cases.entries()) {
      const job = await env.jm.getJob(r.jobs[i]!.name);
      const info = JSON.parse(job.discovery_info!) as Record<string, string>;
      assert.deepEqual([job.category, info.category_reason, job.priority, info.priority_reason], want, line);
    }
  } finally {
    await env.close();
  }
});

test('e2scrub_all is estimated as a job over every filesystem ("all"), not by its guard', async () => {
  const env = await openEnv();
  try {
    const r = await importCrontabs(env.jm, readCrontabs([join(CT, 'etc/cron.d/e2scrub_all')], { system: true }));
    for (const j of r.jobs) {
      assert.deepEqual([j.category, j.category_reason, j.priority, j.priority_reason], ['maintenance', 'keyword "e2scrub" in name', 'low', 'default for category maintenance'], j.command);
      // e2scrub_all checks each ext4 volume in turn: a longer run than one volume's, as "all" says.
      assert.equal(j.info.estimate_reason, 'maintenance baseline 256 MB/1800s, bash x0.5, "all" x1.5');
    }
  } finally {
    await env.close();
  }
});

// file basename:line -> [schedule, run_as_user, description, active in crontab, shell line or argv]
const EXPECTED: Record<string, [string, string | null, string | null, boolean, string[]]> = {
  'crontab:19': ['17 * * * *', 'root', null, true, ['cd / && run-parts --report /etc/cron.hourly']],
  'crontab:20': ['25 6 * * *', 'root', null, true, ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }']],
  'crontab:21': ['47 6 * * 7', 'root', null, true, ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }']],
  'crontab:22': ['52 6 1 * *', 'root', null, true, ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }']],
  'sysstat:6': ['5-55/10 * * * *', 'root', 'Activity reports every 10 minutes everyday', true, ['command -v debian-sa1 > /dev/null && debian-sa1 1 1']],
  'sysstat:9': ['59 23 * * *', 'root', 'Additional run at 23:59 to rotate the statistics file', true, ['command -v debian-sa1 > /dev/null && debian-sa1 60 2']],
  'php:14': ['09,39 * * * *', 'root', 'Look for and purge old sessions every 30 minutes', true, ['[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi']],
  'e2scrub_all:1': ['30 3 * * 0', 'root', null, true, ['test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron']],
  'e2scrub_all:2': ['10 3 * * *', 'root', null, true, ['test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r']],
  'logrotate:3': ['25 6 * * *', 'root', null, true, ['test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf']],
};

test('system crontabs as Debian packages install them import into the expected jobs, disabled', async () => {
  const env = await openEnv();
  try {
    const parsed = readCrontabs([join(CT, 'etc/crontab'), join(CT, 'etc/cron.d')], { system: true });
    assert.deepEqual(parsed.map((p) => p.file.slice(CT.length + 1)), ['etc/crontab', 'etc/cron.d/e2scrub_all', 'etc/cron.d/logrotate', 'etc/cron.d/php', 'etc/cron.d/sysstat'], 'dotted cron.d names are ignored, as cron does');
    const r = await importCrontabs(env.jm, parsed);
    assert.equal(r.jobs.length, Object.keys(EXPECTED).length, 'the commented "# * * * * * user-name command" example is prose');
    for (const j of r.jobs) {
      const key = `${j.file.slice(j.file.lastIndexOf('/') + 1)}:${j.line}`;
      const want = EXPECTED[key];
      assert.ok(want, `unexpected job from ${key}`);
      const job = await env.jm.getJob(j.name);
      assert.deepEqual([job.schedule, job.run_as_user, job.description, j.active_in_crontab, JSON.parse(job.command!)], want, key);
      assert.equal(job.shell, 1);
      assert.equal(job.source, 'crontab');
      assert.equal(job.enabled, 0);
      assert.equal(job.next_scheduled_run, null);
    }
    const sysstat = await env.jm.getJob(r.jobs.find((j) => j.file.endsWith('sysstat'))!.name);
    assert.deepEqual(JSON.parse(sysstat.env), { PATH: '/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin' });
    assert.match(sysstat.name, /^crontab:sysstat\/debian-sa1-[0-9a-f]{6}$/);
    assert.deepEqual(JSON.parse((await env.jm.getJob(r.jobs.find((j) => j.file.endsWith('logrotate'))!.name)).alert_emails), ['ops@example.com']);
    const again = await importCrontabs(env.jm, readCrontabs([join(CT, 'etc/crontab'), join(CT, 'etc/cron.d')], { system: true }));
    assert.deepEqual(again.counts, { new: 0, updated: 0, unchanged: Object.keys(EXPECTED).length, missing: 0 }, 're-import is idempotent');
  } finally {
    await env.close();
  }
});

test('a user crontab with every syntax imports into the expected jobs', async () => {
  const env = await openEnv();
  try {
    const parsed = readCrontabs([join(CT, 'user/crontab')]);
    const r = await importCrontabs(env.jm, parsed);
    const got = Object.fromEntries(
      await Promise.all(
        r.jobs.map(async (j) => {
          const job = await env.jm.getJob(j.name);
          return [j.line, { schedule: job.schedule, tz: job.timezone, active: j.active_in_crontab, description: job.description, command: JSON.parse(job.command!), shell: job.shell, env: JSON.parse(job.env), emails: JSON.parse(job.alert_emails), enabled: job.enabled }];
        }),
      ),
    );
    const env0 = { PATH: '/usr/local/bin:/usr/bin:/bin', APP_ENV: 'production' };
    const base = { tz: 'Europe/Berlin', shell: 1, env: env0, emails: ['dev@example.com'], enabled: 0 };
    assert.deepEqual(Object.keys(got).map(Number), [16, 19, 21, 22, 25, 26, 29, 30, 34], 'the template example "# 0 5 * * 1 tar …" is not an entry');
    assert.deepEqual(got[16], { ...base, schedule: '0 2 * * *', active: true, description: 'Nightly database backup', command: ['/usr/local/bin/backup-db.sh >> /var/log/backup.log 2>&1'] });
    assert.deepEqual(got[21], { ...base, schedule: '@reboot', active: true, description: null, command: ['/srv/app/bin/warm-cache'] });
    assert.deepEqual(got[22], { ...base, schedule: '@hourly', active: true, description: null, command: ['cd /srv/app && php artisan schedule:run'] });
    assert.equal(got[25]!.schedule, '30 7 * * mon-fri');
    assert.deepEqual(got[25]!.command, ["{\nmail -s \"Daily digest\" team@example.com\n} <<'SMART_CRON_STDIN'\nGood morning,\nthe digest is attached.\nSMART_CRON_STDIN"]);
    assert.deepEqual(got[26]!.command, ['echo "100% done" > /tmp/monthly.flag']);
    assert.deepEqual(got[29], { ...base, schedule: '*/5 * * * *', active: false, description: 'Switched off until the new API is live', command: ['/srv/app/bin/sync-inventory'] });
    assert.equal(got[30]!.active, false);
    // SHELL=/bin/bash: run by bash, as cron would; TZ sets the schedule's zone only when CRON_TZ did not.
    assert.deepEqual(got[34], {
      ...base,
      schedule: '0 12 * * 7',
      active: true,
      description: null,
      shell: 0,
      command: ['/bin/bash', '-c', '[[ -f /tmp/x ]] && /srv/app/bin/weekly-cleanup'],
      env: { ...env0, TZ: 'America/New_York' },
    });
    const backup = r.jobs.find((j) => j.line === 16)!;
    assert.equal(backup.category, 'backup');
    assert.match(backup.warnings[0]!, /MAILTO "root" is a local mailbox/);
  } finally {
    await env.close();
  }
});

test('every malformed line is reported with its line number and reason, and nothing is imported', async () => {
  const env = await openEnv();
  try {
    const parsed = readCrontabs([join(CT, 'user/bad.crontab')]);
    const reasons = parsed[0]!.problems.map((p) => [p.line, p.reason]);
    assert.deepEqual(reasons.map(([l]) => l), [4, 5, 6, 7, 8, 9, 10, 11]);
    const want = [/minute .*61 is out of range/, /day-of-week field "\/bin\/too-few-fields"/, /expected a command/, /unknown macro "@fortnightly"/, /CRON_TZ: unknown timezone "Mars\/Olympus"/, /not a cron entry/, /command before the first % is empty/, /day-of-week .*8 is out of range/];
    reasons.forEach(([, reason], i) => assert.match(String(reason), want[i]!));
    await assert.rejects(importCrontabs(env.jm, parsed), (e: Error) => e instanceof ValidationError && /bad.crontab:4: minute/.test(e.message) && /8 bad lines: nothing imported/.test(e.message));
    assert.equal((await env.jm.listJobs()).total, 0);
    const skipped = await importCrontabs(env.jm, parsed, { skipInvalid: true });
    assert.equal(skipped.jobs.length, 1);
    assert.equal(skipped.invalid.length, 8);
  } finally {
    await env.close();
  }
});

test('--rewrite comments out what was imported with a marker; re-importing the rewritten crontab changes nothing', async () => {
  const env = await openEnv();
  try {
    const parsed = readCrontabs([join(CT, 'user/crontab')]);
    const r = await importCrontabs(env.jm, parsed);
    const text = rewriteCrontab(parsed[0]!, r.jobs);
    const reparsed = parseCrontab(text, { file: join(CT, 'user/crontab'), system: false });
    assert.ok(text.includes(`#[smart-cron ${r.jobs[0]!.name}] 0 2 * * * /usr/local/bin/backup-db.sh`));
    assert.equal(text.split('\n').filter((l) => /^[\d*@]/.test(l)).length, 0, 'no active entry left');
    const again = await importCrontabs(env.jm, [reparsed]);
    assert.deepEqual(again.counts, { new: 0, updated: 0, unchanged: r.jobs.length, missing: 0 });
  } finally {
    await env.close();
  }
});

/** Write a crontab file named `name` in the env's folder and import it. */
async function importText(env: Env, name: string, text: string, opts: { dryRun?: boolean; includeRemoved?: boolean } = {}) {
  const file = join(env.dir, name);
  writeFileSync(file, text);
  return importCrontabs(env.jm, readCrontabs([file]), opts);
}

async function names(env: Env, prefix: string): Promise<string[]> {
  return (await env.jm.listJobs({ sort: 'name' })).jobs.map((j) => j.name).filter((n) => n.startsWith(prefix));
}

test('a changed schedule updates the imported job (a person\'s changes stay); the same command at two times stays two jobs', async () => {
  const env = await openEnv();
  try {
    const first = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n0 3 * * * /usr/bin/sync.sh\n0 15 * * * /usr/bin/sync.sh\n');
    const [backup, , sync1, sync2] = first.jobs.map((j) => j.name);
    assert.match(backup!, /^crontab:ct4\/backup-[0-9a-f]{6}$/);
    assert.equal(sync2, `${sync1}-2`, 'the same command twice: numbered in order');
    await env.jm.updateJob(backup!, { priority: 'low' });

    const moved = await importText(env, 'ct4', '0 5 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n0 3 * * * /usr/bin/sync.sh\n0 16 * * * /usr/bin/sync.sh\n');
    assert.deepEqual(moved.jobs.map((j) => [j.name, j.change, j.changed]), [
      [backup, 'updated', ['schedule']],
      [first.jobs[1]!.name, 'unchanged', []],
      [sync1, 'unchanged', []],
      [sync2, 'updated', ['schedule']],
    ]);
    assert.deepEqual(await names(env, 'crontab:ct4/'), [backup, first.jobs[1]!.name, sync1, sync2].sort(), 'no second job next to the old one');
    const job = await env.jm.getJob(backup!);
    assert.deepEqual([job.schedule, job.priority], ['0 5 * * *', 'low']);

    // A schedule the person set is theirs: the crontab's new one does not replace it.
    await env.jm.updateJob(backup!, { schedule: '30 4 * * *' });
    const again = await importText(env, 'ct4', '0 6 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n0 3 * * * /usr/bin/sync.sh\n0 16 * * * /usr/bin/sync.sh\n');
    assert.equal(again.jobs[0]!.change, 'unchanged');
    assert.equal((await env.jm.getJob(backup!)).schedule, '30 4 * * *');
  } finally {
    await env.close();
  }
});

test('jobs imported before names left out the schedule keep their names: no duplicate after an upgrade, nor at the next schedule change', async () => {
  const env = await openEnv();
  try {
    const text = '0 1 * * * /usr/bin/backup.sh\n0 3 * * * /usr/bin/sync.sh\n0 15 * * * /usr/bin/sync.sh\n';
    const r = await importText(env, 'ct4', text);
    // The database as the previous version left it: names hashed with the schedule.
    const oldHash = (schedule: string, command: string) => createHash('sha1').update(`${schedule}\0\0${command}\0`).digest('hex').slice(0, 6);
    const old = [`crontab:ct4/backup-${oldHash('0 1 * * *', '/usr/bin/backup.sh')}`, `crontab:ct4/sync-${oldHash('0 3 * * *', '/usr/bin/sync.sh')}`, `crontab:ct4/sync-${oldHash('0 15 * * *', '/usr/bin/sync.sh')}`];
    assert.equal(old[0], 'crontab:ct4/backup-090f99', 'the name the QA report saw');
    for (const [i, j] of r.jobs.entries()) await env.jm.jobs.update((await env.jm.getJob(j.name)).id, { name: old[i]! });
    await env.jm.updateJob(old[0]!, { priority: 'low' });

    const same = await importText(env, 'ct4', text);
    assert.deepEqual(same.jobs.map((j) => [j.name, j.change]), old.map((n) => [n, 'unchanged']));
    assert.deepEqual(same.counts, { new: 0, updated: 0, unchanged: 3, missing: 0 });

    const moved = await importText(env, 'ct4', '0 5 * * * /usr/bin/backup.sh\n0 3 * * * /usr/bin/sync.sh\n0 16 * * * /usr/bin/sync.sh\n');
    assert.deepEqual(moved.jobs.map((j) => [j.name, j.change]), [[old[0], 'updated'], [old[1], 'unchanged'], [old[2], 'updated']]);
    assert.deepEqual(await names(env, 'crontab:ct4/'), [...old].sort());
    const job = await env.jm.getJob(old[0]!);
    assert.deepEqual([job.schedule, job.priority, job.missing], ['0 5 * * *', 'low', 0]);
    assert.equal((await env.jm.getJob(old[2]!)).schedule, '0 16 * * *');
  } finally {
    await env.close();
  }
});

test('an entry gone from the crontab: its job is reported and marked missing (kept, not deleted), and un-marked when it comes back', async () => {
  const env = await openEnv();
  try {
    const first = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n');
    await importText(env, 'other', '0 2 * * * /usr/bin/report.sh\n');
    const report = first.jobs[1]!.name;

    const dry = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n', { dryRun: true });
    assert.deepEqual(dry.missing.map((m) => [m.name, m.changed, m.line, m.crontab_line]), [[report, ['missing'], 2, '0 2 * * * /usr/bin/report.sh']]);
    assert.equal(dry.counts.missing, 1);
    assert.equal((await env.jm.getJob(report)).missing, 0, 'a dry run writes nothing');

    const gone = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n');
    assert.deepEqual(gone.counts, { new: 0, updated: 0, unchanged: 1, missing: 1 });
    assert.equal((await env.jm.getJob(report)).missing, 1);
    // It cannot be enabled while gone, and the refusal says what is gone (it has no script).
    await assert.rejects(env.jm.enableJob(report), { message: `job "${report}": its crontab entry is gone; restore it or remove the job` });
    assert.equal((await names(env, 'crontab:other/')).length, 1);
    assert.ok((await env.jm.listJobs({ source: 'crontab', missing: true })).jobs.every((j) => j.name === report), 'another crontab\'s jobs are not touched');
    const still = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n');
    assert.deepEqual(still.missing.map((m) => [m.name, m.changed]), [[report, []]], 'still reported, marked already');

    const back = await importText(env, 'ct4', '0 1 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n');
    assert.deepEqual(back.jobs.map((j) => [j.name, j.change, j.changed]), [[first.jobs[0]!.name, 'unchanged', []], [report, 'updated', ['missing']]]);
    assert.equal((await env.jm.getJob(report)).missing, 0);
    assert.deepEqual(back.counts, { new: 0, updated: 1, unchanged: 1, missing: 0 });
  } finally {
    await env.close();
  }
});

test('an entry whose job a person removed is left out of later imports (and said so) until --include-removed', async () => {
  const env = await openEnv();
  try {
    const text = '0 1 * * * /usr/bin/backup.sh\n0 2 * * * /usr/bin/report.sh\n';
    const first = await importText(env, 'ct5', text);
    const [backup, report] = first.jobs.map((j) => j.name) as [string, string];
    await env.jm.removeJob(report);
    const again = await importText(env, 'ct5', text);
    assert.deepEqual(again.jobs.map((j) => j.name), [backup], 'the removed entry is not imported again');
    assert.deepEqual(again.removed.map((r) => [r.name, r.line]), [[report, 2]]);
    assert.deepEqual(again.missing, [], 'nor reported missing: its entry is still there');
    assert.equal(await env.jm.findJob(report), undefined);
    const back = await importText(env, 'ct5', text, { includeRemoved: true });
    assert.deepEqual(back.jobs.map((j) => [j.name, j.change]), [[backup, 'unchanged'], [report, 'new']]);
    assert.deepEqual((await importText(env, 'ct5', text)).removed, [], 'imported again: no longer left out');
  } finally {
    await env.close();
  }
});

test('an entry that runs a script already discovered as a job is imported with a warning naming that job, which review shows', async () => {
  const env = await openEnv();
  try {
    const root = join(env.dir, 'srv');
    mkdirSync(join(root, 'app/cron'), { recursive: true });
    writeFileSync(join(root, 'app/cron/backup_db.sh'), '#!/bin/sh\npg_dump app > /var/backups/app.sql\n', { mode: 0o755 });
    const found = await discover(env.jm, [root]);
    const discovered = found.jobs[0]!;
    assert.equal(discovered.name, 'app/cron/backup_db');
    const script = discovered.script_path;

    const r = await importText(env, 'ct', `0 2 * * * ${script} >> /var/log/backup.log 2>&1\n0 3 * * * /usr/bin/other.sh\n`);
    const want = `runs ${script}, which is already the job app/cron/backup_db (discovered): enable only one`;
    assert.deepEqual(r.jobs.map((j) => j.warnings), [[want], []]);
    const rows = await reviewList(env.jm);
    assert.deepEqual(rows.find((x) => x.name === r.jobs[0]!.name)!.warnings, [want]);
    assert.deepEqual(rows.find((x) => x.name === discovered.name)!.warnings, []);
  } finally {
    await env.close();
  }
});

test('--system on a host without /etc/crontab (a container) reads /etc/cron.d alone; with neither, says so', () => {
  const etc = join(tempDir('smart-cron-system-'), 'etc');
  mkdirSync(join(etc, 'cron.d'), { recursive: true });
  writeFileSync(join(etc, 'cron.d', 'e2scrub_all'), '30 3 * * 0 root test -e /run/systemd/system || /sbin/e2scrub_all\n');
  const parsed = readCrontabs([], { system: true, systemSources: [join(etc, 'crontab'), join(etc, 'cron.d')] });
  assert.deepEqual(parsed.map((p) => [p.file, p.entries.length]), [[join(etc, 'cron.d', 'e2scrub_all'), 1]]);
  const none = join(tempDir('smart-cron-system-'), 'etc');
  assert.throws(() => readCrontabs([], { system: true, systemSources: [join(none, 'crontab'), join(none, 'cron.d')] }), {
    message: `--system: neither ${join(none, 'crontab')} nor ${join(none, 'cron.d')} exists on this host (expected cron's system crontab or its cron.d folder)`,
  });
});
