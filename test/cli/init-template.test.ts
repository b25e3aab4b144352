/**
 * The config.yaml `init` writes: its commented database line, uncommented as it stands, is the
 * home's database (the jobs are all there), and `init --database` still writes its setting in
 * place of that line.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe as show, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test("init's database line, uncommented as is, keeps the home's database and its jobs", { timeout: 300_000 }, async () => {
  const dir = tempDir('smart-cron-template-');
  const home = join(dir, 'home');
  const g = ['--home', home, '--json'];
  assert.equal((await runCli(['--home', home, 'init'])).code, 0);
  const add = await runCli([...g, 'jobs', 'add', 'nightly', '--schedule', '@daily', '--command', 'true']);
  assert.equal(add.code, 0, show(add));

  const configPath = join(home, 'config.yaml');
  const text = readFileSync(configPath, 'utf8');
  assert.match(text, /^# database: /m);
  writeFileSync(configPath, text.replace(/^# database: /m, 'database: '));

  const status = await runCli([...g, 'status']);
  assert.equal(status.code, 0, show(status));
  assert.equal(JSON.parse(status.stdout).jobs, 1, show(status));
  const list = await runCli([...g, 'jobs', 'list']);
  assert.deepEqual(JSON.parse(list.stdout).map((j: { name: string }) => j.name), ['nightly'], show(list));
  assert.ok(!existsSync(join(home, '<home>')) && !existsSync(join(dir, '<home>')) && !existsSync('<home>'), 'no folder named <home>');
});

test('init --database writes the setting in place of the commented line', { timeout: 300_000 }, async () => {
  const dir = tempDir('smart-cron-template-');
  const home = join(dir, 'home');
  const db = join(dir, 'elsewhere.db');
  const r = await runCli(['--home', home, '--database', `sqlite:${db}`, 'init']);
  assert.equal(r.code, 0, show(r));
  const text = readFileSync(join(home, 'config.yaml'), 'utf8');
  assert.equal(text.split('\n')[1], `database: ${JSON.stringify(`sqlite:${db}`)}`, text);
  assert.doesNotMatch(text, /^# database: /m);
  const status = await runCli(['--home', home, '--json', 'status']);
  assert.equal(JSON.parse(status.stdout).database, `sqlite:${db}`, show(status));
});
