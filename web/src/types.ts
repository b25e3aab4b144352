/** The API's JSON shapes (snake_case, as the registry and history columns are named). */
export type Health = 'critical' | 'warning' | 'healthy';
export type ExecutionStatus = 'never_run' | 'overdue' | 'failing' | 'ok';
export type Priority = 'critical' | 'high' | 'medium' | 'low';
export type RunStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timeout'
  | 'memory_limit'
  | 'oom_killed'
  | 'interrupted'
  | 'lost'
  | 'skipped';
export type Severity = 'info' | 'warning' | 'error' | 'critical';

export interface Job {
  id: number;
  name: string;
  description: string | null;
  command: string[] | null;
  shell: boolean;
  script_path: string | null;
  script_type: string | null;
  working_dir: string | null;
  run_as_user: string | null;
  env: Record<string, string>;
  schedule: string;
  timezone: string | null;
  next_scheduled_run: string | null;
  category: string;
  priority: Priority;
  slot: string;
  cpu_weight: number;
  memory_weight: number;
  enabled: boolean;
  overlap_policy: 'forbid' | 'allow' | 'replace' | 'queue';
  misfire_policy: 'skip' | 'run_once' | 'run_all';
  max_catchup_runs: number;
  starting_deadline_seconds: number | null;
  retries: number;
  retry_backoff_seconds: number;
  retry_on_timeout: boolean;
  retry_on_memory: boolean;
  circuit_failure_threshold: number;
  circuit_cooldown_seconds: number;
  requires_mode: 'skip' | 'wait';
  requires_wait_seconds: number;
  mutex_group: string | null;
  manual_respects_overlap: boolean;
  node_selector: Record<string, string>;
  pinned_node: string | null;
  timeout_seconds: number;
  estimated_memory_mb: number;
  estimated_cpu_percent: number;
  estimated_duration_seconds: number | null;
  memory_limit_mb: number | null;
  total_executions: number;
  successful_executions?: number;
  failed_executions?: number;
  consecutive_failures: number;
  last_executed_at: string | null;
  last_status: RunStatus | null;
  last_error_message?: string | null;
  executions_24h: number;
  failures_24h: number;
  avg_duration_24h: number | null;
  max_duration_24h: number | null;
  avg_memory_24h: number | null;
  max_memory_24h?: number | null;
  baseline_duration_seconds: number | null;
  baseline_memory_mb: number | null;
  alert_on_failure: boolean;
  alert_on_timeout: boolean;
  alert_on_high_memory: boolean;
  alert_on_high_duration: boolean;
  alert_on_missed: boolean;
  alert_on_hanging: boolean;
  alert_emails: string[];
  consecutive_failure_threshold: number;
  missed_grace_seconds: number | null;
  tags: string[];
  source: 'discovered' | 'crontab' | 'manual' | 'file';
  missing: boolean;
  discovery_info?: Record<string, unknown> | null;
  /** Fields a person has set (discovery keeps them). */
  user_overrides?: string[];
  health_status: Health;
  execution_status: ExecutionStatus;
  circuit_state: 'closed' | 'open' | 'half_open';
  next_runs?: string[];
}

export interface Run {
  id: number;
  job_id: number;
  job_name?: string;
  scheduled_for: string;
  attempt: number;
  trigger: string;
  status: RunStatus;
  skip_reason: string | null;
  wait_reason: string | null;
  node: string | null;
  slot: string | null;
  reservation_mb: number | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  wait_ms: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  signal: string | null;
  peak_memory_mb: number | null;
  memory_source: 'cgroup' | 'sampled' | null;
  cpu_time_ms: number | null;
  cpu_percent: number | null;
  output_tail?: string | null;
  output_bytes: number | null;
  output_truncated: boolean | number;
  error_message: string | null;
  pid: number | null;
  /** A person asked to stop it (the reason); it reads `cancelling` until it ends. */
  cancel_requested: string | null;
}

export interface Alert {
  id: number;
  job_id: number | null;
  job_name?: string | null;
  run_id: number | null;
  alert_type: string;
  severity: Severity;
  message: string;
  count: number;
  created_at: string;
  updated_at: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
  notification_status: 'pending' | 'sent' | 'failed' | 'suppressed' | 'none';
  notification_error?: string | null;
  notified_at?: string | null;
}

export interface SlotUsage {
  node: string;
  slot: string;
  max_concurrent_jobs: number;
  max_memory_mb: number;
  max_cpu_percent: number;
  current_running_jobs: number;
  current_memory_mb: number;
  current_cpu_percent: number;
  queued: number;
}

export interface Overview {
  counts: Record<Health, number>;
  slots: SlotUsage[];
  running: Run[];
  queued: Run[];
  alerts: Alert[];
}

/** A daemon sharing the database (GET /api/nodes); `unresponsive`: up, but its heartbeat is older than the lease. */
export interface ClusterNode {
  id: string;
  hostname: string;
  status: 'up' | 'unresponsive' | 'down' | 'stopped';
  started_at: string;
  heartbeat_at: string;
  running_runs: number;
  reserved_memory_mb: number;
  enforcement: string | null;
  labels: Record<string, string>;
  version: string;
}

export interface Nodes {
  nodes: ClusterNode[];
  /** The node serving this dashboard. */
  this_node: string;
}

export interface TrendDay {
  day: string;
  runs: number;
  failures: number;
  avg_duration_ms: number | null;
  max_duration_ms: number | null;
  avg_memory_mb: number | null;
  max_memory_mb: number | null;
}

export interface DependencyLink {
  job: { id: number; name: string } | string;
  kind: 'requires' | 'triggers';
  on: 'success' | 'failure' | 'always';
  window_seconds: number | null;
}

export interface Dependencies {
  upstream: DependencyLink[];
  downstream: DependencyLink[];
}

export type DependencyKind = DependencyLink['kind'];
export type DependencyOn = DependencyLink['on'];

/** POST /api/jobs/:id/dependencies (the JSON of `deps add --json`). */
export interface DependencyChange {
  change: 'new' | 'updated' | 'unchanged';
  job: { id: number; name: string };
  depends_on: DependencyLink;
}

/** DELETE /api/jobs/:id/dependencies/:other (the JSON of `deps remove --json`). */
export interface DependencyRemoval {
  job: { id: number; name: string };
  depends_on: { id: number; name: string };
  removed: DependencyKind[];
}

export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'timeout', 'memory_limit', 'oom_killed', 'interrupted', 'lost', 'skipped'];
