/**
 * The built CLI, as `npm start` and users run it: `bin/smart-cron.js` with dist/ present runs
 * the bundled dist/cli/main.js (scripts/bundle.mjs), which the rest of the suite never loads
 * (it runs the sources). Init a home, add a job, run it once, then the daemon with its API and
 * dashboard. Skipped, loudly, when dist/ is not built; with CI=true (where `npm ci` builds it)
 * a missing build fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/net.js';

const built = existsSync(join(ROOT, 'dist/cli/main.js'));
if (!built) {
  if (process.env.CI === 'true') throw new Error('dist/cli/main.js is missing: `npm ci` should have built it (npm run build)');
  process.stderr.write('\n!!! built CLI test SKIPPED: dist/ is not built (npm run build) !!!\n\n');
}

/** The built CLI, its stdout and stderr as one. */
async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCli(args, { built: true, timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

test('the built CLI: init, add a job, run it, and the daemon serves its API, OpenAPI and dashboard', { skip: !built && 'dist/ not built', timeout: 300_000 }, async () => {
  const home = join(tempDir('smart-cron-built-'), 'home');
  const init = await cli(['--home', home, 'init']);
  assert.equal(init.code, 0, init.out);
  // config.yaml names one port; the daemon is told another with --port, which wins.
  const configPort = await freePort();
  const port = await freePort();
  writeFileSync(join(home, 'config.yaml'), `api: { host: 127.0.0.1, port: ${configPort} }\nhost: { psi_veto: 0 }\nexecution: { enforcement: portable }\n`);
  const badPort = await cli(['--home', home, 'daemon', '--port', '80a']);
  assert.equal(badPort.code, 2, badPort.out);
  assert.match(badPort.out, /--port: "80a" is not a port number \(0-65535/);
  const add = await cli(['--home', home, 'jobs', 'add', 'hello', '--schedule', '@yearly', '--timezone', 'UTC', '--', 'echo', 'hello from the bundle']);
  assert.equal(add.code, 0, add.out);
  const run = await cli(['--home', home, 'run', 'hello', '--wait']);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /succeeded/);
  assert.match(run.out, /hello from the bundle/);

  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.SMART_CRON_FROM_SOURCE;
  const d = spawn(process.execPath, [BIN, '--home', home, 'daemon', '--port', String(port)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  d.stdout.on('data', (b) => (out += b));
  d.stderr.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((r) => d.on('close', (code) => r(code)));
  try {
    const end = Date.now() + 120_000;
    while (!/daemon started/.test(out)) {
      if (d.exitCode !== null) throw new Error(`the daemon exited: ${out}`);
      if (Date.now() > end) throw new Error(`no start after 120 s: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    assert.ok(out.includes(`smart-cron ${version} daemon started`), `the bundle finds its package.json: ${out}`);
    const base = `http://127.0.0.1:${port}`;
    const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
    const get = async (path: string, auth = true) => {
      for (let i = 0; ; i++) {
        try {
          return await fetch(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
        } catch (e) {
          if (i > 50) throw e; // the port may open a moment after the log line
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    assert.equal((await get('/api/jobs/list', false)).status, 401, 'no token, no API');
    await assert.rejects(fetch(`http://127.0.0.1:${configPort}/api/jobs/list`), 'not on config.yaml\'s port: --port wins');
    const list = await get('/api/jobs/list');
    assert.equal(list.status, 200);
    assert.match(await list.text(), /"hello"/);
    const history = await (await get('/api/jobs/history?job=hello')).text();
    assert.match(history, /succeeded/);
    const openapi = await get('/api/openapi.json');
    assert.equal(openapi.status, 200);
    assert.ok(((await openapi.json()) as { paths: Record<string, unknown> }).paths['/api/jobs/list'], 'the OpenAPI document lists the seed endpoints');
    assert.equal((await get('/api/docs/')).status, 200, 'the docs UI');
    const page = await get('/', false);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app"|<script/, 'the dashboard');
    assert.equal((await get('/metrics')).status, 200);
    const bad = await fetch(`${base}/api/jobs/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"job": 5' });
    assert.equal(bad.status, 400, 'malformed JSON is a 400');
    d.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  }
});

test('bin/smart-cron.js runs the build, and runs the sources, saying so, once a source changed after the build', async () => {
  // A copy of the launcher in a package of its own: a "build" and "sources" that only say which they are.
  const pkg = tempDir('smart-cron-bin-');
  for (const d of ['bin', 'dist/cli', 'src/cli/deep']) mkdirSync(join(pkg, d), { recursive: true });
  copyFileSync(BIN, join(pkg, 'bin/smart-cron.js'));
  writeFileSync(join(pkg, 'package.json'), '{"type":"module"}');
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const main = (which: string) => `export async function main(argv) { console.log('${which}', argv.slice(2).join(' ')); return 0; }\n`;
  writeFileSync(join(pkg, 'src/cli/main.ts'), main('sources'));
  writeFileSync(join(pkg, 'src/cli/deep/part.ts'), 'export {};\n');
  writeFileSync(join(pkg, 'dist/cli/main.js'), main('build'));
  const older = new Date(Date.now() - 60_000);
  for (const f of ['src/cli/main.ts', 'src/cli/deep/part.ts']) utimesSync(join(pkg, f), older, older);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SMART_CRON_FROM_SOURCE;
  const launch = () => spawnSync(process.execPath, [join(pkg, 'bin/smart-cron.js'), 'jobs', 'list'], { env, encoding: 'utf8' });

  const fresh = launch();
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.equal(fresh.stdout, 'build jobs list\n');
  assert.equal(fresh.stderr, '');

  utimesSync(join(pkg, 'src/cli/deep/part.ts'), new Date(), new Date());
  const stale = launch();
  assert.equal(stale.status, 0, stale.stderr);
  assert.equal(stale.stdout, 'sources jobs list\n');
  assert.match(stale.stderr, /src\/cli\/deep\/part\.ts changed after the last build; running the sources \(npm run build/);
});
