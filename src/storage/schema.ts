/**
 * The database as Kysely sees it: the seed's six tables and two views (by their
 * names), plus the tables smart-cron adds (nodes, leases, hourly stats, deliveries).
 *
 * Conventions, the same on SQLite and PostgreSQL so one code path serves both:
 * - timestamps are ISO-8601 UTC text with milliseconds (fixed width, so text order is time order);
 * - booleans are integers 0/1;
 * - JSON values (argv, env, lists) are JSON text.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Id = Generated<number>;
/** A column with a database default: optional on insert. */
type Def<T> = ColumnType<T, T | undefined, T>;

export type Priority = 'critical' | 'high' | 'medium' | 'low';
export type SlotChoice = 'auto' | 'default' | 'heavy' | 'light' | (string & {});
export type ScriptType = 'php' | 'bash' | 'python' | 'node' | 'executable';
export type JobSource = 'discovered' | 'crontab' | 'manual' | 'file';
export type MisfirePolicy = 'skip' | 'run_once' | 'run_all';
export type OverlapPolicy = 'forbid' | 'allow' | 'replace' | 'queue';
export type CircuitState = 'closed' | 'open' | 'half_open';
export type RunTrigger = 'schedule' | 'manual' | 'catchup' | 'retry' | 'dependency';
/** Every status a run can have, in the order a run meets them. */
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timeout', 'memory_limit', 'oom_killed', 'interrupted', 'lost', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'timeout',
  'memory_limit',
  'oom_killed',
  'interrupted',
  'lost',
  'skipped',
];

export interface JobsTable {
  id: Id;
  name: string;
  description: Def<string | null>;
  /** argv as a JSON array; with shell = 1, a one-element array holding the shell line. */
  command: Def<string | null>;
  shell: Def<number>;
  script_path: Def<string | null>;
  script_type: Def<ScriptType | null>;
  working_dir: Def<string | null>;
  run_as_user: Def<string | null>;
  /** JSON object of extra environment variables. */
  env: Def<string>;

  schedule: string;
  timezone: Def<string | null>;
  next_scheduled_run: Def<string | null>;
  /** The last tick the scheduler turned into a run (or counted as missed); misfire rules start here. */
  last_scheduled_tick: Def<string | null>;
  misfire_policy: Def<MisfirePolicy>;
  max_catchup_runs: Def<number>;
  overlap_policy: Def<OverlapPolicy>;
  starting_deadline_seconds: Def<number | null>;

  category: Def<string>;
  priority: Def<Priority>;
  slot: Def<SlotChoice>;
  cpu_weight: Def<number>;
  memory_weight: Def<number>;

  timeout_seconds: Def<number>;
  estimated_memory_mb: Def<number>;
  estimated_cpu_percent: Def<number>;
  /** Stated run time, until runs are measured (orders a burst in the queue); null: not stated. */
  estimated_duration_seconds: Def<number | null>;
  memory_limit_mb: Def<number | null>;

  total_executions: Def<number>;
  successful_executions: Def<number>;
  failed_executions: Def<number>;
  consecutive_failures: Def<number>;
  last_executed_at: Def<string | null>;
  last_finished_at: Def<string | null>;
  last_status: Def<RunStatus | null>;
  last_exit_code: Def<number | null>;
  last_error_message: Def<string | null>;
  last_success_at: Def<string | null>;

  executions_24h: Def<number>;
  failures_24h: Def<number>;
  avg_duration_24h: Def<number | null>;
  max_duration_24h: Def<number | null>;
  avg_memory_24h: Def<number | null>;
  max_memory_24h: Def<number | null>;

  baseline_duration_seconds: Def<number | null>;
  baseline_memory_mb: Def<number | null>;
  baseline_cpu_percent: Def<number | null>;
  baseline_calculated_at: Def<string | null>;
  /** p95 of recent measured peaks, kept with the baseline; feeds the memory reservation. */
  p95_memory_mb: Def<number | null>;

  alert_on_failure: Def<number>;
  alert_on_timeout: Def<number>;
  alert_on_high_memory: Def<number>;
  alert_on_high_duration: Def<number>;
  alert_on_missed: Def<number>;
  alert_on_hanging: Def<number>;
  /** JSON array of addresses. */
  alert_emails: Def<string>;
  consecutive_failure_threshold: Def<number>;
  missed_grace_seconds: Def<number | null>;

  circuit_state: Def<CircuitState>;
  circuit_opened_at: Def<string | null>;
  circuit_failure_threshold: Def<number>;
  circuit_cooldown_seconds: Def<number>;
  /** How many times the circuit opened in a row (the cool-down doubles each time). */
  circuit_open_count: Def<number>;

  retries: Def<number>;
  retry_backoff_seconds: Def<number>;
  retry_on_timeout: Def<number>;
  retry_on_memory: Def<number>;
  requires_mode: Def<'skip' | 'wait'>;
  requires_wait_seconds: Def<number>;
  mutex_group: Def<string | null>;
  manual_respects_overlap: Def<number>;
  /** JSON object of labels a node must have to run this job. */
  node_selector: Def<string>;
  pinned_node: Def<string | null>;

  source: Def<JobSource>;
  enabled: Def<number>;
  /** Discovery: the script is no longer on disk. */
  missing: Def<number>;
  /** Discovery/import: JSON with why category and priority were chosen, the root, the crontab line. */
  discovery_info: Def<string | null>;
  /** JSON array of field names the user set by hand; re-discovery never overwrites them. */
  user_overrides: Def<string>;
  created_at: string;
  updated_at: string;
}

export interface HistoryTable {
  id: Id;
  job_id: number;
  /** The tick this run belongs to; manual runs use the request time. */
  scheduled_for: string;
  attempt: Def<number>;
  trigger: RunTrigger;
  status: RunStatus;
  skip_reason: Def<string | null>;
  /** Why a queued run is still waiting (slot full, host memory, ...). */
  wait_reason: Def<string | null>;
  node: Def<string | null>;
  slot: Def<string | null>;
  priority: Def<Priority>;
  reservation_mb: Def<number | null>;
  reservation_cpu: Def<number | null>;
  queued_at: string;
  deadline_at: Def<string | null>;
  not_before: Def<string | null>;
  started_at: Def<string | null>;
  finished_at: Def<string | null>;
  wait_ms: Def<number | null>;
  duration_ms: Def<number | null>;
  exit_code: Def<number | null>;
  signal: Def<string | null>;
  peak_memory_mb: Def<number | null>;
  memory_source: Def<'cgroup' | 'sampled' | null>;
  cpu_time_ms: Def<number | null>;
  cpu_percent: Def<number | null>;
  output_tail: Def<string | null>;
  output_bytes: Def<number | null>;
  output_truncated: Def<number>;
  log_path: Def<string | null>;
  error_message: Def<string | null>;
  pid: Def<number | null>;
  /** Process start time (from /proc) so a restarted daemon never mistakes a reused pid for its run. */
  pid_start: Def<string | null>;
  /** Manual runs: JSON array of extra arguments and JSON object of extra env. */
  args: Def<string | null>;
  env_extra: Def<string | null>;
  /** 1 once recordExecution has applied this run to the job's counters (exactly once). */
  recorded: Def<number>;
  /** A person asked to stop this running run: the reason (the node running it acts on it; execution/cancel.ts). */
  cancel_requested: Def<string | null>;
}

export interface DependenciesTable {
  id: Id;
  job_id: number;
  depends_on_job_id: number;
  kind: 'requires' | 'triggers';
  window_seconds: Def<number | null>;
  on: Def<'success' | 'failure' | 'always'>;
  created_at: string;
}

export interface SlotsTable {
  node: string;
  slot: string;
  max_concurrent_jobs: number;
  max_memory_mb: number;
  max_cpu_percent: number;
  current_running_jobs: Def<number>;
  current_memory_mb: Def<number>;
  current_cpu_percent: Def<number>;
  updated_at: string;
}

export interface TagsTable {
  job_id: number;
  tag: string;
}

export type AlertSeverity = 'info' | 'warning' | 'error' | 'critical';

export interface AlertsTable {
  id: Id;
  job_id: number | null;
  run_id: Def<number | null>;
  alert_type: string;
  severity: AlertSeverity;
  message: string;
  /** How many times the condition repeated while this alert stayed open. */
  count: Def<number>;
  created_at: string;
  updated_at: string;
  acknowledged_at: Def<string | null>;
  resolved_at: Def<string | null>;
  notification_status: Def<'pending' | 'sent' | 'failed' | 'suppressed' | 'none'>;
  notification_error: Def<string | null>;
  notified_at: Def<string | null>;
}

export interface DeliveriesTable {
  id: Id;
  alert_id: number | null;
  channel: string;
  target: string;
  kind: Def<'alert' | 'recovery' | 'digest' | 'test'>;
  /** 'suppressed': held back by the rate limit, for the digest. */
  status: Def<'pending' | 'sent' | 'failed' | 'suppressed'>;
  attempts: Def<number>;
  last_error: Def<string | null>;
  created_at: string;
  delivered_at: Def<string | null>;
  /** The channel without its secrets (a hash of its destination): rate-limit bucket, and how a retry finds it. */
  route: Def<string | null>;
  /** The notice as first built (JSON), so a retry after a restart sends the same thing. */
  notice: Def<string | null>;
  /** When a pending delivery is next due (null once it is over). */
  next_attempt_at: Def<string | null>;
  /** The daemon attempting it now, and until when its claim holds (a daemon that died loses it then). */
  claimed_by: Def<string | null>;
  claimed_until: Def<string | null>;
  /** For a suppressed row: the digest delivery it went out in. */
  digest_id: Def<number | null>;
}

export interface NodesTable {
  id: string;
  hostname: string;
  labels: Def<string>;
  slots: Def<string>;
  started_at: string;
  heartbeat_at: string;
  version: string;
  status: Def<'up' | 'down' | 'stopped'>;
  pid: Def<number | null>;
  enforcement: Def<string | null>;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

/** A found script or crontab entry a person removed; discovery and imports leave it out (0005_dismissed.ts). */
export interface DismissedTable {
  /** `script:<absolute path>` or `crontab:<job name>`. */
  key: string;
  /** The job's name when it was removed. */
  job_name: string;
  dismissed_at: string;
}

/** Per job and hour: the 24 h stats are the sum of the last 24 buckets, so recording a run costs O(1). */
export interface HourlyStatsTable {
  job_id: number;
  hour: string;
  runs: Def<number>;
  failures: Def<number>;
  sum_duration_ms: Def<number>;
  max_duration_ms: Def<number>;
  sum_memory_mb: Def<number>;
  memory_runs: Def<number>;
  max_memory_mb: Def<number>;
}

export interface ActiveJobsSummaryView {
  id: number;
  name: string;
  category: string;
  priority: Priority;
  enabled: number;
  last_executed_at: string | null;
  next_scheduled_run: string | null;
  executions_24h: number;
  failures_24h: number;
  consecutive_failures: number;
  health_status: 'critical' | 'warning' | 'healthy';
  execution_status: 'never_run' | 'overdue' | 'failing' | 'ok';
}

export interface PerformanceTrendsView {
  job_id: number;
  job_name: string;
  day: string;
  runs: number;
  failures: number;
  avg_duration_ms: number | null;
  max_duration_ms: number | null;
  avg_memory_mb: number | null;
  max_memory_mb: number | null;
}

export interface DB {
  smart_cron_integrated_jobs: JobsTable;
  smart_cron_job_history: HistoryTable;
  smart_cron_job_dependencies: DependenciesTable;
  smart_cron_execution_slots: SlotsTable;
  smart_cron_job_tags: TagsTable;
  smart_cron_performance_alerts: AlertsTable;
  smart_cron_alert_deliveries: DeliveriesTable;
  smart_cron_nodes: NodesTable;
  smart_cron_leases: LeasesTable;
  smart_cron_dismissed: DismissedTable;
  smart_cron_job_stats_hourly: HourlyStatsTable;
  smart_cron_active_jobs_summary: ActiveJobsSummaryView;
  smart_cron_job_performance_trends: PerformanceTrendsView;
}

export type JobRow = Selectable<JobsTable>;
export type NewJobRow = Insertable<JobsTable>;
export type JobUpdate = Updateable<JobsTable>;
export type RunRow = Selectable<HistoryTable>;
export type NewRunRow = Insertable<HistoryTable>;
export type RunUpdate = Updateable<HistoryTable>;
export type AlertRow = Selectable<AlertsTable>;
export type SlotRow = Selectable<SlotsTable>;
export type DependencyRow = Selectable<DependenciesTable>;
export type NodeRow = Selectable<NodesTable>;
