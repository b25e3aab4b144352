import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import { applyJobs, exportJobs, exportYaml, parseJobsFile } from '../../src/discovery/jobs-file.js';
import { ValidationError } from '../../src/errors.js';
import { openEnv } from './helpers.js';

const JOBS = `
jobs:
  - name: nightly-backup
    schedule: "0 2 * * *"
    command: [/usr/local/bin/backup, --all]
    category: backup
    priority: high
    timeout_seconds: 3600
    estimated_memory_mb: 1024
    tags: [db, nightly]
    alert_emails: [ops@example.com]
  - name: queue
    schedule: "* * * * *"
    command: ["php artisan queue:work --stop-when-empty"]
    shell: true
    env: { APP_ENV: production }
    timezone: Europe/Berlin
    retries: 2
  - name: report
    schedule: "@daily"
    script_path: /srv/app/bin/report.py
    script_type: python
    enabled: false
`;

const problem = (text: string): string => {
  try {
    parseJobsFile(text, 'jobs.yaml');
  } catch (e) {
    assert.ok(e instanceof ValidationError);
    return e.message;
  }
  assert.fail('expected a ValidationError');
};

test('bad files: every error names the job, the field, what was expected, and the line', () => {
  const cases: [string, RegExp][] = [
    ['jobs:\n  - name: a\n    schedule: "@daily"\n    command: [x]\n    scedule: "@hourly"\n', /^jobs\.yaml:5: job "a": unknown setting "scedule" \(did you mean "schedule"\?\)$/],
    ['- name: a\n  schedule: "61 * * * *"\n  command: [x]\n', /^jobs\.yaml:2: job "a": .*minute.*61 is out of range/],
    ['- name: a\n  schedule: "@daily"\n  command: [x]\n  priority: urgent\n', /^jobs\.yaml:4: job "a": priority = "urgent": expected/],
    ['- name: a\n  schedule: "@daily"\n', /^jobs\.yaml:1: job "a": nothing to run/],
    ['- schedule: "@daily"\n  command: [x]\n', /^jobs\.yaml:1: job #1: .*name/],
    ['- name: a\n  schedule: "@daily"\n  command: [x]\n- name: a\n  schedule: "@daily"\n  command: [y]\n', /^jobs\.yaml:4: job "a": defined twice \(first at line 1\)$/],
    ['jobs:\n  - name: a\n    schedule: [unclosed\n', /^jobs\.yaml:\d+: bad YAML: /],
    ['jobz: []\n', /^jobs\.yaml:1: unknown top-level key "jobz"/],
    ['42\n', /expected a list of jobs/],
    ['- name: a\n  schedule: "@daily"\n  command: "echo \\"hi"\n', /^jobs\.yaml:3: job "a": command: unterminated double quote in "echo "hi"$/],
    ['- name: a\n  schedule: "@daily"\n  command: "  "\n', /^jobs\.yaml:3: job "a": command: empty \(expected the program to run and its arguments, e\.g\. "php bin\/report\.php --all"\)$/],
    ['- name: a\n  schedule: "@daily"\n  command: 42\n', /^jobs\.yaml:3: job "a": command = 42: expected the program and its arguments, as one line \("php bin\/report\.php --all"\) or a list of words/],
  ];
  for (const [text, re] of cases) assert.match(problem(text), re, text);
});

test('a command given as one line is split into words as `jobs add --command` splits it; with shell: true it is the shell line', async () => {
  // command as the file gives it (YAML) -> the command stored
  const cases: [string, string[]][] = [
    ['"echo extract"', ['echo', 'extract']],
    ['php /srv/app/bin/extract.php --since "last night"', ['php', '/srv/app/bin/extract.php', '--since', 'last night']],
    ["'printf \"%s|\" a\\ b ''c  d'' $HOME'", ['printf', '%s|', 'a b', 'c  d', '$HOME']],
    ['[php, bin/x.php, two words]', ['php', 'bin/x.php', 'two words']],
  ];
  const shell = 'cd /srv/app && ./bin/load | tee -a /var/log/load.log';
  const text = [
    ...cases.map(([cmd], i) => `- name: j${i}\n  schedule: "@daily"\n  command: ${cmd}\n`),
    `- name: sh\n  schedule: "@daily"\n  shell: true\n  command: ${shell}\n`,
  ].join('');
  const env = await openEnv();
  try {
    const r = await applyJobs(env.jm, parseJobsFile(text, 'jobs.yaml'));
    assert.equal(r.added.length, cases.length + 1);
    for (const [i, [cmd, want]] of cases.entries()) assert.deepEqual(JSON.parse((await env.jm.getJob(`j${i}`)).command!), want, cmd);
    const sh = await env.jm.getJob('sh');
    assert.deepEqual([JSON.parse(sh.command!), sh.shell], [[shell], 1]);
    assert.equal((await applyJobs(env.jm, parseJobsFile(text, 'jobs.yaml'))).unchanged, cases.length + 1, 'the same file again changes nothing');
    assert.equal((await applyJobs(env.jm, parseJobsFile(exportYaml(await exportJobs(env.jm)), 'export.yaml'))).unchanged, cases.length + 1, 'nor does its export, which writes lists');
  } finally {
    await env.close();
  }
});

test('apply validates everything first: one bad job means nothing is written', async () => {
  const env = await openEnv();
  try {
    assert.throws(() => parseJobsFile(`${JOBS}  - name: broken\n    schedule: nope\n    command: [x]\n`, 'jobs.yaml'), /jobs\.yaml:\d+: job "broken"/);
    assert.equal((await env.jm.listJobs()).total, 0);
  } finally {
    await env.close();
  }
});

test('apply is idempotent, shows a diff, and prunes only jobs that came from a file', async () => {
  const env = await openEnv();
  try {
    await env.jm.registerJob({ name: 'manual-one', schedule: '@hourly', command: ['true'] }, { source: 'manual', byUser: true });
    const first = await applyJobs(env.jm, parseJobsFile(JOBS, 'jobs.yaml'));
    assert.deepEqual(first.added, ['nightly-backup', 'queue', 'report']);
    const q = await env.jm.getJob('queue');
    assert.deepEqual([q.source, q.enabled, q.retries, q.timezone], ['file', 1, 2, 'Europe/Berlin']);
    assert.equal((await env.jm.getJob('report')).enabled, 0);
    const again = await applyJobs(env.jm, parseJobsFile(JOBS, 'jobs.yaml'));
    assert.deepEqual(again, { dry_run: false, added: [], changed: [], unchanged: 3, removed: [], not_in_file: [] });
    const edited = JOBS.replace('priority: high', 'priority: critical').replace(/  - name: report[\s\S]*$/, '');
    const dry = await applyJobs(env.jm, parseJobsFile(edited, 'jobs.yaml'), { prune: true, dryRun: true });
    assert.deepEqual(dry.changed, [{ name: 'nightly-backup', fields: ['priority'] }]);
    assert.deepEqual(dry.removed, ['report']);
    assert.equal((await env.jm.getJob('nightly-backup')).priority, 'high', 'dry run wrote nothing');
    const noPrune = await applyJobs(env.jm, parseJobsFile(edited, 'jobs.yaml'));
    assert.deepEqual(noPrune.not_in_file, ['report']);
    const pruned = await applyJobs(env.jm, parseJobsFile(edited, 'jobs.yaml'), { prune: true });
    assert.deepEqual(pruned.removed, ['report']);
    assert.ok(await env.jm.findJob('manual-one'), 'a manual job is never pruned');
    assert.equal(await env.jm.findJob('report'), undefined);
  } finally {
    await env.close();
  }
});

test('export prints a jobs.yaml that apply accepts: the round trip changes nothing', async () => {
  const a = await openEnv();
  const b = await openEnv();
  try {
    await applyJobs(a.jm, parseJobsFile(JOBS, 'jobs.yaml'));
    await a.jm.registerJob({ name: 'discovered/x', schedule: '@daily', script_path: '/srv/x.sh', script_type: 'bash' as never, description: 'X.', category: 'cleanup', priority: 'low' as never }, { source: 'discovered', info: { why: 'test' } });
    await a.jm.registerJob({ name: 'crontab:u/y-abc123', schedule: '@reboot', command: ['echo hi | wall'], shell: true, run_as_user: 'www-data' }, { source: 'crontab' });
    await a.jm.updateJob('discovered/x', { memory_limit_mb: 300 });
    const yaml = exportYaml(await exportJobs(a.jm));
    const parsed = YAML.parse(yaml);
    assert.equal(parsed.jobs.length, 5);
    assert.equal(parsed.jobs.find((j: { name: string }) => j.name === 'discovered/x').memory_limit_mb, 300, 'overridden fields are exported');
    const intoSame = await applyJobs(a.jm, parseJobsFile(yaml, 'export.yaml'));
    assert.equal(intoSame.unchanged, 5, JSON.stringify(intoSame));
    const intoFresh = await applyJobs(b.jm, parseJobsFile(yaml, 'export.yaml'));
    assert.equal(intoFresh.added.length, 5);
    assert.equal(exportYaml(await exportJobs(b.jm)), yaml);
  } finally {
    await a.close();
    await b.close();
  }
});

test('links between jobs: export writes them, apply makes them (into a fresh registry too), checked before anything is written', async () => {
  const a = await openEnv();
  const b = await openEnv();
  const links = async (jm: typeof a.jm) =>
    (await jm.database.db
      .selectFrom('smart_cron_job_dependencies as d')
      .innerJoin('smart_cron_integrated_jobs as j', 'j.id', 'd.job_id')
      .innerJoin('smart_cron_integrated_jobs as o', 'o.id', 'd.depends_on_job_id')
      .select(['j.name as job', 'o.name as other', 'd.kind as kind', 'd.window_seconds as w', 'd.on as on'])
      .orderBy('j.name')
      .orderBy('o.name')
      .execute()).map((l) => `${l.job} ${l.kind} ${l.other}${l.kind === 'requires' ? ` ${l.w ?? '-'}` : ` ${l.on}`}`);
  try {
    const file = `
jobs:
  extract: { schedule: "@daily", command: [extract] }
  load:
    schedule: "@daily"
    command: [load]
    after: [extract]
  report:
    schedule: "@daily"
    command: [report]
    requires: [{ job: load, within: 6h }, extract]
  mail:
    schedule: "@daily"
    command: [mail]
    after: [{ job: report, on: always }, { job: load, on: failure }]
`;
    const first = await applyJobs(a.jm, parseJobsFile(file, 'jobs.yaml'));
    assert.deepEqual(first.added, ['extract', 'load', 'report', 'mail']);
    const want = ['load triggers extract success', 'mail triggers load failure', 'mail triggers report always', 'report requires extract -', 'report requires load 21600'];
    assert.deepEqual(await links(a.jm), want);
    assert.deepEqual(await applyJobs(a.jm, parseJobsFile(file, 'jobs.yaml')), { dry_run: false, added: [], changed: [], unchanged: 4, removed: [], not_in_file: [] });

    // export -> apply into an empty registry: the same links.
    const yaml = exportYaml(await exportJobs(a.jm));
    const mail = YAML.parse(yaml).jobs.find((j: { name: string }) => j.name === 'mail');
    assert.deepEqual(mail.after, [{ job: 'load', on: 'failure' }, { job: 'report', on: 'always' }]);
    await applyJobs(b.jm, parseJobsFile(yaml, 'export.yaml'));
    assert.deepEqual(await links(b.jm), want);
    assert.equal(exportYaml(await exportJobs(b.jm)), yaml);

    // A job that gives a kind has exactly those links of it; one that gives neither keeps its own.
    const edited = file.replace('requires: [{ job: load, within: 6h }, extract]', 'requires: [extract]').replace(/\n {4}after: \[\{ job: report.*\n/, '\n');
    const dry = await applyJobs(a.jm, parseJobsFile(edited, 'jobs.yaml'), { dryRun: true });
    assert.deepEqual(dry.changed, [{ name: 'report', fields: ['requires'] }]);
    assert.deepEqual(await links(a.jm), want, 'a dry run writes nothing');
    await applyJobs(a.jm, parseJobsFile(edited, 'jobs.yaml'));
    assert.deepEqual(await links(a.jm), ['load triggers extract success', 'mail triggers load failure', 'mail triggers report always', 'report requires extract -']);
    await applyJobs(a.jm, parseJobsFile(edited.replace('requires: [extract]', 'requires: []'), 'jobs.yaml'));
    assert.ok(!(await links(a.jm)).some((l) => l.startsWith('report requires')), 'an empty list removes them');

    // Refused before anything is written: a link to a job nowhere, a cycle; both named.
    const before = await links(a.jm);
    const unknown = file.replace('after: [extract]', 'after: [extract, transform]').replace('command: [mail]', 'command: [mail-v2]');
    await assert.rejects(applyJobs(a.jm, parseJobsFile(unknown, 'jobs.yaml')), /^ValidationError: line \d+: job "load": after "transform", which is neither in this file nor a registered job$/);
    assert.deepEqual((await a.jm.getJob('mail')).command, '["mail"]', 'nothing applied');
    const cycle = file.replace('command: [extract] }', 'command: [extract], requires: [report] }');
    await assert.rejects(applyJobs(a.jm, parseJobsFile(cycle, 'jobs.yaml')), /would create a cycle: extract → report → (load → )?extract/);
    assert.deepEqual(await links(a.jm), before);
  } finally {
    await a.close();
    await b.close();
  }
});

test('links in a file: a bad entry names the job, the key and the line', () => {
  const job = (extra: string) => `- name: a\n  schedule: "@daily"\n  command: [x]\n${extra}`;
  const cases: [string, RegExp][] = [
    [job('  requires: extract\n'), /^jobs\.yaml:4: job "a": requires: expected a list of job names/],
    [job('  after:\n    - { job: b, on: sometimes }\n'), /^jobs\.yaml:5: job "a": after\.0\.on: "sometimes" is not an outcome \(expected success, failure or always\)$/],
    [job('  requires:\n    - { job: b, on: failure }\n'), /^jobs\.yaml:5: job "a": requires\.0: unknown key "on" \(on goes with after\)/],
    [job('  requires:\n    - { job: b, within: soon }\n'), /^jobs\.yaml:5: job "a": requires\.0\.within: "soon" is not a duration/],
    [job('  after: [a]\n'), /^jobs\.yaml:4: job "a": after: a job cannot depend on itself/],
    [job('  after: [b, b]\n'), /^jobs\.yaml:4: job "a": after: "b" is named twice/],
    [job('  after:\n    - { on: failure }\n'), /^jobs\.yaml:5: job "a": after\.0: expected "job"/],
  ];
  for (const [text, re] of cases) assert.match(problem(text), re, text);
});
