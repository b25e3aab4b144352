import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Dialect } from '../dialect.js';
import { executionCase, healthCase } from '../health-sql.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

function idColumn(t: CreateTableBuilder<any, any>, dialect: Dialect) {
  return dialect === 'postgres'
    ? t.addColumn('id', 'serial', (c) => c.primaryKey())
    : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export async function up(db: Db, dialect: Dialect): Promise<void> {
  const real = 'double precision' as const;

  await idColumn(db.schema.createTable('smart_cron_integrated_jobs'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('command', 'text')
    .addColumn('shell', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('script_path', 'text')
    .addColumn('script_type', 'text')
    .addColumn('working_dir', 'text')
    .addColumn('run_as_user', 'text')
    .addColumn('env', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('schedule', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text')
    .addColumn('next_scheduled_run', 'text')
    .addColumn('last_scheduled_tick', 'text')
    .addColumn('misfire_policy', 'text', (c) => c.notNull().defaultTo('skip'))
    .addColumn('max_catchup_runs', 'integer', (c) => c.notNull().defaultTo(100))
    .addColumn('overlap_policy', 'text', (c) => c.notNull().defaultTo('forbid'))
    .addColumn('starting_deadline_seconds', 'integer')
    .addColumn('category', 'text', (c) => c.notNull().defaultTo('other'))
    .addColumn('priority', 'text', (c) => c.notNull().defaultTo('medium'))
    .addColumn('slot', 'text', (c) => c.notNull().defaultTo('auto'))
    .addColumn('cpu_weight', real, (c) => c.notNull().defaultTo(1))
    .addColumn('memory_weight', real, (c) => c.notNull().defaultTo(1))
    .addColumn('timeout_seconds', 'integer', (c) => c.notNull().defaultTo(3600))
    .addColumn('estimated_memory_mb', real, (c) => c.notNull().defaultTo(256))
    .addColumn('estimated_cpu_percent', real, (c) => c.notNull().defaultTo(10))
    .addColumn('memory_limit_mb', real)
    .addColumn('total_executions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('successful_executions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed_executions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_executed_at', 'text')
    .addColumn('last_finished_at', 'text')
    .addColumn('last_status', 'text')
    .addColumn('last_exit_code', 'integer')
    .addColumn('last_error_message', 'text')
    .addColumn('last_success_at', 'text')
    .addColumn('executions_24h', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failures_24h', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('avg_duration_24h', real)
    .addColumn('max_duration_24h', real)
    .addColumn('avg_memory_24h', real)
    .addColumn('max_memory_24h', real)
    .addColumn('baseline_duration_seconds', real)
    .addColumn('baseline_memory_mb', real)
    .addColumn('baseline_cpu_percent', real)
    .addColumn('baseline_calculated_at', 'text')
    .addColumn('p95_memory_mb', real)
    .addColumn('alert_on_failure', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_on_timeout', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_on_high_memory', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_on_high_duration', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_on_missed', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_on_hanging', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('alert_emails', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('consecutive_failure_threshold', 'integer', (c) => c.notNull().defaultTo(3))
    .addColumn('missed_grace_seconds', 'integer')
    .addColumn('circuit_state', 'text', (c) => c.notNull().defaultTo('closed'))
    .addColumn('circuit_opened_at', 'text')
    .addColumn('circuit_failure_threshold', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('circuit_cooldown_seconds', 'integer', (c) => c.notNull().defaultTo(1800))
    .addColumn('circuit_open_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('retry_backoff_seconds', 'integer', (c) => c.notNull().defaultTo(30))
    .addColumn('retry_on_timeout', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('retry_on_memory', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('requires_mode', 'text', (c) => c.notNull().defaultTo('skip'))
    .addColumn('requires_wait_seconds', 'integer', (c) => c.notNull().defaultTo(3600))
    .addColumn('mutex_group', 'text')
    .addColumn('manual_respects_overlap', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('node_selector', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('pinned_node', 'text')
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('manual'))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('missing', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('discovery_info', 'text')
    .addColumn('user_overrides', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('idx_jobs_due')
    .on('smart_cron_integrated_jobs')
    .columns(['enabled', 'next_scheduled_run'])
    .execute();
  await db.schema.createIndex('idx_jobs_script').on('smart_cron_integrated_jobs').column('script_path').execute();
  await db.schema.createIndex('idx_jobs_category').on('smart_cron_integrated_jobs').column('category').execute();

  await idColumn(db.schema.createTable('smart_cron_job_history'), dialect)
    .addColumn('job_id', 'integer', (c) => c.notNull().references('smart_cron_integrated_jobs.id').onDelete('cascade'))
    .addColumn('scheduled_for', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('skip_reason', 'text')
    .addColumn('wait_reason', 'text')
    .addColumn('node', 'text')
    .addColumn('slot', 'text')
    .addColumn('priority', 'text', (c) => c.notNull().defaultTo('medium'))
    .addColumn('reservation_mb', real)
    .addColumn('reservation_cpu', real)
    .addColumn('queued_at', 'text', (c) => c.notNull())
    .addColumn('deadline_at', 'text')
    .addColumn('not_before', 'text')
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('wait_ms', real)
    .addColumn('duration_ms', real)
    .addColumn('exit_code', 'integer')
    .addColumn('signal', 'text')
    .addColumn('peak_memory_mb', real)
    .addColumn('memory_source', 'text')
    .addColumn('cpu_time_ms', real)
    .addColumn('cpu_percent', real)
    .addColumn('output_tail', 'text')
    .addColumn('output_bytes', real)
    .addColumn('output_truncated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('log_path', 'text')
    .addColumn('error_message', 'text')
    .addColumn('pid', 'integer')
    .addColumn('pid_start', 'text')
    .addColumn('args', 'text')
    .addColumn('env_extra', 'text')
    .addColumn('recorded', 'integer', (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint('uq_history_run_key', ['job_id', 'scheduled_for', 'attempt'])
    .execute();
  await db.schema.createIndex('idx_history_job_time').on('smart_cron_job_history').columns(['job_id', 'id']).execute();
  await db.schema.createIndex('idx_history_status').on('smart_cron_job_history').columns(['status', 'node']).execute();
  await db.schema.createIndex('idx_history_job_status').on('smart_cron_job_history').columns(['job_id', 'status', 'finished_at']).execute();
  await db.schema.createIndex('idx_history_queued_at').on('smart_cron_job_history').column('queued_at').execute();

  await idColumn(db.schema.createTable('smart_cron_job_dependencies'), dialect)
    .addColumn('job_id', 'integer', (c) => c.notNull().references('smart_cron_integrated_jobs.id').onDelete('cascade'))
    .addColumn('depends_on_job_id', 'integer', (c) =>
      c.notNull().references('smart_cron_integrated_jobs.id').onDelete('cascade'),
    )
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('window_seconds', 'integer')
    .addColumn('on', 'text', (c) => c.notNull().defaultTo('success'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('uq_dependency', ['job_id', 'depends_on_job_id', 'kind'])
    .execute();
  await db.schema.createIndex('idx_deps_parent').on('smart_cron_job_dependencies').column('depends_on_job_id').execute();

  await db.schema
    .createTable('smart_cron_execution_slots')
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('max_concurrent_jobs', 'integer', (c) => c.notNull())
    .addColumn('max_memory_mb', real, (c) => c.notNull())
    .addColumn('max_cpu_percent', real, (c) => c.notNull())
    .addColumn('current_running_jobs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('current_memory_mb', real, (c) => c.notNull().defaultTo(0))
    .addColumn('current_cpu_percent', real, (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('pk_slots', ['node', 'slot'])
    .execute();

  await db.schema
    .createTable('smart_cron_job_tags')
    .addColumn('job_id', 'integer', (c) => c.notNull().references('smart_cron_integrated_jobs.id').onDelete('cascade'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('pk_tags', ['job_id', 'tag'])
    .execute();
  await db.schema.createIndex('idx_tags_tag').on('smart_cron_job_tags').column('tag').execute();

  await idColumn(db.schema.createTable('smart_cron_performance_alerts'), dialect)
    .addColumn('job_id', 'integer', (c) => c.references('smart_cron_integrated_jobs.id').onDelete('cascade'))
    .addColumn('run_id', 'integer')
    .addColumn('alert_type', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('acknowledged_at', 'text')
    .addColumn('resolved_at', 'text')
    .addColumn('notification_status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('notification_error', 'text')
    .addColumn('notified_at', 'text')
    .execute();
  await db.schema
    .createIndex('idx_alerts_open')
    .on('smart_cron_performance_alerts')
    .columns(['job_id', 'alert_type', 'resolved_at'])
    .execute();
  await db.schema.createIndex('idx_alerts_created').on('smart_cron_performance_alerts').column('created_at').execute();

  await idColumn(db.schema.createTable('smart_cron_alert_deliveries'), dialect)
    .addColumn('alert_id', 'integer', (c) => c.references('smart_cron_performance_alerts.id').onDelete('cascade'))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('alert'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .execute();

  await db.schema
    .createTable('smart_cron_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('slots', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('up'))
    .addColumn('pid', 'integer')
    .addColumn('enforcement', 'text')
    .execute();

  await db.schema
    .createTable('smart_cron_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('smart_cron_job_stats_hourly')
    .addColumn('job_id', 'integer', (c) => c.notNull().references('smart_cron_integrated_jobs.id').onDelete('cascade'))
    .addColumn('hour', 'text', (c) => c.notNull())
    .addColumn('runs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sum_duration_ms', real, (c) => c.notNull().defaultTo(0))
    .addColumn('max_duration_ms', real, (c) => c.notNull().defaultTo(0))
    .addColumn('sum_memory_mb', real, (c) => c.notNull().defaultTo(0))
    .addColumn('memory_runs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_memory_mb', real, (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('pk_stats_hourly', ['job_id', 'hour'])
    .execute();

  await createViews(db, dialect);
}

/** "now" and "now minus N hours" as the fixed-width ISO text every timestamp is stored in. */
function isoNowMinusHours(dialect: Dialect, hours: number) {
  return dialect === 'postgres'
    ? `to_char((now() at time zone 'utc') - interval '${hours} hours', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-${hours} hours')`;
}

/**
 * The seed's two views. The health rules come from health-sql.ts (shared with the job listing);
 * should those rules ever change, a new migration must re-create the view.
 */
async function createViews(db: Db, dialect: Dialect) {
  const h24 = isoNowMinusHours(dialect, 24);
  const h1 = isoNowMinusHours(dialect, 1);
  await sql
    .raw(
      `CREATE VIEW smart_cron_active_jobs_summary AS
SELECT j.id, j.name, j.category, j.priority, j.enabled, j.last_executed_at, j.next_scheduled_run,
       j.executions_24h, j.failures_24h, j.consecutive_failures,
       ${healthCase(h24)} AS health_status,
       ${executionCase(h1)} AS execution_status
FROM smart_cron_integrated_jobs j
WHERE j.enabled = 1`,
    )
    .execute(db);

  const day = 'substr(COALESCE(h.started_at, h.queued_at), 1, 10)';
  await sql
    .raw(
      `CREATE VIEW smart_cron_job_performance_trends AS
SELECT h.job_id, j.name AS job_name, ${day} AS day,
       COUNT(*) AS runs,
       SUM(CASE WHEN h.status IN ('failed','timeout','memory_limit','oom_killed','interrupted','lost') THEN 1 ELSE 0 END) AS failures,
       AVG(h.duration_ms) AS avg_duration_ms, MAX(h.duration_ms) AS max_duration_ms,
       AVG(h.peak_memory_mb) AS avg_memory_mb, MAX(h.peak_memory_mb) AS max_memory_mb
FROM smart_cron_job_history h
JOIN smart_cron_integrated_jobs j ON j.id = h.job_id
WHERE h.status NOT IN ('queued','running','skipped')
GROUP BY h.job_id, j.name, ${day}`,
    )
    .execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP VIEW IF EXISTS smart_cron_job_performance_trends`.execute(db);
  await sql`DROP VIEW IF EXISTS smart_cron_active_jobs_summary`.execute(db);
  for (const t of [
    'smart_cron_job_stats_hourly',
    'smart_cron_leases',
    'smart_cron_nodes',
    'smart_cron_alert_deliveries',
    'smart_cron_performance_alerts',
    'smart_cron_job_tags',
    'smart_cron_execution_slots',
    'smart_cron_job_dependencies',
    'smart_cron_job_history',
    'smart_cron_integrated_jobs',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
