/**
 * The CLI against a real PostgreSQL, as a cluster's operator meets it: `init --database URL`
 * records the URL in config.yaml (a plain `status` afterwards uses it, no SQLite file appears);
 * `history` has a NODE column there; a role that may not create tables gets a migration error
 * that says what failed; and with the server stopped, `status`, `jobs list` and `daemon` exit 3
 * (the database is unavailable, not bad input) with a message naming the database, no password,
 * while `status` still says whether a daemon runs for the home.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { iso } from '../../src/clock.js';
import { openApp } from '../../src/daemon/app.js';
import { describe, runCli, type CliResult } from '../helpers/cli.js';
import { insertRun } from '../helpers/fixtures.js';
import { findPostgresBinDir, startPostgres } from '../helpers/pg-cluster.js';
import { postgresRequired } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const available = findPostgresBinDir() !== null;
if (!available && postgresRequired()) throw new Error('SMART_CRON_REQUIRE_POSTGRES=1 and no postgres binary found');
if (!available) process.stderr.write('\n!!! PostgreSQL CLI suite SKIPPED: no postgres binary found !!!\n\n');

const ok = (r: CliResult) => (assert.equal(r.code, 0, describe(r)), r);

test('init --database postgres:// is recorded; history shows the node; a stopped server is exit 3, naming the database', { skip: !available, timeout: 300_000 }, async () => {
  const server = await startPostgres();
  try {
    const plain = await server.url('cli');
    // A password in the URL (trust authentication accepts any): it must never be printed.
    const url = plain.replace('postgres@', 'postgres:sekret@');
    const home = join(tempDir('smart-cron-pg-cli-'), 'home');
    ok(await runCli(['--home', home, '--database', url, 'init']));
    assert.match(readFileSync(join(home, 'config.yaml'), 'utf8'), /^database: "postgres:\/\/postgres:sekret@127\.0\.0\.1:\d+\/cli"$/m);
    const status = JSON.parse(ok(await runCli(['--home', home, '--json', 'status'])).stdout) as { database: string };
    assert.equal(status.database, url.replace('sekret', '***'), 'status without --database uses the recorded one');
    assert.ok(!existsSync(join(home, 'smart-cron.db')), 'no SQLite file in the home');

    // On PostgreSQL (several nodes may share it) history says which node ran each run.
    const app = await openApp({ home });
    try {
      const { job } = await app.jobs.registerJob({ name: 'j', schedule: '@hourly', command: ['true'] }, { source: 'manual', byUser: true });
      await insertRun(app.database, job.id, { scheduled_for: iso(Date.now() - 60_000), status: 'succeeded', node: 'n1', started_at: iso(Date.now() - 60_000), finished_at: iso(Date.now() - 59_000), duration_ms: 1000, exit_code: 0 });
    } finally {
      await app.close();
    }
    const history = ok(await runCli(['--home', home, 'history']));
    assert.match(history.stdout, /^\s*RUN\s+JOB\s+NODE\s+TRIGGER/, history.stdout);
    assert.match(history.stdout, /#\d+\s+j\s+n1\s+manual|#\d+\s+j\s+n1\s+schedule/, history.stdout);

    // A role that may connect but not create tables: the migration error says what failed, and where.
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE weak LOGIN PASSWORD 'pw'`);
    } finally {
      await admin.end();
    }
    const weakUrl = `postgres://weak:pw@127.0.0.1:${server.port}/${await createdEmpty(server)}`;
    const weak = await runCli(['--home', home, '--database', weakUrl, 'jobs', 'list']);
    assert.equal(weak.code, 1, describe(weak));
    assert.match(weak.stderr, /^smart-cron: setting up the database \(smart-cron's migration tables, before any migration\) failed on postgres:\/\/weak:\*\*\*@127\.0\.0\.1:\d+\/\w+: permission denied/, describe(weak));

    await server.halt();
    const down = await runCli(['--home', home, 'status']);
    assert.equal(down.code, 3, describe(down));
    assert.match(down.stdout, /^no daemon is running for this home/, describe(down));
    assert.match(down.stderr, /^smart-cron: database unavailable: could not connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cli: .*ECONNREFUSED.*\(is PostgreSQL running there/, describe(down));
    for (const call of [['jobs', 'list'], ['--json', 'status']]) {
      const r = await runCli(['--home', home, ...call]);
      assert.equal(r.code, 3, describe(r));
      assert.match(r.stderr, /database unavailable: could not connect to postgres:\/\/postgres:\*\*\*@/, describe(r));
      assert.doesNotMatch(r.stdout + r.stderr, /sekret/, describe(r));
    }
    const daemon = await runCli(['--home', home, 'daemon', '--no-api']);
    assert.equal(daemon.code, 3, describe(daemon));
    assert.match(daemon.stderr, /database unavailable: could not connect to postgres:\/\/postgres:\*\*\*@/, describe(daemon));
  } finally {
    await server.stop();
  }
});

/** A new database owned by postgres, where PUBLIC may not create tables. */
async function createdEmpty(server: { url(name: string): Promise<string>; adminUrl: string }): Promise<string> {
  const url = await server.url('locked');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  } finally {
    await c.end();
  }
  return 'locked';
}
