/**
 * The rarer settings of a job (the dashboard form's folded sections): the registry's defaults
 * for them, and each one a job has off those defaults, in words. Read by `smart-cron jobs show`
 * and the dashboard (web/ imports this file, so it imports nothing).
 */

/** The registry's defaults (storage/migrations/0001_initial.ts), as the API presents a job. */
export const SETTING_DEFAULTS = {
  working_dir: null,
  run_as_user: null,
  env: {},
  max_catchup_runs: 100,
  starting_deadline_seconds: null,
  cpu_weight: 1,
  memory_weight: 1,
  estimated_cpu_percent: 10,
  estimated_duration_seconds: null,
  alert_emails: [],
  consecutive_failure_threshold: 3,
  missed_grace_seconds: null,
  circuit_failure_threshold: 5,
  circuit_cooldown_seconds: 1800,
  retry_on_timeout: false,
  retry_on_memory: false,
  requires_mode: 'skip',
  requires_wait_seconds: 3600,
  mutex_group: null,
  manual_respects_overlap: false,
  node_selector: {},
  pinned_node: null,
} as const;
export type SettingKey = keyof typeof SETTING_DEFAULTS;

/**
 * Every setting's default as the registry gives it to a job that does not state it (the rarer
 * ones above and the common ones), as the API presents a job: what `apply -f` puts back when a
 * file no longer gives a setting. (schedule, command and script_path have none.)
 */
export const JOB_DEFAULTS = {
  ...SETTING_DEFAULTS,
  description: null,
  shell: false,
  script_type: null,
  timezone: null,
  misfire_policy: 'skip',
  overlap_policy: 'forbid',
  category: 'other',
  priority: 'medium',
  slot: 'auto',
  timeout_seconds: 3600,
  estimated_memory_mb: 256,
  memory_limit_mb: null,
  alert_on_failure: true,
  alert_on_timeout: true,
  alert_on_high_memory: true,
  alert_on_high_duration: true,
  alert_on_missed: true,
  alert_on_hanging: true,
  retries: 0,
  retry_backoff_seconds: 30,
  enabled: true,
  tags: [],
} as const;

/** A job as the API presents it (JSON columns parsed): what otherSettings reads. */
export interface JobSettings {
  working_dir: string | null;
  run_as_user: string | null;
  env: Record<string, string> | null;
  misfire_policy: string;
  max_catchup_runs: number;
  starting_deadline_seconds: number | null;
  estimated_cpu_percent: number;
  cpu_weight: number;
  memory_weight: number;
  retry_on_timeout: boolean;
  retry_on_memory: boolean;
  circuit_failure_threshold: number;
  circuit_cooldown_seconds: number;
  requires_mode: string;
  requires_wait_seconds: number;
  manual_respects_overlap: boolean;
  alert_emails: string[];
  consecutive_failure_threshold: number;
  missed_grace_seconds: number | null;
  alert_on_failure: boolean;
  alert_on_timeout: boolean;
  alert_on_high_memory: boolean;
  alert_on_high_duration: boolean;
  alert_on_missed: boolean;
  alert_on_hanging: boolean;
  node_selector: Record<string, string> | null;
  pinned_node: string | null;
}

/** The alert switches, in the form's order, as `jobs set` names them and in words. */
const ALERT_SWITCHES = [
  ['alert_on_failure', 'failure'],
  ['alert_on_timeout', 'timeout'],
  ['alert_on_high_memory', 'high memory'],
  ['alert_on_high_duration', 'high duration'],
  ['alert_on_missed', 'missed'],
  ['alert_on_hanging', 'hanging'],
] as const satisfies readonly (readonly [keyof JobSettings, string])[];

/**
 * [label, text] for each rarer setting off its default, in the form's order; nothing for a job
 * left at them. (The estimated duration is not among them: both show it beside the limits.) Environment values are not shown (they may be secrets), only the names.
 * `secs` writes a number of seconds as the caller's output does.
 */
export function otherSettings(job: JobSettings, secs: (s: number) => string): [string, string][] {
  const out: [string, string][] = [];
  const changed = (k: SettingKey & keyof JobSettings) => JSON.stringify(job[k] ?? null) !== JSON.stringify(SETTING_DEFAULTS[k]);
  const add = (label: string, parts: (string | false | null)[]) => {
    const text = parts.filter(Boolean).join(' · ');
    if (text) out.push([label, text]);
  };

  add('Runs as', [changed('working_dir') && `in ${job.working_dir}`, changed('run_as_user') && `user ${job.run_as_user}`]);
  add('Environment', [Object.keys(job.env ?? {}).join(', ')]);
  add('Catch-up', [
    job.misfire_policy === 'run_all' && changed('max_catchup_runs') && `at most ${job.max_catchup_runs} missed ticks`,
    job.starting_deadline_seconds !== null && `skipped when not started within ${secs(job.starting_deadline_seconds)}`,
  ]);
  add('Estimates', [
    changed('estimated_cpu_percent') && `CPU ${job.estimated_cpu_percent} %`,
    changed('cpu_weight') && `CPU weight ${job.cpu_weight}`,
    changed('memory_weight') && `memory weight ${job.memory_weight}`,
  ]);
  add('Retries also', [job.retry_on_timeout && 'after a timeout', job.retry_on_memory && 'after a memory kill']);
  add('Circuit breaker', [
    (changed('circuit_failure_threshold') || changed('circuit_cooldown_seconds')) &&
      `opens after ${job.circuit_failure_threshold} failures in a row, for ${secs(job.circuit_cooldown_seconds)} (doubling)`,
  ]);
  add('Requirements', [changed('requires_mode') && (job.requires_mode === 'wait' ? `wait up to ${secs(job.requires_wait_seconds)} for them` : 'skip the run when not met')]);
  add('Run now', [job.manual_respects_overlap && 'respects the overlap policy']);
  add('Alert mail to', [job.alert_emails.join(', ')]);
  // The switches are on by default: a switch turned off is the one thing worth saying.
  add('Alerts off', [ALERT_SWITCHES.filter(([k]) => !job[k]).map(([, words]) => words).join(', ')]);
  const n = job.consecutive_failure_threshold;
  add('Alert thresholds', [
    changed('consecutive_failure_threshold') && (n === 1 ? 'every failure alone (no "in a row" alert)' : `critical after ${n} failures in a row`),
    job.missed_grace_seconds !== null && `missed after ${secs(job.missed_grace_seconds)} late`,
  ]);
  const labels = Object.entries(job.node_selector ?? {}).map(([k, v]) => `${k}=${v}`);
  add('Placement', [labels.length > 0 && `nodes labelled ${labels.join(', ')}`, job.pinned_node !== null && `pinned to ${job.pinned_node}`]);
  return out;
}
