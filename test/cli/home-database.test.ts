/**
 * Where the CLI finds its home and its database, through the real CLI run from different
 * directories: config.yaml's relative SQLite path is the home's, `~/` is expanded, an empty
 * SMART_CRON_HOME is unset and `--home ""` refused, an unreadable config.yaml is an error
 * naming it, and a read-only command creates no folder outside the home.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describe as show, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** The CLI from the sources, started in `cwd` (test/helpers/cli.ts always starts it in the repository). */
function cliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, args }));
  });
}

const ok = (r: CliResult) => (assert.equal(r.code, 0, show(r)), r);
const refused = (r: CliResult, re: RegExp) => (assert.equal(r.code, 2, show(r)), assert.match(r.stderr, re, show(r)), r);

test("config.yaml's relative SQLite path is the home's, from any directory; ~/ is the user's home", async () => {
  const home = tempDir('smart-cron-home-');
  const elsewhere = tempDir('smart-cron-cwd-');
  writeFileSync(join(home, 'config.yaml'), 'database: sqlite:data/jobs.db\n');
  mkdirSync(join(home, 'data'));
  ok(await cliIn(elsewhere, ['--home', home, 'jobs', 'add', 'one', '--schedule', '@daily', '--command', 'true']));
  assert.ok(existsSync(join(home, 'data/jobs.db')));
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing in the current directory');
  // Another directory (a daemon under systemd starts in /) sees the same job.
  const status = ok(await cliIn('/', ['--home', home, '--json', 'status']));
  assert.equal(JSON.parse(status.stdout).database, `sqlite:${join(home, 'data/jobs.db')}`);
  assert.equal(JSON.parse(status.stdout).jobs, 1);

  // --database typed by a person is the current directory's (a command that registers a job makes it).
  ok(await cliIn(elsewhere, ['--home', home, '--database', 'sqlite:typed.db', 'jobs', 'add', 'two', '--schedule', '@daily', '--command', 'true']));
  assert.ok(existsSync(join(elsewhere, 'typed.db')));
  ok(await cliIn(elsewhere, ['--home', home, '--database', 'sqlite:typed.db', 'status']));

  const user = tempDir('smart-cron-user-');
  writeFileSync(join(home, 'config.yaml'), 'database: sqlite:~/tilde.db\n');
  const tilde = ok(await cliIn(elsewhere, ['--home', home, '--json', 'status'], { HOME: user }));
  assert.equal(JSON.parse(tilde.stdout).database, `sqlite:${join(user, 'tilde.db')}`);
  assert.ok(existsSync(join(user, 'tilde.db')));
  assert.ok(!existsSync(join(home, '~')) && !existsSync(join(elsewhere, '~')), 'no folder named ~');
});

test('an empty SMART_CRON_HOME is unset; --home "" is refused; neither makes the current directory a home', async () => {
  const user = tempDir('smart-cron-user-');
  const cwd = tempDir('smart-cron-cwd-');
  // The default home, which does not exist yet: status says so (and makes none).
  refused(await cliIn(cwd, ['--json', 'status'], { HOME: user, SMART_CRON_HOME: '' }), new RegExp(`no smart-cron home at ${join(user, '.smart-cron')} `));
  assert.ok(!existsSync(join(user, '.smart-cron')));
  refused(await cliIn(cwd, ['--home', '', 'status'], { HOME: user }), /--home: an empty path/);
  assert.deepEqual(readdirSync(cwd), []);
});

test('a config.yaml that is a directory or a link to nowhere is an error naming it (exit 2)', async () => {
  const cwd = tempDir('smart-cron-cwd-');
  const dir = tempDir('smart-cron-home-');
  mkdirSync(join(dir, 'config.yaml'));
  const r = refused(await cliIn(cwd, ['--home', dir, 'status']), /config\.yaml: a directory \(expected a YAML file/);
  assert.ok(r.stderr.includes(join(dir, 'config.yaml')), show(r));
  assert.doesNotMatch(r.stderr, /EISDIR/);

  const link = tempDir('smart-cron-home-');
  symlinkSync(join(link, 'gone.yaml'), join(link, 'config.yaml'));
  const l = refused(await cliIn(cwd, ['--home', link, 'status']), /a symbolic link to .*gone\.yaml, which does not exist/);
  assert.ok(l.stderr.includes(join(link, 'config.yaml')), show(l));
  assert.ok(!existsSync(join(link, 'smart-cron.db')), 'not run on the defaults');
});

test('a read-only command creates no database folder outside the home', async () => {
  const cwd = tempDir('smart-cron-cwd-');
  const home = tempDir('smart-cron-home-');
  const missing = join(tempDir('smart-cron-outside-'), 'nonexistent/dir');
  refused(await cliIn(cwd, ['--home', home, '--database', join(missing, 'x.db'), 'jobs', 'add', 'x', '--schedule', '@daily', '--command', 'true']), new RegExp(`database folder ${missing} does not exist`));
  refused(await cliIn(cwd, ['--home', home, '--database', join(missing, 'x.db'), 'status']), new RegExp(`--database: no SQLite database at ${join(missing, 'x.db')}`));
  assert.ok(!existsSync(missing));
  // A home that is not there (a typo?) is not made up by a command that only reads.
  for (const args of [['status'], ['doctor'], ['jobs', 'list'], ['history']]) {
    refused(await cliIn(cwd, ['--home', join(home, 'fresh'), ...args]), new RegExp(`no smart-cron home at ${join(home, 'fresh')} \\(expected one made by \`smart-cron init\``));
  }
  assert.ok(!existsSync(join(home, 'fresh')));
  // A command that would make it but fails (a bad job) leaves no home behind: a mistake changes nothing.
  refused(await cliIn(cwd, ['--home', join(home, 'fresh'), 'jobs', 'add', 'x', '--schedule', 'bad', '--command', 'true']), /schedule/);
  assert.ok(!existsSync(join(home, 'fresh')), 'the home made for the failed command is gone again');
  // A SQLite file named for a command that only reads must be there too (a typo is no empty database).
  const typo = join(home, 'typo.db');
  refused(await cliIn(cwd, ['--home', home, '--database', `sqlite:${typo}`, 'jobs', 'list']), new RegExp(`--database: no SQLite database at ${typo}`));
  assert.ok(!existsSync(typo));
  // A command that registers a job makes it, as init does (0700, config, token).
  ok(await cliIn(cwd, ['--home', join(home, 'fresh'), 'jobs', 'add', 'first', '--schedule', '@daily', '--command', 'true']));
  assert.equal(statSync(join(home, 'fresh')).mode & 0o777, 0o700);
  for (const f of ['config.yaml', 'api-token', 'smart-cron.db']) assert.ok(existsSync(join(home, 'fresh', f)), f);
  ok(await cliIn(cwd, ['--home', join(home, 'fresh'), 'status']));
});
