/**
 * The API's response and query shapes, in TypeBox: they type the handlers (through the
 * type provider), validate the requests, and are the OpenAPI document. Request bodies for
 * jobs reuse src/jobs/definition.ts (one schema, one source).
 */
import Type, { type Static, type TSchema } from 'typebox';
import { ENV_NAME, ENV_NAME_PATTERN } from '../jobs/definition.js';
import { DEPENDENCY_KINDS, DEPENDENCY_ONS, MAX_WINDOW_SECONDS } from '../jobs/dependencies.js';
import { SORTABLE } from '../storage/repos/jobs.js';
import { RUN_STATUSES } from '../storage/schema.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const lit = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);
const Str = Type.String();
const Num = Type.Number();
const Int = Type.Integer();
const Bool = Type.Boolean();
const Iso = Type.String({ description: 'ISO-8601 UTC timestamp' });

export const HEALTH = ['critical', 'warning', 'healthy'] as const;
const EXEC_STATUS = ['never_run', 'overdue', 'failing', 'ok'] as const;

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Str,
      message: Str,
      field: Type.Optional(Nullable(Str)),
    }),
  },
  { description: 'Every error: a code, a message naming the field and what was expected, and the field.' },
);

/** The JSON form of a job (presentJob): every registry column, booleans as booleans, lists parsed. */
export const JobOut = Type.Object(
  {
    id: Int,
    name: Str,
    description: Nullable(Str),
    command: Nullable(Type.Array(Str)),
    shell: Bool,
    script_path: Nullable(Str),
    script_type: Nullable(Str),
    working_dir: Nullable(Str),
    run_as_user: Nullable(Str),
    env: Type.Record(Str, Str),
    schedule: Str,
    timezone: Nullable(Str),
    next_scheduled_run: Nullable(Iso),
    last_scheduled_tick: Nullable(Iso),
    misfire_policy: lit(['skip', 'run_once', 'run_all'] as const),
    max_catchup_runs: Int,
    overlap_policy: lit(['forbid', 'allow', 'replace', 'queue'] as const),
    starting_deadline_seconds: Nullable(Int),
    category: Str,
    priority: lit(['critical', 'high', 'medium', 'low'] as const),
    slot: Str,
    cpu_weight: Num,
    memory_weight: Num,
    timeout_seconds: Int,
    estimated_memory_mb: Num,
    estimated_cpu_percent: Num,
    estimated_duration_seconds: Nullable(Num),
    memory_limit_mb: Nullable(Num),
    total_executions: Int,
    successful_executions: Int,
    failed_executions: Int,
    consecutive_failures: Int,
    last_executed_at: Nullable(Iso),
    last_finished_at: Nullable(Iso),
    last_success_at: Nullable(Iso),
    last_status: Nullable(lit(RUN_STATUSES)),
    last_exit_code: Nullable(Int),
    last_error_message: Nullable(Str),
    executions_24h: Int,
    failures_24h: Int,
    avg_duration_24h: Nullable(Num),
    max_duration_24h: Nullable(Num),
    avg_memory_24h: Nullable(Num),
    max_memory_24h: Nullable(Num),
    baseline_duration_seconds: Nullable(Num),
    baseline_memory_mb: Nullable(Num),
    baseline_cpu_percent: Nullable(Num),
    baseline_calculated_at: Nullable(Iso),
    p95_memory_mb: Nullable(Num),
    alert_on_failure: Bool,
    alert_on_timeout: Bool,
    alert_on_high_memory: Bool,
    alert_on_high_duration: Bool,
    alert_on_missed: Bool,
    alert_on_hanging: Bool,
    alert_emails: Type.Array(Str),
    consecutive_failure_threshold: Int,
    missed_grace_seconds: Nullable(Int),
    circuit_state: lit(['closed', 'open', 'half_open'] as const),
    circuit_opened_at: Nullable(Iso),
    circuit_failure_threshold: Int,
    circuit_cooldown_seconds: Int,
    circuit_open_count: Int,
    retries: Int,
    retry_backoff_seconds: Int,
    retry_on_timeout: Bool,
    retry_on_memory: Bool,
    requires_mode: lit(['skip', 'wait'] as const),
    requires_wait_seconds: Int,
    mutex_group: Nullable(Str),
    manual_respects_overlap: Bool,
    node_selector: Type.Record(Str, Str),
    pinned_node: Nullable(Str),
    source: lit(['discovered', 'crontab', 'manual', 'file'] as const),
    enabled: Bool,
    missing: Bool,
    user_overrides: Type.Array(Str),
    discovery_info: Nullable(Type.Record(Str, Type.Unknown(), { description: 'What discovery found and why it chose each value (discovered and imported jobs).' })),
    tags: Type.Array(Str),
    created_at: Iso,
    updated_at: Iso,
    health_status: lit(HEALTH),
    execution_status: lit(EXEC_STATUS),
  },
  { additionalProperties: true, description: 'A job: the registry columns (snake_case), plus tags, health_status and execution_status.' },
);
export type JobOut = Static<typeof JobOut>;

export const JobDetail = Type.Intersect([JobOut, Type.Object({ next_runs: Type.Array(Iso, { description: 'The next 5 run times.' }) })]);

export const JobList = Type.Object({ jobs: Type.Array(JobOut), total: Int, limit: Int, offset: Int });

/** A run: every history column, output_truncated as a boolean, args/env_extra parsed. */
export const RunOut = Type.Object(
  {
    id: Int,
    job_id: Int,
    job_name: Type.Optional(Str),
    scheduled_for: Iso,
    attempt: Int,
    trigger: lit(['schedule', 'manual', 'catchup', 'retry', 'dependency'] as const),
    status: lit(RUN_STATUSES),
    skip_reason: Nullable(Str),
    wait_reason: Nullable(Str),
    node: Nullable(Str),
    slot: Nullable(Str),
    priority: Str,
    reservation_mb: Nullable(Num),
    reservation_cpu: Nullable(Num),
    queued_at: Iso,
    deadline_at: Nullable(Iso),
    not_before: Nullable(Iso),
    started_at: Nullable(Iso),
    finished_at: Nullable(Iso),
    wait_ms: Nullable(Num),
    duration_ms: Nullable(Num),
    exit_code: Nullable(Int),
    signal: Nullable(Str),
    peak_memory_mb: Nullable(Num),
    memory_source: Nullable(lit(['cgroup', 'sampled'] as const)),
    cpu_time_ms: Nullable(Num),
    cpu_percent: Nullable(Num),
    output_tail: Type.Optional(Nullable(Str)),
    output_bytes: Nullable(Num),
    output_truncated: Bool,
    log_path: Nullable(Str),
    error_message: Nullable(Str),
    pid: Nullable(Int),
    args: Nullable(Type.Array(Str)),
    env_extra: Nullable(Type.Record(Str, Str)),
    cancel_requested: Nullable(Type.String({ description: 'A person asked to stop this running run (the reason); the node running it stops it within a second.' })),
  },
  { additionalProperties: true, description: 'A run (one history row). Lists leave output_tail out unless ?output=1.' },
);
export type RunOut = Static<typeof RunOut>;

export const RunList = Type.Object({
  runs: Type.Array(RunOut),
  next_before: Nullable(Int),
});

export const SlotOut = Type.Object({
  node: Str,
  slot: Str,
  max_concurrent_jobs: Num,
  max_memory_mb: Num,
  max_cpu_percent: Num,
  current_running_jobs: Num,
  current_memory_mb: Num,
  current_cpu_percent: Num,
  queued: Num,
});

export const AlertOut = Type.Object(
  {
    id: Int,
    job_id: Nullable(Int),
    job_name: Type.Optional(Nullable(Str)),
    run_id: Nullable(Int),
    alert_type: Str,
    severity: lit(['info', 'warning', 'error', 'critical'] as const),
    message: Str,
    count: Int,
    created_at: Iso,
    updated_at: Iso,
    acknowledged_at: Nullable(Iso),
    resolved_at: Nullable(Iso),
    notification_status: lit(['pending', 'sent', 'failed', 'suppressed', 'none'] as const),
    notification_error: Nullable(Str),
    notified_at: Nullable(Iso),
    open: Bool,
  },
  { additionalProperties: true },
);
export type AlertOut = Static<typeof AlertOut>;

export const HealthCounts = Type.Object({ critical: Int, warning: Int, healthy: Int });

export const NodeOut = Type.Object(
  {
    id: Str,
    hostname: Str,
    labels: Type.Record(Str, Str),
    slots: Type.Unknown({ description: "The node's slot budgets, as its config set them." }),
    started_at: Iso,
    heartbeat_at: Iso,
    version: Str,
    status: Type.Enum(['up', 'unresponsive', 'down', 'stopped'], { description: "unresponsive: up, but no heartbeat within node.lease_seconds; down: another node's failover marked it so" }),
    pid: Nullable(Int),
    enforcement: Nullable(Str),
    running_runs: Int,
    reserved_memory_mb: Num,
    stale: Type.Boolean({ description: 'not up, and no heartbeat for over a day: most likely gone for good (`smart-cron nodes remove ID` forgets it)' }),
  },
  { additionalProperties: true, description: 'A daemon sharing the database (the rows of `smart-cron nodes --json`).' },
);

export const NodeList = Type.Object({ nodes: Type.Array(NodeOut), this_node: Type.String({ description: 'The id of the node that answered.' }) });

export const TrendOut = Type.Object({
  job_id: Int,
  job_name: Str,
  day: Str,
  runs: Int,
  failures: Int,
  avg_duration_ms: Nullable(Num),
  max_duration_ms: Nullable(Num),
  avg_memory_mb: Nullable(Num),
  max_memory_mb: Nullable(Num),
});

const JobRef = Type.Object({ id: Int, name: Str });

/** One dependency link as seen from a job: the job at the other end, the kind, and its window or outcome. */
export const DependencyLinkOut = Type.Object({
  job: JobRef,
  kind: lit(DEPENDENCY_KINDS),
  on: lit(DEPENDENCY_ONS),
  window_seconds: Nullable(Int),
});

export const DependencyLinks = Type.Object({
  upstream: Type.Array(DependencyLinkOut, { description: 'what this job depends on: jobs it requires a success of, or runs after' }),
  downstream: Type.Array(DependencyLinkOut, { description: 'what depends on this job: jobs that require it, or run after it' }),
});

/** The answer to adding a link: the same JSON as `smart-cron deps add --json`. */
export const DependencyChangeOut = Type.Object({
  change: lit(['new', 'updated', 'unchanged'] as const),
  job: JobRef,
  depends_on: DependencyLinkOut,
});

/** The answer to removing links: the same JSON as `smart-cron deps remove --json`. */
export const DependencyRemovedOut = Type.Object({
  job: JobRef,
  depends_on: JobRef,
  removed: Type.Array(lit(DEPENDENCY_KINDS), { description: 'the kinds of link removed' }),
});

// ---------------------------------------------------------------- requests

const MAX_ID = Number.MAX_SAFE_INTEGER;
export const RefParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: 'job id or name' }) });
export const IdParam = Type.Object({ id: Type.Integer({ minimum: 1, maximum: MAX_ID }) });
export const JobRefBody = Type.Object(
  { job: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Integer({ minimum: 1, maximum: MAX_ID })], { description: 'job name or id' }) },
  // As every other body: a misspelt or extra field is refused, not ignored.
  { additionalProperties: false },
);

export const SORT_PATTERN = `^(dashboard|-?(${SORTABLE.join('|')}))$`;
export const JobListQuery = Type.Object({
  health: Type.Optional(lit(HEALTH)),
  category: Type.Optional(Type.String({ maxLength: 100 })),
  tag: Type.Optional(Type.String({ maxLength: 100 })),
  source: Type.Optional(lit(['discovered', 'crontab', 'manual', 'file'] as const)),
  enabled: Type.Optional(Bool),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'substring of name, description, command or script path' })),
  sort: Type.Optional(Type.String({ pattern: SORT_PATTERN, description: `dashboard (default), or one of ${SORTABLE.join(', ')}; prefix - for descending` })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
});

export const RunPageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'only runs with a smaller id (keyset paging: pass next_before)' })),
  output: Type.Optional(Type.Boolean({ description: 'include output_tail' })),
});

export const RunListQuery = Type.Intersect([
  RunPageQuery,
  Type.Object({
    status: Type.Optional(Type.String({ pattern: `^(${RUN_STATUSES.join('|')})(,(${RUN_STATUSES.join('|')}))*$`, description: `one of ${RUN_STATUSES.join(', ')}, or several of them separated by commas` })),
    job: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  }),
]);

export const RunRequestBody = Type.Object(
  {
    args: Type.Optional(Type.Array(Type.String({ maxLength: 10_000 }), { maxItems: 1000 })),
    // additionalProperties: false, or JSON Schema lets keys that miss the pattern through.
    env: Type.Optional(Type.Record(Type.String({ pattern: ENV_NAME_PATTERN }), Type.String({ maxLength: 100_000 }), { additionalProperties: false, 'x-keys': ENV_NAME })),
  },
  { additionalProperties: false },
);

/** POST /api/jobs/:id/dependencies: a link as GET lists it, with `job` as a name or id. */
export const DependencyBody = Type.Object(
  {
    job: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Integer({ minimum: 1, maximum: MAX_ID })], {
      description: 'the other job (name or id): the one this job requires a success of, or runs after',
    }),
    kind: Type.Enum(DEPENDENCY_KINDS, { description: 'requires: this job needs a success of `job`; triggers: this job runs after `job`' }),
    window_seconds: Type.Optional(
      // Checked by windowSeconds (src/jobs/dependencies.ts), whose message says what a window may be.
      Type.Union([Type.Number(), Type.String({ maxLength: 50 }), Type.Null()], {
        description: `requires only: the success must be this recent, in whole seconds (1 to ${MAX_WINDOW_SECONDS}) or as a duration (30m, 6h, 2d, as \`deps add --within\`); null or absent: any success`,
      }),
    ),
    on: Type.Optional(Type.Enum(DEPENDENCY_ONS, { description: 'triggers only: the ends of a run of `job` that start this job (default success)' })),
  },
  { additionalProperties: false, description: 'kind requires: this job\'s scheduled runs need a success of `job` (within window_seconds); kind triggers: this job runs when a run of `job` ends with `on` (success by default).' },
);

export const DependencyParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200, description: 'the dependent job (id or name)' }),
  other: Type.String({ minLength: 1, maxLength: 200, description: 'the job it depends on (id or name)' }),
});

export const DependencyRemoveQuery = Type.Object({
  kind: Type.Optional(Type.Enum(DEPENDENCY_KINDS, { description: 'remove only the link of this kind (default: both)' })),
});
