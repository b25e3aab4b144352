/**
 * The dashboard's job form without a browser (web/src/job-form-state.ts): every setting the API
 * takes has a field; a new job starts at the registry's defaults and sends only what the user
 * changed; an edit sends only what changed; the line parsers and number checks say what is
 * wrong and what was expected; and the API's errors about the new fields land at their inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobFields, validateJobDefinition, validateJobPatch } from '../../src/jobs/definition.js';
import {
  changes,
  DEFAULTS,
  FIELDS,
  forCreate,
  formField,
  initialState,
  notDefault,
  parseEmails,
  parseEnv,
  parseNodeSelector,
  parseNumber,
  NUMBERS,
  sectionOf,
  SECTIONS,
  toBody,
  type FormState,
} from '../../web/src/job-form-state.js';
import type { Job } from '../../web/src/types.js';
import { presentedJob } from '../helpers/fixtures.js';

/** A new job's form, filled in as far as the API requires. */
function fresh(over: Partial<FormState> = {}): FormState {
  return { ...initialState(), name: 'nightly', schedule: '0 3 * * *', command: 'true', ...over };
}

function bodyOf(s: FormState) {
  const { body, errors } = toBody(s);
  assert.deepEqual(errors, {}, 'no client-side errors');
  return body;
}

function errorOf(s: FormState, field: string): string {
  const { errors } = toBody(s);
  assert.ok(errors[field], `an error for ${field} (got ${JSON.stringify(errors)})`);
  return errors[field]!;
}

/** A job registered the way the API's POST does, as the API presents it. */
const register = async (body: Record<string, unknown>) => (await presentedJob(body)) as unknown as Job;

test('every setting the API takes has a field in the form', () => {
  // Filled in as a person would (category, timeout and memory are left out while empty).
  const filled = fresh({ kind: 'script', script_path: '/x.sh', script_type: 'bash', category: 'backup', timeout_seconds: '60', estimated_memory_mb: '100' });
  const fromState = new Set(Object.keys(toBody(filled).body));
  const missing = Object.keys(JobFields).filter((k) => !fromState.has(k) && !(k === 'command' || k === 'shell'));
  assert.deepEqual(missing, [], 'settings the form cannot set');
  // (enabled, a checkbox sent only for a new job, cannot be wrong: an error about it shows at the top.)
  for (const k of Object.keys(JobFields).filter((f) => f !== 'enabled')) {
    const field = formField(k);
    assert.ok(field && FIELDS.has(field), `an API error about ${k} is shown at an input (${field})`);
  }
});

test('a new job starts at the registry defaults, and sends none of the folded settings left at them', async () => {
  const s = fresh();
  const body = bodyOf(s);
  // Not stated in the request: what the registry makes of the job.
  const registered = await register({ name: 'nightly', schedule: '0 3 * * *', command: ['true'] });
  for (const k of Object.keys(DEFAULTS)) {
    assert.deepEqual(body[k], (registered as unknown as Record<string, unknown>)[k], `${k}: the form's default is the registry's`);
  }
  assert.deepEqual(
    [s.max_catchup_runs, s.cpu_weight, s.estimated_cpu_percent, s.circuit_cooldown_seconds, s.requires_wait_seconds, s.requires_mode, s.env, s.starting_deadline_seconds],
    ['100', '1', '10', '1800', '3600', 'skip', '', ''],
  );
  // Each section starts folded on a new job.
  for (const id of Object.keys(SECTIONS) as (keyof typeof SECTIONS)[]) assert.deepEqual(notDefault(s, id), [], id);

  const created = forCreate(body);
  for (const k of Object.keys(DEFAULTS)) assert.ok(!(k in created), `${k} is not sent when left at its default`);
  assert.ok(!('timezone' in created), 'an empty timezone is not sent for a new job');
  // The settings of the form that were always sent still are (the existing pattern).
  for (const k of ['overlap_policy', 'misfire_policy', 'retries', 'alert_on_failure', 'tags', 'description']) assert.ok(k in created, k);
  const job = await register(created);
  assert.ok(!job.user_overrides?.includes('consecutive_failure_threshold'), "the daemon's threshold keeps applying");
  assert.ok(!job.user_overrides?.includes('env'));
});

test('a new job sends the folded settings the user changed, in the API form', async () => {
  const s = fresh({
    kind: 'script',
    script_path: '/opt/cron/report.sh',
    script_type: 'bash',
    working_dir: ' /srv/app ',
    run_as_user: 'www-data',
    env: 'APP_ENV=production\n\nGREETING=hello = world \n',
    max_catchup_runs: '5',
    starting_deadline_seconds: '120',
    cpu_weight: '0.4',
    memory_weight: '2',
    estimated_cpu_percent: '35.5',
    estimated_duration_seconds: '90',
    alert_emails: 'ops@example.com, dev@example.com\nboss@example.com',
    consecutive_failure_threshold: '4',
    missed_grace_seconds: '0',
    circuit_failure_threshold: '7',
    circuit_cooldown_seconds: '600',
    retry_on_timeout: true,
    retry_on_memory: true,
    requires_mode: 'wait',
    requires_wait_seconds: '900',
    mutex_group: ' db-heavy ',
    manual_respects_overlap: true,
    node_selector: 'disk=ssd\nkubernetes.io/arch=amd64',
    pinned_node: 'node-a',
  });
  const created = forCreate(bodyOf(s));
  assert.deepEqual(
    Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, created[k]])),
    {
      working_dir: '/srv/app',
      run_as_user: 'www-data',
      env: { APP_ENV: 'production', GREETING: 'hello = world ' },
      max_catchup_runs: 5,
      starting_deadline_seconds: 120,
      cpu_weight: 0.4,
      memory_weight: 2,
      estimated_cpu_percent: 35.5,
      estimated_duration_seconds: 90,
      alert_emails: ['ops@example.com', 'dev@example.com', 'boss@example.com'],
      consecutive_failure_threshold: 4,
      missed_grace_seconds: 0,
      circuit_failure_threshold: 7,
      circuit_cooldown_seconds: 600,
      retry_on_timeout: true,
      retry_on_memory: true,
      requires_mode: 'wait',
      requires_wait_seconds: 900,
      mutex_group: 'db-heavy',
      manual_respects_overlap: true,
      node_selector: { disk: 'ssd', 'kubernetes.io/arch': 'amd64' },
      pinned_node: 'node-a',
    },
  );
  assert.equal(created.script_type, 'bash');
  // The server takes it as it is, and reading the job back gives the same form.
  validateJobDefinition(created);
  const job = await register(created);
  const again = initialState(job);
  for (const k of Object.keys(DEFAULTS) as (keyof FormState)[]) {
    assert.deepEqual(toBody(again).body[k], created[k], `${k} reads back as it was sent`);
  }
  assert.equal(again.env, 'APP_ENV=production\nGREETING=hello = world ');
  assert.equal(again.node_selector, 'disk=ssd\nkubernetes.io/arch=amd64');
  assert.equal(again.script_type, 'bash');
  // On edit, every section holding a value that is not the default starts open.
  for (const id of Object.keys(SECTIONS) as (keyof typeof SECTIONS)[]) assert.ok(notDefault(again, id).length > 0, `${id} opens on edit`);
});

test('an edit sends only the changed fields; an emptied nullable number or text sends null', async () => {
  const job = await register({
    name: 'sync',
    schedule: '*/5 * * * *',
    command: ['true'],
    env: { A: '1', B: '2' },
    starting_deadline_seconds: 60,
    mutex_group: 'db',
    timezone: 'UTC',
    node_selector: { disk: 'ssd' },
    alert_emails: ['ops@example.com'],
  });
  const original = toBody(initialState(job)).body;
  const loaded = initialState(job);
  assert.deepEqual(changes(bodyOf(loaded), original), {}, 'nothing changed, nothing sent');
  assert.deepEqual(changes(bodyOf({ ...loaded, max_catchup_runs: '3' }), original), { max_catchup_runs: 3 });
  assert.deepEqual(changes(bodyOf({ ...loaded, starting_deadline_seconds: '  ' }), original), { starting_deadline_seconds: null });
  assert.deepEqual(changes(bodyOf({ ...loaded, estimated_duration_seconds: '30' }), original), { estimated_duration_seconds: 30 });
  assert.deepEqual(changes(bodyOf({ ...loaded, mutex_group: '' }), original), { mutex_group: null });
  assert.deepEqual(changes(bodyOf({ ...loaded, timezone: '' }), original), { timezone: null });
  assert.deepEqual(changes(bodyOf({ ...loaded, env: 'A=1\nB=3' }), original), { env: { A: '1', B: '3' } });
  assert.deepEqual(changes(bodyOf({ ...loaded, env: 'B=2\nA=1\n' }), original), {}, 'the same variables in another order are no change');
  assert.deepEqual(changes(bodyOf({ ...loaded, env: '' }), original), { env: {} });
  assert.deepEqual(changes(bodyOf({ ...loaded, node_selector: '' }), original), { node_selector: {} });
  assert.deepEqual(changes(bodyOf({ ...loaded, alert_emails: '' }), original), { alert_emails: [] });
  assert.deepEqual(changes(bodyOf({ ...loaded, retry_on_memory: true, requires_mode: 'wait' }), original), { retry_on_memory: true, requires_mode: 'wait' });
  assert.deepEqual(changes(bodyOf({ ...loaded, cpu_weight: '1.0' }), original), {}, '1.0 is the 1 it was');
  // What an edit sends, the server takes.
  validateJobPatch(changes(bodyOf({ ...loaded, starting_deadline_seconds: '', mutex_group: '', env: 'X=1', pinned_node: 'n1' }), original));
});

test('a script job on edit: its type is sent when changed, and never as "not set"', async () => {
  const job = await register({ name: 'report', schedule: '@daily', script_path: '/opt/report.php', script_type: 'php' });
  const loaded = initialState(job);
  assert.equal(loaded.kind, 'script');
  assert.deepEqual(changes(bodyOf({ ...loaded, script_type: 'python' }), toBody(loaded).body), { script_type: 'python' });
  assert.ok(!('script_type' in bodyOf({ ...loaded, script_type: '' })));
  assert.ok(!('script_type' in bodyOf({ ...loaded, kind: 'command', command: 'true' })), 'a command has no script type');
});

test('environment lines: NAME=value, each name once, names as the schema has them', () => {
  assert.deepEqual(parseEnv('A=1\r\nB_2=x=y\n\n  C= spaced \nD='), { value: { A: '1', B_2: 'x=y', C: ' spaced ', D: '' } });
  assert.deepEqual(parseEnv(''), { value: {} });
  assert.deepEqual(parseEnv('A=1\nJUST_A_NAME'), { error: 'line 2: "JUST_A_NAME" has no "=": expected NAME=value' });
  assert.deepEqual(parseEnv('=1'), { error: 'line 1: nothing before "=": expected NAME=value' });
  assert.deepEqual(parseEnv('1ST=x'), { error: 'line 1: "1ST" is not an environment variable name (letters, digits and _, not starting with a digit)' });
  assert.match((parseEnv('MY-VAR=x') as { error: string }).error, /"MY-VAR" is not an environment variable name/);
  assert.deepEqual(parseEnv('A=1\nB=2\nA=3'), { error: 'line 3: A is set twice (also on line 1): expected each NAME once' });
  assert.equal(errorOf(fresh({ env: 'FOO' }), 'env'), 'line 1: "FOO" has no "=": expected NAME=value');
});

test('node selector lines: label=value with labels as the schema has them', () => {
  assert.deepEqual(parseNodeSelector('disk=ssd\nexample.com/zone=eu-1'), { value: { disk: 'ssd', 'example.com/zone': 'eu-1' } });
  assert.deepEqual(parseNodeSelector('gpu'), { error: 'line 1: "gpu" has no "=": expected label=value' });
  assert.match((parseNodeSelector('-x=1') as { error: string }).error, /^line 1: "-x" is not a node label \(letters, digits and \. _ \/ -/);
  assert.match((parseNodeSelector(`${'a'.repeat(64)}=1`) as { error: string }).error, /is not a node label.*at most 63 characters/);
  assert.equal(errorOf(fresh({ node_selector: 'disk=ssd\ndisk=hdd' }), 'node_selector'), 'line 2: disk is set twice (also on line 1): expected each label once');
});

test('alert emails: separated by commas, spaces or lines; each name@host', () => {
  assert.deepEqual(parseEmails(' a@x.org,b@y.org;\nc@z '), { value: ['a@x.org', 'b@y.org', 'c@z'] });
  assert.deepEqual(parseEmails(''), { value: [] });
  assert.deepEqual(parseEmails('a@x.org, bob'), { error: '"bob" is not an email address: expected name@host' });
  assert.equal(errorOf(fresh({ alert_emails: 'ops@@x' }), 'alert_emails'), '"ops@@x" is not an email address: expected name@host');
});

test('numbers: whole where the schema says integer, within its bounds, empty only where it may be null', () => {
  const n = NUMBERS;
  assert.deepEqual(parseNumber(' 12 ', n.max_catchup_runs!), { value: 12 });
  assert.deepEqual(parseNumber('1.5', n.max_catchup_runs!), { error: '"1.5" is not a whole number: expected a whole number from 1 to 10000' });
  assert.deepEqual(parseNumber('0', n.max_catchup_runs!), { error: '0 is too small: expected a whole number from 1 to 10000' });
  assert.deepEqual(parseNumber('10001', n.max_catchup_runs!), { error: '10001 is too large: expected a whole number from 1 to 10000' });
  assert.deepEqual(parseNumber('', n.max_catchup_runs!), { error: 'empty: expected a whole number from 1 to 10000' });
  assert.deepEqual(parseNumber('ten', n.circuit_cooldown_seconds!), { error: '"ten" is not a number: expected whole seconds, at least 1' });
  assert.deepEqual(parseNumber('0x10', n.requires_wait_seconds!), { error: '"0x10" is not a number: expected whole seconds, 0 or more' });
  assert.deepEqual(parseNumber('', n.starting_deadline_seconds!), { value: null });
  assert.deepEqual(parseNumber('0', n.missed_grace_seconds!), { value: 0 });
  assert.deepEqual(parseNumber('-1', n.missed_grace_seconds!), { error: "-1 is too small: expected whole seconds, 0 or more (empty: the daemon's default)" });
  assert.deepEqual(parseNumber('0', n.estimated_duration_seconds!), { error: '0 is too small: expected seconds above 0, at most 604800 (7 days; empty: not stated)' });
  assert.deepEqual(parseNumber('0.5', n.estimated_duration_seconds!), { value: 0.5 });
  assert.deepEqual(parseNumber('100.5', n.cpu_weight!), { error: '100.5 is too large: expected a number from 0 to 100' });
  assert.deepEqual(parseNumber('0.25', n.memory_weight!), { value: 0.25 });
  assert.match(errorOf(fresh({ consecutive_failure_threshold: '2.5' }), 'consecutive_failure_threshold'), /not a whole number: expected a whole number from 1 to 1000/);
  assert.match(errorOf(fresh({ estimated_cpu_percent: '150' }), 'estimated_cpu_percent'), /150 is too large: expected a percentage from 0 to 100/);
  assert.match(errorOf(fresh({ starting_deadline_seconds: '0' }), 'starting_deadline_seconds'), /0 is too small: expected whole seconds, at least 1/);
  // Every integer the schema has is checked as whole, every bound as the schema's.
  for (const [k, spec] of Object.entries(n)) {
    const schema = JSON.stringify((JobFields as Record<string, unknown>)[k]);
    assert.equal(Boolean(spec.whole), schema.includes('"integer"'), `${k}: whole number as in the schema`);
  }
});

test('other text settings: a user name and a mutex group as the schema takes them', () => {
  assert.match(errorOf(fresh({ run_as_user: 'Root' }), 'run_as_user'), /"Root" is not a user name: expected lowercase letters/);
  assert.match(errorOf(fresh({ mutex_group: 'g'.repeat(101) }), 'mutex_group'), /101 characters is too long: expected a group name of at most 100 characters/);
  assert.equal(bodyOf(fresh({ working_dir: '   ' })).working_dir, null);
});

test("the API's errors about the new settings land at their inputs, in their sections", () => {
  const cases: [unknown, string, string][] = [
    [{ env: { '1BAD': 'x' } }, 'env', 'environment'],
    [{ node_selector: { '-x': 'y' } }, 'node_selector', 'placement'],
    [{ alert_emails: ['ok@x', 'nope'] }, 'alert_emails', 'alerting'],
    [{ max_catchup_runs: 0 }, 'max_catchup_runs', 'catchup'],
    [{ cpu_weight: 101 }, 'cpu_weight', 'cost'],
    [{ circuit_cooldown_seconds: 1.5 }, 'circuit_cooldown_seconds', 'retries'],
    [{ requires_mode: 'later' }, 'requires_mode', 'coordination'],
    [{ run_as_user: 'Root' }, 'run_as_user', 'environment'],
  ];
  for (const [patch, field, section] of cases) {
    let apiField: string | undefined;
    try {
      validateJobPatch(patch);
    } catch (e) {
      apiField = (e as { field?: string }).field;
    }
    assert.ok(apiField, `the server refuses ${JSON.stringify(patch)}`);
    assert.equal(formField(apiField!), field, `${apiField} is shown at ${field}`);
    assert.ok(FIELDS.has(field), `${field} has an input`);
    assert.equal(sectionOf(field), section, `${field} is in ${section}, which opens for the error`);
  }
  assert.equal(formField('env.FOO'), 'env');
  assert.equal(formField('node_selector.kubernetes.io/arch'), 'node_selector');
  assert.equal(formField('alert_emails.0'), 'alert_emails');
  assert.equal(sectionOf('schedule'), undefined, 'the common settings are never folded');
});
