import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { CONFIG_TEMPLATE } from '../../src/daemon/home.js';
import { alertSettingsProblems, loadConfig, resolveHome } from '../../src/config/load.js';
import { DEFAULT_SLOTS } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

function pick(o: object, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));
}

function home(configText?: string): string {
  const dir = tempDir('smart-cron-config-');
  if (configText !== undefined) writeFileSync(join(dir, 'config.yaml'), configText);
  return dir;
}

test('defaults: the seed slot budgets exactly, and every documented default', () => {
  const h = home();
  const c = loadConfig({ home: h, env: {} });
  assert.deepEqual(c.slots, {
    default: { max_concurrent_jobs: 5, max_memory_mb: 3072, max_cpu_percent: 80 },
    heavy: { max_concurrent_jobs: 2, max_memory_mb: 4096, max_cpu_percent: 90 },
    light: { max_concurrent_jobs: 10, max_memory_mb: 1024, max_cpu_percent: 50 },
  });
  // The documented keys (sections may grow more keys; these must keep their defaults).
  assert.deepEqual(pick(c.api, ['host', 'port']), { host: '127.0.0.1', port: 7420 });
  assert.deepEqual(pick(c.host, ['reserve_mb', 'psi_veto']), { reserve_mb: 'auto', psi_veto: 10 });
  assert.deepEqual(pick(c.alerts.email, ['smtp_url', 'from', 'to']), { smtp_url: 'smtp://127.0.0.1:25', from: 'smart-cron@localhost', to: [] });
  assert.deepEqual(c.alerts.webhooks, []);
  assert.deepEqual(pick(c.retention, ['history_days', 'max_runs_per_job']), { history_days: 90, max_runs_per_job: 10000 });
  assert.equal(c.database, `sqlite:${join(h, 'smart-cron.db')}`);
  assert.equal(c.tokenPath, join(h, 'api-token'));
  assert.equal(c.configPath, join(h, 'config.yaml'));
  // An empty file and a file of comments are the defaults too.
  assert.deepEqual(loadConfig({ home: home(''), env: {} }).slots, DEFAULT_SLOTS);
  assert.deepEqual(loadConfig({ home: home('# nothing\n'), env: {} }).api.port, 7420);
});

test('the defaults are not shared between loads (no aliasing of the default objects)', () => {
  const a = loadConfig({ home: home(), env: {} });
  a.slots.default!.max_concurrent_jobs = 99;
  const b = loadConfig({ home: home(), env: {} });
  assert.equal(b.slots.default!.max_concurrent_jobs, 5);
  assert.equal(DEFAULT_SLOTS.default!.max_concurrent_jobs, 5);
});

test('reserve_mb: auto is max(10 % of RAM, 1024); a number is taken as is', () => {
  const totalMb = totalmem() / 1024 / 1024;
  assert.equal(loadConfig({ home: home(), env: {} }).reserveMb, Math.max(0.1 * totalMb, 1024));
  assert.equal(loadConfig({ home: home('host: { reserve_mb: auto }'), env: {} }).reserveMb, Math.max(0.1 * totalMb, 1024));
  assert.equal(loadConfig({ home: home('host: { reserve_mb: 2048 }'), env: {} }).reserveMb, 2048);
  assert.equal(loadConfig({ home: home('host: { reserve_mb: 0 }'), env: {} }).reserveMb, 0);
});

test('home: --home flag, else SMART_CRON_HOME, else ~/.smart-cron', () => {
  assert.equal(resolveHome({ home: '/flag/home', env: { SMART_CRON_HOME: '/env/home' } }), '/flag/home');
  assert.equal(resolveHome({ env: { SMART_CRON_HOME: '/env/home' } }), '/env/home');
  assert.equal(resolveHome({ env: {} }), join(homedir(), '.smart-cron'));
  assert.equal(resolveHome({ home: 'rel/dir', env: {} }), resolve('rel/dir'), 'relative to the working directory');
  const h = home();
  assert.equal(loadConfig({ env: { SMART_CRON_HOME: h } }).home, h);
});

test('database URL: --database flag, else SMART_CRON_DATABASE_URL, else config.yaml, else SQLite in the home', () => {
  const h = home('database: postgres://file@db/x\n');
  const env = { SMART_CRON_DATABASE_URL: 'postgres://env@db/x' };
  assert.equal(loadConfig({ home: h, database: 'sqlite:/flag.db', env }).database, 'sqlite:/flag.db');
  assert.equal(loadConfig({ home: h, env }).database, 'postgres://env@db/x');
  assert.equal(loadConfig({ home: h, env: {} }).database, 'postgres://file@db/x');
  const bare = home();
  assert.equal(loadConfig({ home: bare, env: {} }).database, `sqlite:${join(bare, 'smart-cron.db')}`);
});

test('node id: flag, else SMART_CRON_NODE_ID; a bad one is refused naming it', () => {
  assert.equal(loadConfig({ home: home(), nodeId: 'n1', env: { SMART_CRON_NODE_ID: 'n2' } }).nodeId, 'n1');
  assert.equal(loadConfig({ home: home(), env: { SMART_CRON_NODE_ID: 'n2' } }).nodeId, 'n2');
  assert.throws(() => loadConfig({ home: home(), nodeId: 'bad id!', env: {} }), /node id "bad id!" is invalid/);
});

test('slots: a custom slot is added to the seed slots, which stay (auto picks light/default/heavy)', () => {
  const c = loadConfig({ home: home('slots:\n  reports: { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 25 }\n'), env: {} });
  assert.deepEqual(c.slots.reports, { max_concurrent_jobs: 1, max_memory_mb: 512, max_cpu_percent: 25 });
  for (const s of ['default', 'heavy', 'light']) assert.deepEqual(c.slots[s], DEFAULT_SLOTS[s], `slot ${s} is still there`);
});

/**
 * Bad config files: each message names the file, the field, the value and what was expected.
 * [label, file text, field, pieces the message must contain]
 */
const BAD: [string, string, string, (string | RegExp)[]][] = [
  ['YAML syntax error', 'api: {host: 127.0.0.1\nport: 7420\n', 'config.yaml', [/config\.yaml:2:\d+: not valid YAML/]],
  ['YAML bad indentation', 'api:\n  host: 127.0.0.1\n   port: [\n', 'config.yaml', [/config\.yaml:2:\d+: not valid YAML/]],
  ['unknown key with a did-you-mean', 'api:\n  prot: 7420\n', 'api.prot', ['unknown setting "api.prot"', 'did you mean "port"?']],
  ['unknown top-level key', 'slot:\n  default: {}\n', 'slot', ['unknown setting "slot"', 'did you mean "slots"?']],
  ['unknown key in a slot (a map of slots)', 'slots:\n  default: { max_concurent_jobs: 5 }\n', 'slots.default.max_concurent_jobs', ['unknown setting "slots.default.max_concurent_jobs"', 'did you mean "max_concurrent_jobs"?']],
  ['unknown key in a list item', 'alerts:\n  webhooks: [{ url: "http://x", fromat: json }]\n', 'alerts.webhooks.0.fromat', ['unknown setting "alerts.webhooks.0.fromat"', 'did you mean "format"?']],
  ['wrong type', 'api:\n  port: high\n', 'api.port', ['api.port = "high"', 'expected a whole number from 0 to 65535']],
  ['out of range (max)', 'api:\n  port: 70000\n', 'api.port', ['api.port = 70000', 'expected a whole number from 0 to 65535']],
  ['out of range (min)', 'slots:\n  heavy: { max_concurrent_jobs: 0, max_memory_mb: 1, max_cpu_percent: 5 }\n', 'slots.heavy.max_concurrent_jobs', ['slots.heavy.max_concurrent_jobs = 0', 'expected a whole number from 1 to 10000']],
  ['cpu above 100 %', 'slots:\n  light: { max_concurrent_jobs: 1, max_memory_mb: 1, max_cpu_percent: 150 }\n', 'slots.light.max_cpu_percent', ['= 150', 'expected a number > 0 and <= 100']],
  ['bad enum', 'execution:\n  enforcement: cgroups\n', 'execution.enforcement', ['execution.enforcement = "cgroups"', '"cgroup2"', '"portable"']],
  ['bad enum in a list', 'alerts:\n  webhooks: [{ url: "http://x", format: xml }]\n', 'alerts.webhooks.0.format', ['= "xml"', '"json" or "slack"']],
  ['reserve_mb neither auto nor a number', 'host:\n  reserve_mb: lots\n', 'host.reserve_mb', ['host.reserve_mb = "lots"', '"auto"', 'number']],
  ['not a mapping', '- a\n- b\n', 'config.yaml', ['expected a mapping of settings at the top level, got a list']],
  ['retention zero', 'retention:\n  history_days: 0\n', 'retention.history_days', ['retention.history_days = 0', 'expected a number > 0 and <= 36500']],
  ['an http URL for SMTP', 'alerts:\n  email: { smtp_url: "http://x" }\n', 'alerts.email.smtp_url', ['alerts.email.smtp_url = "http://x"', 'an smtp:// or smtps:// URL']],
  ['a recipient that is no address', 'alerts:\n  email: { to: [ops@example.com, not-an-email] }\n', 'alerts.email.to.1', ['alerts.email.to.1 = "not-an-email"', 'an email address (name@host)']],
  ['an SMTP URL that is no URL (two ports)', 'alerts:\n  email: { smtp_url: "smtp://127.0.0.1:58456:99" }\n', 'alerts.email.smtp_url', ['alerts.email.smtp_url = "smtp://127.0.0.1:58456:99"', 'expected an smtp:// or smtps:// URL with a host']],
  ['an SMTP URL without a host (its password not shown)', 'alerts:\n  email: { smtp_url: "smtp://mailer:hunter2@:25" }\n', 'alerts.email.smtp_url', ['"smtp://mailer:***@:25"', 'such as smtp://mail.example.org:587']],
  ['an SMTP port out of range', 'alerts:\n  email: { smtp_url: "smtps://mail.example.org:99999" }\n', 'alerts.email.smtp_url', ['alerts.email.smtp_url = "smtps://mail.example.org:99999"']],
  ['a webhook URL with a password that fails its pattern: the password not shown', 'alerts:\n  email: { smtp_url: "http://mailer:hunter2@mail.example.org" }\n', 'alerts.email.smtp_url', ['"http://mailer:***@mail.example.org/"', 'an smtp:// or smtps:// URL']],
  ['a slot budget under 1 MB', 'slots:\n  default: { max_memory_mb: 0.5 }\n', 'slots.default.max_memory_mb', ['slots.default.max_memory_mb = 0.5', 'expected a number >= 1']],
];

for (const [label, text, field, pieces] of BAD) {
  test(`bad config: ${label} -> one message with the file, field, value and expectation`, () => {
    const h = home(text);
    const path = join(h, 'config.yaml');
    assert.throws(
      () => loadConfig({ home: h, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
        assert.ok(e.message.startsWith(path), `names the file: ${e.message}`);
        assert.equal(e.field, field);
        for (const p of pieces) {
          if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" should contain ${JSON.stringify(p)}`);
          else assert.match(e.message, p);
        }
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      },
    );
  });
}

test('an empty section (its settings all commented out) is its defaults, in every section alike', () => {
  const defaults = loadConfig({ home: home(), env: {} });
  const strip = (c: ReturnType<typeof loadConfig>) => ({ ...c, home: '', configPath: '', database: '', tokenPath: '', runsDir: '' });
  for (const text of [
    'alerts:\n  # email:\n  #   smtp_url: smtp://mail.example.org:587\n',
    'alerts:\n  email:\n  webhooks:\n',
    'api:\nhost:\nslots:\nexecution:\nnode:\n  labels:\nretention:\n',
    'database:\napi:\n  port:\n',
  ]) {
    assert.deepEqual(strip(loadConfig({ home: home(text), env: {} })), strip(defaults), JSON.stringify(text));
  }
  // An empty entry of a map is not a setting left out: a slot needs its budget.
  assert.throws(() => loadConfig({ home: home('slots:\n  nightly:\n'), env: {} }), (e: unknown) => e instanceof ConfigError && e.field === 'slots.nightly');
});

test("alerts.email.password_file: a relative path is the home's; one that cannot be read is a problem to report, not a load error", () => {
  const h = home('alerts:\n  email: { password_file: secrets/smtp }\n');
  const c = loadConfig({ home: h, env: {} });
  assert.equal(c.alerts.email.password_file, join(h, 'secrets/smtp'));
  assert.deepEqual(alertSettingsProblems(c.alerts), [`alerts.email.password_file: cannot read ${join(h, 'secrets/smtp')} (ENOENT): alert mails will fail until it can be read`]);
  mkdirSync(join(h, 'secrets'));
  writeFileSync(join(h, 'secrets/smtp'), 'hunter2\n');
  assert.deepEqual(alertSettingsProblems(c.alerts), []);
  assert.deepEqual(alertSettingsProblems(loadConfig({ home: home(), env: {} }).alerts), []);
});

test('bad config: a slot name that breaks the naming rule is refused', () => {
  assert.throws(
    () => loadConfig({ home: home('slots:\n  Heavy: { max_concurrent_jobs: 3, max_memory_mb: 1, max_cpu_percent: 5 }\n'), env: {} }),
    (e: unknown) => e instanceof ConfigError && /Heavy/.test(e.message),
  );
});

test('a config.yaml that cannot be read is reported, not ignored', () => {
  const h = home();
  mkdirSync(join(h, 'config.yaml'));
  assert.throws(() => loadConfig({ home: h, env: {} }));
});

test('home: an empty SMART_CRON_HOME is unset; an empty --home is refused', () => {
  assert.equal(resolveHome({ env: { SMART_CRON_HOME: '' } }), join(homedir(), '.smart-cron'));
  assert.throws(() => resolveHome({ home: '', env: {} }), (e: unknown) => e instanceof ConfigError && /--home: an empty path/.test(e.message));
});

test("database: config.yaml's relative SQLite path is the home's; a flag's is the current directory's", () => {
  const h = home('database: sqlite:jobs.db\n');
  assert.equal(loadConfig({ home: h, env: {} }).database, `sqlite:${join(h, 'jobs.db')}`);
  assert.equal(loadConfig({ home: h, database: 'sqlite:jobs.db', env: {} }).database, 'sqlite:jobs.db');
  assert.equal(loadConfig({ home: home('database: sqlite:~/x.db\n'), env: {} }).database, `sqlite:${join(homedir(), 'x.db')}`);
});

test('the config.yaml init writes: its commented values, taken as they stand, are the defaults', () => {
  // Every commented setting, uncommented: the database line too (it names the home's database).
  const text = CONFIG_TEMPLATE.split('\n')
    .filter((l) => l.startsWith('# ') && !l.startsWith('# smart-cron'))
    .map((l) => l.slice(2))
    .join('\n');
  assert.match(text, /^database: /m);
  const h = home(text);
  const fromTemplate = loadConfig({ home: h });
  assert.equal(fromTemplate.database, `sqlite:${join(h, 'smart-cron.db')}`, 'the home\'s own database, as with no database line');
  const defaults = loadConfig({ home: home() });
  const strip = (c: ReturnType<typeof loadConfig>) => ({ ...c, home: '', configPath: '', database: '', tokenPath: '', runsDir: '' });
  assert.deepEqual(strip(fromTemplate), strip(defaults));
});

test("database: sqlite:<home>/… as the README writes it is the home's file, not a folder named <home>", () => {
  const h = home('database: sqlite:<home>/smart-cron.db\n');
  assert.equal(loadConfig({ home: h, env: {} }).database, `sqlite:${join(h, 'smart-cron.db')}`);
});
