/**
 * Changes made beside the daemon reach its open dashboards: on SQLite the daemon notices another
 * process's commit (PRAGMA data_version) and tells its event stream to reload; its own writes do
 * not. A real daemon in this process with its API, and the real CLI in a child process.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon } from '../../src/daemon/daemon.js';
import { describe, runCli } from '../helpers/cli.js';
import { until } from '../fixtures/exec-core/daemon-proc.js';
import { tempDir } from '../helpers/tmp.js';

test('SQLite: the CLI’s change has open dashboards reload; the daemon’s own writes do not', { timeout: 180_000 }, async () => {
  const home = join(tempDir('smart-cron-outside-'), 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'config.yaml'), 'host: { psi_veto: 0 }\nexecution: { enforcement: portable }\n');
  const d = await startDaemon({ home, listen: { host: '127.0.0.1', port: 0 }, log: () => {} });
  const auth = { authorization: `Bearer ${readFileSync(join(home, 'api-token'), 'utf8').trim()}` };
  const ac = new AbortController();
  let text = '';
  try {
    await d.app.jobs.registerJob({ name: 'hello', schedule: '@yearly', timezone: 'UTC', command: ['echo', 'hi'] } as never, { source: 'manual', byUser: true });
    const stream = await fetch(`${d.apiUrl}/api/events`, { headers: auth, signal: ac.signal });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += value;
      }
    })();
    const resyncs = () => (text.match(/"change":"resync"/g) ?? []).length;

    // The daemon's own writes (a run queued, run and recorded): no reload asked.
    const res = await fetch(`${d.apiUrl}/api/jobs/hello/run`, { method: 'POST', headers: auth });
    assert.equal(res.status, 202);
    await until('the run to finish', async () => /event: run\.finished/.test(text), 30_000);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(resyncs(), 0, text);

    // The CLI's: within a couple of seconds.
    const off = await runCli(['--home', home, 'jobs', 'disable', 'hello']);
    assert.equal(off.code, 0, describe(off));
    await until('the stream to ask for a reload', async () => resyncs() > 0, 10_000);
    assert.match(text, /event: job\.changed\ndata: \{"id":0,"change":"resync"\}/);
  } finally {
    ac.abort();
    await d.stop();
  }
});
