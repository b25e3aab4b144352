/**
 * Discovered scripts run as their authors wrote them: through their interpreter line (a
 * virtualenv's python, `bash -e`, `env -S node --flag`), executed directly when executable, and
 * through their type's interpreter only when they have no such line (PHP, mostly). Real scripts,
 * discovered and run with the real CLI, no daemon (the run goes through the same runner).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { argvForScript } from '../../src/execution/shim.js';
import { describe, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test('discovered scripts run through their interpreter line, as the kernel would run them', { timeout: 240_000 }, async () => {
  const dir = tempDir('smart-cron-shebang-');
  const scripts = join(dir, 'scripts');
  const home = join(dir, 'home');
  const put = (rel: string, text: string, mode = 0o644) => {
    mkdirSync(join(scripts, rel, '..'), { recursive: true });
    writeFileSync(join(scripts, rel), text);
    chmodSync(join(scripts, rel), mode);
  };
  // A virtualenv's python: a stand-in that says it was the one run, with what.
  put('.venv/bin/python', '#!/bin/sh\necho "venv python ran $1"\n', 0o755);
  put('sync.py', `#!${join(scripts, '.venv/bin/python')}\n# Syncs the users.\nprint("system python ran")\n`, 0o755);
  // Not executable: its line's program runs it, with the line's argument (-e stops at `false`).
  put('errexit.sh', '#!/bin/bash -e\n# Checks errexit.\nfalse\necho "went on after false"\n');
  put('nodeflags.js', '#!/usr/bin/env -S node --max-old-space-size=64\n// Prints its flags.\nconsole.log("flags:", process.execArgv.join(" "))\n');
  // No interpreter line: the type's interpreter.
  put('plain.sh', '# Says hello.\necho "plain ran under $0"\n');

  const cli = (...args: string[]) => runCli(['--home', home, ...args]);
  const found = await cli('discover', scripts);
  assert.equal(found.code, 0, describe(found));

  const sync = await cli('run', 'sync', '--wait');
  assert.equal(sync.code, 0, describe(sync));
  assert.match(sync.stdout, /venv python ran .*sync\.py/);
  assert.doesNotMatch(sync.stdout, /system python ran/);

  const errexit = await cli('run', 'errexit', '--wait');
  assert.equal(errexit.code, 1, describe(errexit));
  assert.match(errexit.stdout, /failed \(exit 1\)/);
  assert.doesNotMatch(errexit.stdout, /went on after false/);

  const flags = await cli('run', 'nodeflags', '--wait');
  assert.equal(flags.code, 0, describe(flags));
  assert.match(flags.stdout, /flags: --max-old-space-size=64/);

  const plain = await cli('run', 'plain', '--wait');
  assert.equal(plain.code, 0, describe(plain));
  assert.match(plain.stdout, /plain ran under .*plain\.sh/);
});

test('argv for a script: the interpreter line split as Linux does; the type without one', () => {
  const dir = tempDir('smart-cron-shebang-argv-');
  const file = (name: string, text: string, mode = 0o644) => {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), mode);
    return join(dir, name);
  };
  const cases: [string, string, number, string | null, (p: string) => string[]][] = [
    ['executable', '#!/bin/sh\n', 0o755, 'bash', (p) => [p]],
    ['one argument', '#!/bin/bash -e -u\n', 0o644, 'bash', (p) => ['/bin/bash', '-e -u', p]],
    ['env -S', '#!/usr/bin/env -S node --flag  \r\n', 0o644, 'node', (p) => ['/usr/bin/env', '-S node --flag', p]],
    ['space after #!', '#! /usr/bin/python3\n', 0o644, 'python', (p) => ['/usr/bin/python3', p]],
    ['php without one', '<?php echo 1;\n', 0o644, 'php', (p) => ['php', p]],
    ['python without one', 'print(1)\n', 0o644, 'python', (p) => ['python3', p]],
    ['empty line', '#!\n', 0o644, 'bash', (p) => ['bash', p]],
  ];
  for (const [label, text, mode, type, want] of cases) {
    const p = file(`${label.replace(/\W/g, '_')}`, text, mode);
    assert.deepEqual(argvForScript(p, type as never), want(p), label);
  }
  assert.deepEqual(argvForScript(join(dir, 'missing.sh'), 'bash'), ['bash', join(dir, 'missing.sh')], 'unreadable: the type');
});
