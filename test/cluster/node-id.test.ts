/**
 * Two daemons under one node id (two homes on one database, given the same --node-id) would
 * adopt, record and fail over each other's runs: the second is refused while the first runs,
 * and takes the id over once the first is gone (killed with -9: same host, its pid dead).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonStarted, startCliProcess, until, writeHome } from '../fixtures/exec-core/daemon-proc.js';
import { tempDir } from '../helpers/tmp.js';

test('a second daemon under a node id that a live daemon holds is refused, naming it; once that one is killed, the id is free', { timeout: 240_000 }, async () => {
  const dir = tempDir('smart-cron-twin-');
  const db = `sqlite:${join(dir, 'shared.db')}`;
  const homes = ['h1', 'h2'].map((h) => {
    const home = join(dir, h);
    mkdirSync(home);
    writeHome(home, `twin${process.pid}`);
    return home;
  });
  const start = (home: string) => startCliProcess(home, ['--database', db, '--node-id', 'twin', 'daemon', '--no-api']);
  const first = start(homes[0]!);
  try {
    await daemonStarted(first);
    const second = start(homes[1]!);
    const code = await second.exited;
    assert.notEqual(code, 0, second.output());
    assert.match(second.stderr(), new RegExp(`node id "twin" is in use by a running daemon on .+ \\(pid ${first.child.pid}, last heartbeat \\d+s ago\\): give this daemon another --node-id \\(or node.id in config.yaml\\), or stop that one first`));
    first.child.kill('SIGKILL');
    await first.exited;
    const third = start(homes[1]!);
    try {
      await daemonStarted(third);
    } finally {
      third.child.kill('SIGTERM');
      await until('the daemon to stop', async () => third.child.exitCode !== null, 30_000);
    }
  } finally {
    if (first.child.exitCode === null) first.child.kill('SIGKILL');
  }
});
