/**
 * The CLI at the ends of a shell pipeline: `smart-cron --version`, and a reader that goes away
 * (`smart-cron next … | head -1`, a daemon whose log reader died). A command stops quietly with
 * its own exit code; the daemon keeps running and still stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Start the CLI with its stdout's reader already gone. */
function withClosedStdout(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
});

test('a command whose reader went away stops quietly with its exit code', async () => {
  const ok = withClosedStdout(['next', '* * * * *', '--count', '1000']);
  assert.equal(await ok.exited, 0, ok.stderr());
  assert.equal(ok.stderr(), '', 'no EPIPE stack trace');
  const bad = withClosedStdout(['next', 'not a cron expression']);
  assert.equal(await bad.exited, 2);
  assert.match(bad.stderr(), /not a cron expression/);
  assert.doesNotMatch(bad.stderr(), /EPIPE/);
});

test('a daemon whose log reader went away keeps running, then stops on SIGTERM', async () => {
  const home = tempDir('smart-cron-pipes-');
  const d = withClosedStdout(['--home', home, 'daemon', '--no-api']);
  const state = join(home, 'daemon.json');
  await waitFor(() => {
    try {
      return JSON.parse(readFileSync(state, 'utf8')).pid === d.child.pid;
    } catch {
      return false;
    }
  }, 'the daemon to write its state file', 120_000);
  // It has written its start-up lines into the closed pipe by now; it must still be there.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(d.child.exitCode, null, `the daemon exited: ${d.stderr()}`);
  const status = await runCli(['--home', home, '--json', 'status']);
  assert.equal(JSON.parse(status.stdout).running, true, status.stderr);
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.stderr());
  assert.doesNotMatch(d.stderr(), /EPIPE|Unhandled/);
});
