/**
 * `install-service` through the real CLI: the unit (and the nohup line for hosts without
 * systemd) runs the daemon with the home, database and node id of the command that installed
 * it, however they were given, quoted as systemd reads a command line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe as show, ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Split a systemd command line into words: systemd.syntax(7) "Quoting", then "$$" and "%%" (systemd.service(5)). */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m; (m = re.exec(line)); ) {
    const quoted = m[1] !== undefined;
    let w = quoted ? m[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : m[2]!;
    assert.ok(quoted || !/[\s"'\\]/.test(w), `unquoted word ${w}`);
    assert.ok(!/(^|[^$])\$(\$\$)*[^$]|(^|[^$])\$(\$\$)*$/.test(w), `a lone $ in ${w}: systemd would expand it`);
    w = w.replace(/\$\$/g, '$').replace(/%%/g, '%');
    words.push(w);
  }
  return words;
}

const line = (unit: string, key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

test('the unit carries the home from SMART_CRON_HOME, --database made absolute and --node-id; odd characters survive systemd', async () => {
  const home = join(tempDir('smart-cron-svc-'), 'my home $HOME %h "q" \\x');
  mkdirSync(home);
  const r = await runCli(['--database', 'sqlite:rel dir/jobs.db', '--node-id', 'n-1', 'install-service', '--print'], { env: { SMART_CRON_HOME: home } });
  assert.equal(r.code, 0, show(r));
  const [exec] = line(r.stdout, 'ExecStart');
  assert.ok(exec, r.stdout);
  const argv = systemdWords(exec!);
  assert.deepEqual(argv.slice(2), ['daemon', '--home', home, '--node-id', 'n-1'], exec);
  assert.equal(argv[0], process.execPath);
  assert.ok(existsSync(argv[1]!), `the CLI entry ${argv[1]}`);
  const env = line(r.stdout, 'Environment').map((l) => systemdWords(l.replace(/\$/g, '$$$$'))[0]);
  assert.deepEqual(env, [`SMART_CRON_DATABASE_URL=sqlite:${join(ROOT, 'rel dir/jobs.db')}`]);
});

test('SMART_CRON_DATABASE_URL and SMART_CRON_NODE_ID are carried too; a plain --home is resolved', async () => {
  const r = await runCli(['--home', 'relative-home', 'install-service', '--print'], { env: { SMART_CRON_DATABASE_URL: 'postgres://u:p@db:5432/x', SMART_CRON_NODE_ID: 'n2' } });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(systemdWords(line(r.stdout, 'ExecStart')[0]!).slice(2), ['daemon', '--home', join(ROOT, 'relative-home'), '--node-id', 'n2']);
  assert.deepEqual(line(r.stdout, 'Environment'), ['"SMART_CRON_DATABASE_URL=postgres://u:p@db:5432/x"']);
});

test('without systemd: the unit is written and the nohup line uses the real home, shell-quoted', { skip: existsSync('/run/systemd/system') && 'systemd runs here: the command would enable a real service' }, async () => {
  const user = tempDir('smart-cron-svc-user-');
  const home = join(user, "it's home");
  const r = await runCli(['install-service', '--user'], { env: { HOME: user, SMART_CRON_HOME: home } });
  assert.equal(r.code, 0, show(r));
  const unit = readFileSync(join(user, '.config/systemd/user/smart-cron.service'), 'utf8');
  assert.deepEqual(systemdWords(line(unit, 'ExecStart')[0]!).slice(2), ['daemon', '--home', home]);
  const q = `'${user}/it'\\''s home'`;
  assert.ok(r.stdout.includes(`daemon --home ${q} >> '${user}/it'\\''s home/daemon.log' 2>&1 &`), r.stdout);
  assert.ok(!r.stdout.includes('~/.smart-cron'), r.stdout);
});
