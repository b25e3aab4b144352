#!/usr/bin/env node
/**
 * The one test command (`npm test`). Node 20's `node --test` finds no .ts files in a bare
 * folder, so this lists every test/**\/*.test.ts explicitly and runs
 *   node --import tsx --test --test-concurrency=N --test-reporter=spec <files>
 * then closes with the counts (`# tests N`, `# pass N`, `# fail N`, ...) and exits with its code.
 * Files under test/vm/ (the cgroup v2 VM, which takes both cores) run after the others, one at a
 * time, in a second `node --test`; the counts are the two runs' sums.
 *
 *   npm test                          every test
 *   npm test -- test/storage          only files under these folders / these files
 *   npm test -- --test-name-pattern=X any argument starting with '-' goes to node
 *
 * One PostgreSQL cluster is started for the whole run (when a server binary exists) and its
 * admin URL passed to the test processes in SMART_CRON_TEST_PG_ADMIN_URL; each test creates
 * its own database in it. Environment: SMART_CRON_TEST_CONCURRENCY, SMART_CRON_TEST_TIMEOUT_MS (per test and per file,
 * default 900 s: only a guard against hangs),
 * SMART_CRON_REQUIRE_POSTGRES=1 (fail instead of skipping the PostgreSQL suite),
 * SMART_CRON_REQUIRE_CGROUP2_VM=1 (fail instead of skipping test/vm where QEMU or a kernel is missing).
 *
 * The test processes name their cgroups smart-cron-test-<this pid>-… (SMART_CRON_CGROUP_PREFIX), and
 * what is left of them at the end (the slot cgroups of daemons the tests stopped or killed) is removed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeCgroups } from './cgroups.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SKIP_MESSAGE = 'PostgreSQL suite SKIPPED: no postgres binary found';

function findTests(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) findTests(p, out);
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const nodeArgs = args.filter((a) => a.startsWith('-'));
const filters = args.filter((a) => !a.startsWith('-'));

let files = [];
if (filters.length === 0) {
  files = findTests(join(root, 'test'));
} else {
  for (const f of filters) {
    const p = resolve(f);
    if (!existsSync(p)) {
      console.error(`test: no such file or folder: ${f}`);
      process.exit(2);
    }
    files.push(...(statSync(p).isDirectory() ? findTests(p) : [p]));
  }
}
files = [...new Set(files)].sort();
if (files.length === 0) {
  console.error(`test: no *.test.ts files found${filters.length ? ` under ${filters.join(', ')}` : ''}`);
  process.exit(1);
}

// Two cores: two files at a time keeps both busy (most tests wait on databases and child processes).
const concurrency = Number(process.env.SMART_CRON_TEST_CONCURRENCY) || Math.max(2, availableParallelism());
const timeout = Number(process.env.SMART_CRON_TEST_TIMEOUT_MS) || 900_000;

// ---- one PostgreSQL cluster for the run
const env = { ...process.env };
// The daemons and backends the tests start name their cgroups after this prefix
// (src/execution/enforcement/detect.ts), so that what they leave behind (a daemon killed with -9,
// or stopped, keeps its slot cgroups) is removed at the end without touching anyone else's.
env.SMART_CRON_CGROUP_PREFIX ||= `smart-cron-test-${process.pid}`;
let pg = null;
const { register } = await import('tsx/esm/api');
register();
const cluster = await import(new URL('../test/helpers/pg-cluster.ts', import.meta.url).href);
// Only when some selected file uses the harness (test/helpers/postgres.ts).
const needsPostgres = files.some((f) => /helpers\/postgres(\.js|\.ts)?['"]/.test(readFileSync(f, 'utf8')));
if (needsPostgres && !env.SMART_CRON_TEST_PG_ADMIN_URL) {
  if (cluster.findPostgresBinDir()) {
    try {
      pg = await cluster.startPostgres();
      env.SMART_CRON_TEST_PG_ADMIN_URL = pg.adminUrl;
      console.log(`# PostgreSQL test cluster on 127.0.0.1:${pg.port}`);
    } catch (e) {
      console.error(`test: could not start the PostgreSQL test cluster: ${e.message}`);
      process.exit(1);
    }
  } else {
    const bar = '!'.repeat(SKIP_MESSAGE.length + 8);
    console.error(`${bar}\n!!! ${SKIP_MESSAGE} !!!${process.env.SMART_CRON_REQUIRE_POSTGRES === '1' ? '\n!!! SMART_CRON_REQUIRE_POSTGRES=1: the PostgreSQL tests will FAIL' : ''}\n${bar}`);
  }
}

// test/vm/ boots an emulated VM that takes both cores: those files run after the others, alone.
const isVm = (f) => relative(root, f).startsWith(join('test', 'vm'));
const phases = [
  { files: files.filter((f) => !isVm(f)), concurrency },
  { files: files.filter(isVm), concurrency: 1 },
].filter((p) => p.files.length > 0);

const tapDir = mkdtempSync(join(tmpdir(), 'smart-cron-tap-'));
let child = null;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child?.kill(sig));
let code = 0;
let tap = '';
for (const [i, phase] of phases.entries()) {
  const tapFile = join(tapDir, `report-${i}.tap`);
  const argv = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${phase.concurrency}`,
    `--test-timeout=${timeout}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...nodeArgs,
    ...phase.files.map((f) => relative(root, f)),
  ];
  console.log(`# ${phase.files.length} test file(s), concurrency ${phase.concurrency}`);
  child = spawn(process.execPath, argv, { cwd: root, env, stdio: 'inherit' });
  const c = await new Promise((res) => child.on('close', (c, s) => res(c ?? (s ? 1 : 0))));
  code ||= c;
  tap += existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
}

await pg?.stop();
const leftCgroups = removeCgroups((name) => name.startsWith(env.SMART_CRON_CGROUP_PREFIX));
if (leftCgroups.length) console.log(`# ${leftCgroups.length} test cgroup(s) still hold processes and were left: ${leftCgroups.slice(0, 3).join(', ')}`);
const summary = summarize(tap, phases.length);
rmSync(tapDir, { recursive: true, force: true });
console.log(summary);
process.exit(code);

/** The run's totals from the TAP report, and per-database counts for the forEachDatabase tests. */
function summarize(tap, runs) {
  // One TAP report per phase: their totals add up.
  const totals = {};
  const seen = {};
  for (const m of tap.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/gm)) {
    totals[m[1]] = String(Number(totals[m[1]] ?? 0) + Number(m[2]));
    seen[m[1]] = (seen[m[1]] ?? 0) + 1;
  }
  const perDb = { sqlite: { pass: 0, fail: 0, skip: 0 }, postgres: { pass: 0, fail: 0, skip: 0 } };
  for (const m of tap.matchAll(/^\s*(ok|not ok) \d+ - (.*)$/gm)) {
    const db = /\[(sqlite|postgres)\](?:\s*#.*)?$/.exec(m[2])?.[1];
    if (!db) continue;
    const key = / # SKIP/.test(m[2]) ? 'skip' : m[1] === 'ok' ? 'pass' : 'fail';
    perDb[db][key]++;
  }
  const lines = ['', '# ---- smart-cron test summary'];
  for (const [db, c] of Object.entries(perDb)) lines.push(`# ${db}: ${c.pass} pass, ${c.fail} fail, ${c.skip} skipped`);
  if (perDb.postgres.skip > 0) lines.push(`# !!! ${SKIP_MESSAGE}`);
  for (const k of ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']) {
    if (totals[k] !== undefined) lines.push(`# ${k} ${totals[k]}`);
  }
  if (totals.tests === undefined || seen.tests < runs) lines.push('# tests ? (a TAP summary is missing: a runner did not finish)');
  return lines.join('\n');
}
