/**
 * The one schema of <home>/config.yaml. Every key is optional; Value.Default fills the
 * documented defaults, so the schema is also where the defaults are stated.
 */
import Type, { type Static } from 'typebox';
import { EMAIL, EMAIL_PATTERN, NODE_ID, NODE_ID_PATTERN } from '../shapes.js';

export { NODE_ID, NODE_ID_PATTERN };

const SlotBudget = Type.Object(
  {
    max_concurrent_jobs: Type.Integer({ minimum: 1, maximum: 10000 }),
    max_memory_mb: Type.Number({ minimum: 1 }),
    max_cpu_percent: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);
export type SlotBudget = Static<typeof SlotBudget>;

export const DEFAULT_SLOTS: Record<string, SlotBudget> = {
  default: { max_concurrent_jobs: 5, max_memory_mb: 3072, max_cpu_percent: 80 },
  heavy: { max_concurrent_jobs: 2, max_memory_mb: 4096, max_cpu_percent: 90 },
  light: { max_concurrent_jobs: 10, max_memory_mb: 1024, max_cpu_percent: 50 },
};

/**
 * Time settings are bounded: Node's timers hold at most 2^31-1 ms (24.8 days); past that a
 * timer fires at once (every 1 ms for an interval), so "huge" must be refused, not wrapped.
 * The bounds are far beyond any sensible value and well inside what a timer can hold.
 */
const MAX_TIMEOUT_MS = 600_000;
export const MAX_HISTORY_DAYS = 36500;

const Webhook = Type.Object(
  {
    /** The whole URL is checked in load.ts (a host, a port in range). */
    url: Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL' }),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('slack')], { default: 'json' })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: MAX_TIMEOUT_MS, default: 5000 })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, default: 3 })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    database: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * The zone of jobs without their own, for every process of this home: the daemon and each
     * CLI command, whatever TZ their shells have. Default: the machine's (/etc/localtime).
     */
    timezone: Type.Optional(Type.String({ minLength: 1, description: 'an IANA timezone such as Europe/Berlin' })),
    api: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 7420 }),
        /** Serve the API on a non-loopback address; refused unless a token exists. */
        allow_remote: Type.Boolean({ default: false }),
        /** Base URL the alert links point to (default http://host:port); the whole URL is checked in load.ts. */
        public_url: Type.Optional(Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL' })),
      },
      { additionalProperties: false, default: {} },
    ),
    host: Type.Object(
      {
        reserve_mb: Type.Union([Type.Literal('auto'), Type.Number({ minimum: 0 })], { default: 'auto' }),
        /** Memory PSI some avg10 (%) above which no new run is admitted; 0 disables the veto. */
        psi_veto: Type.Number({ minimum: 0, maximum: 100, default: 10 }),
      },
      { additionalProperties: false, default: {} },
    ),
    slots: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }), SlotBudget, { default: DEFAULT_SLOTS }),
    execution: Type.Object(
      {
        enforcement: Type.Union(
          [Type.Literal('auto'), Type.Literal('cgroup2'), Type.Literal('cgroup1'), Type.Literal('portable')],
          { default: 'auto' },
        ),
        sample_interval_ms: Type.Integer({ minimum: 10, maximum: 100, default: 100 }),
        /**
         * How early a scheduled run is planned, admitted and its process prepared, so that its
         * command starts on the instant however many runs are due together (0: at the instant).
         * Not a whole second: the preparation for one second's ticks then never falls on the
         * instant of another's (cron ticks are whole seconds).
         */
        start_lead_ms: Type.Integer({ minimum: 0, maximum: 10_000, default: 750 }),
        /** Between SIGTERM and SIGKILL: an hour is more than any clean shutdown needs. */
        kill_grace_seconds: Type.Number({ minimum: 0, maximum: 3600, default: 10 }),
        /** Bytes of output kept in the history row (head and tail). */
        output_tail_bytes: Type.Integer({ minimum: 1024, default: 65536 }),
        /** Size cap of each run's log file. */
        log_max_bytes: Type.Integer({ minimum: 4096, default: 10 * 1024 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    node: Type.Object(
      {
        /** This machine's name among nodes (--node-id and SMART_CRON_NODE_ID win; default the hostname). */
        id: Type.Optional(Type.String({ pattern: NODE_ID_PATTERN, description: NODE_ID })),
        labels: Type.Record(Type.String(), Type.String(), { default: {} }),
        /** Each heartbeat is a database write (and a failover check): not more than twice a second. */
        heartbeat_seconds: Type.Number({ minimum: 0.5, maximum: 3600, default: 5 }),
        /** At least MIN_LEASE_HEARTBEATS heartbeats long (checked in load.ts); a day at most. */
        lease_seconds: Type.Number({ minimum: 1, maximum: 86400, default: 30 }),
      },
      { additionalProperties: false, default: {} },
    ),
    alerts: Type.Object(
      {
        email: Type.Object(
          {
            /** smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://… (TLS from the start); the whole URL is checked in load.ts. */
            smtp_url: Type.String({ pattern: '^smtps?://', description: 'an smtp:// or smtps:// URL', default: 'smtp://127.0.0.1:25' }),
            from: Type.String({ pattern: EMAIL_PATTERN, description: EMAIL, default: 'smart-cron@localhost' }),
            to: Type.Array(Type.String({ pattern: EMAIL_PATTERN, description: EMAIL }), { default: [] }),
            /** Credentials kept out of the URL; `password_file` keeps the secret out of config.yaml too. */
            user: Type.Optional(Type.String()),
            password: Type.Optional(Type.String()),
            /** Relative to the home; read at each first mail, so doctor and the daemon's start only warn when it cannot be read. */
            password_file: Type.Optional(Type.String()),
            /** Refuse to send unless the server upgrades to TLS (STARTTLS). */
            require_tls: Type.Boolean({ default: false }),
            /** Accept self-signed server certificates (only for a trusted relay). */
            tls_reject_unauthorized: Type.Boolean({ default: true }),
            timeout_ms: Type.Integer({ minimum: 100, maximum: MAX_TIMEOUT_MS, default: 10000 }),
            retries: Type.Integer({ minimum: 0, maximum: 20, default: 2 }),
          },
          { additionalProperties: false, default: {} },
        ),
        webhooks: Type.Array(Webhook, { default: [] }),
        /** First retry delay of a failed delivery; each further retry waits twice as long. */
        retry_backoff_ms: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 1000 }),
        /** Notifications per channel per hour before a digest replaces them. */
        rate_limit_per_hour: Type.Integer({ minimum: 1, default: 20 }),
        missed_grace_seconds: Type.Integer({ minimum: 0, default: 300 }),
        /** A run is hanging when it has run this many times its baseline duration. */
        hanging_factor: Type.Number({ exclusiveMinimum: 1, default: 3 }),
        high_memory_factor: Type.Number({ exclusiveMinimum: 0, default: 1.5 }),
        high_duration_factor: Type.Number({ exclusiveMinimum: 0, default: 2 }),
        /**
         * A high-memory or high-duration run must also exceed its baseline by at least this much,
         * so a small job's jitter (0.4 MB against 0.7 MB, 60 ms against 20 ms) raises nothing.
         * The duration floor holds for a hanging run too. 0: the factor alone decides.
         */
        high_memory_min_excess_mb: Type.Number({ minimum: 0, default: 16 }),
        high_duration_min_excess_seconds: Type.Number({ minimum: 0, default: 1 }),
        /** Failures in a row that raise the critical "failing" alert; 1: none (each failure already has its alert). */
        consecutive_failure_threshold: Type.Integer({ minimum: 1, default: 3 }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        /** As `prune --days`: further back than any run, and a cut-off the date arithmetic can still express. */
        history_days: Type.Number({ exclusiveMinimum: 0, maximum: MAX_HISTORY_DAYS, default: 90 }),
        max_runs_per_job: Type.Integer({ minimum: 1, default: 10000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type FileConfig = Static<typeof ConfigSchema>;
