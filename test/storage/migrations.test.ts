import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Migrator } from 'kysely';
import { openDatabase } from '../../src/storage/database.js';
import { CodeMigrationProvider } from '../../src/storage/migrations/index.js';
import { forEachDatabase } from '../helpers/postgres.js';

/** The seed's six tables and two views, with the columns DESIGN.md names for each. */
const DESIGN_COLUMNS: Record<string, string[]> = {
  smart_cron_integrated_jobs: [
    'id', 'name', 'command', 'script_path', 'script_type', 'working_dir', 'run_as_user', 'env',
    'schedule', 'timezone', 'next_scheduled_run', 'misfire_policy', 'overlap_policy',
    'category', 'priority', 'slot', 'cpu_weight', 'memory_weight',
    'timeout_seconds', 'estimated_memory_mb', 'estimated_cpu_percent', 'memory_limit_mb',
    'total_executions', 'successful_executions', 'failed_executions', 'consecutive_failures',
    'last_executed_at', 'last_exit_code', 'last_error_message',
    'executions_24h', 'failures_24h', 'avg_duration_24h', 'max_duration_24h', 'avg_memory_24h', 'max_memory_24h',
    'baseline_duration_seconds', 'baseline_memory_mb', 'baseline_cpu_percent', 'baseline_calculated_at',
    'alert_on_failure', 'alert_on_timeout', 'alert_on_high_memory', 'alert_emails', 'consecutive_failure_threshold',
    'circuit_state', 'circuit_opened_at', 'source', 'enabled', 'created_at', 'updated_at', 'user_overrides',
  ],
  smart_cron_job_history: [
    'id', 'job_id', 'scheduled_for', 'attempt', 'trigger', 'status', 'skip_reason', 'node', 'slot', 'reservation_mb',
    'queued_at', 'started_at', 'finished_at', 'wait_ms', 'duration_ms', 'exit_code', 'signal', 'peak_memory_mb',
    'memory_source', 'cpu_time_ms', 'cpu_percent', 'output_tail', 'output_bytes', 'output_truncated', 'error_message', 'pid',
  ],
  smart_cron_job_dependencies: ['job_id', 'depends_on_job_id', 'kind', 'window_seconds', 'on'],
  smart_cron_execution_slots: [
    'node', 'slot', 'max_concurrent_jobs', 'max_memory_mb', 'max_cpu_percent',
    'current_running_jobs', 'current_memory_mb', 'current_cpu_percent',
  ],
  smart_cron_job_tags: ['job_id', 'tag'],
  smart_cron_performance_alerts: [
    'job_id', 'run_id', 'alert_type', 'severity', 'message', 'created_at', 'acknowledged_at', 'resolved_at', 'notification_status',
  ],
};
const DESIGN_VIEWS: Record<string, string[]> = {
  smart_cron_active_jobs_summary: ['id', 'name', 'health_status', 'execution_status'],
  smart_cron_job_performance_trends: [
    'job_id', 'day', 'runs', 'failures', 'avg_duration_ms', 'max_duration_ms', 'avg_memory_mb', 'max_memory_mb',
  ],
};

forEachDatabase('migrations create the six seed tables and two views with their columns', async ({ database }) => {
  const tables = await database.db.introspection.getTables();
  const byName = new Map(tables.map((t) => [t.name, t]));
  for (const [name, cols] of [...Object.entries(DESIGN_COLUMNS), ...Object.entries(DESIGN_VIEWS)]) {
    const t = byName.get(name);
    assert.ok(t, `${name} exists`);
    assert.equal(t.isView, name in DESIGN_VIEWS, `${name} is ${name in DESIGN_VIEWS ? 'a view' : 'a table'}`);
    const have = new Set(t.columns.map((c) => c.name));
    const missing = cols.filter((c) => !have.has(c));
    assert.deepEqual(missing, [], `${name} lacks DESIGN.md columns`);
  }
});

forEachDatabase('migrations are idempotent: a second open applies nothing', async ({ url, database }) => {
  const count = async () => Number((await database.db.selectFrom('smart_cron_migrations' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow() as { n: unknown }).n);
  const expected = Object.keys(await new CodeMigrationProvider(database.dialect).getMigrations()).length;
  assert.equal(await count(), expected);

  const again = await openDatabase(url);
  await again.close();
  assert.equal(await count(), expected, 'reopening recorded no new migrations');

  const migrator = new Migrator({
    db: database.db,
    provider: new CodeMigrationProvider(database.dialect),
    migrationTableName: 'smart_cron_migrations',
    migrationLockTableName: 'smart_cron_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  assert.equal(error, undefined);
  assert.deepEqual(results, [], 'nothing left to apply');
});

forEachDatabase('two processes opening a fresh database at once both succeed (migration lock)', async ({ open }) => {
  const [a, b] = await Promise.all([open({ migrate: true }), open({ migrate: true })]);
  const tables = await b.db.introspection.getTables();
  assert.ok(tables.some((t) => t.name === 'smart_cron_integrated_jobs'));
  assert.ok(a);
}, { migrate: false });

test('SQLite: a transaction that fills the database fails saying so (not "cannot rollback"), and the next one succeeds once there is room', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { sql } = await import('kysely');
  const d = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'sc-full-')), 'db.sqlite')}`, { migrate: false });
  try {
    await sql`create table t (id integer primary key, v text)`.execute(d.db);
    await sql`pragma max_page_count = 20`.execute(d.db); // a full disk, in miniature
    const fill = d.db.transaction().execute(async (trx) => {
      for (let k = 0; k < 20; k++) await sql`insert into t (v) values (${'x'.repeat(20_000)})`.execute(trx);
    });
    await assert.rejects(fill, /database or disk is full/);
    await sql`pragma max_page_count = 100000`.execute(d.db);
    await d.db.transaction().execute(async (trx) => void (await sql`insert into t (v) values ('ok')`.execute(trx)));
    assert.deepEqual((await sql<{ v: string }>`select v from t`.execute(d.db)).rows, [{ v: 'ok' }], 'the failed transaction left nothing behind');
  } finally {
    await d.close();
  }
});
