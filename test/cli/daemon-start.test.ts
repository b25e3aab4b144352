/**
 * A daemon that cannot start (its port is taken) leaves no node "up" behind it: `nodes` agrees
 * with `status` that no daemon runs, as after a clean stop.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { describe as show, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test('a daemon whose port is in use fails, and its node is marked stopped', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const g = ['--home', tempDir('smart-cron-start-'), '--node-id', 'n-busy'];
    const d = await runCli([...g, 'daemon', '--host', '127.0.0.1', '--port', String(port)]);
    assert.notEqual(d.code, 0, show(d));
    assert.match(d.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`), show(d));
    const status = await runCli([...g, '--json', 'status']);
    assert.equal(JSON.parse(status.stdout).running, false, show(status));
    const nodes = await runCli([...g, '--json', 'nodes']);
    assert.equal(nodes.code, 0, show(nodes));
    assert.deepEqual(JSON.parse(nodes.stdout).map((n: { id: string; status: string }) => [n.id, n.status]), [['n-busy', 'stopped']], show(nodes));
  } finally {
    busy.close();
  }
});
