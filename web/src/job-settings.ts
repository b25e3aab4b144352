/**
 * The job page's "Other settings": the rarer settings (the form's folded sections), each in
 * words, and only those that differ from the registry's defaults (DEFAULTS, the form's own), so
 * a job that is left at them shows nothing extra. Plain TypeScript: tested under Node.
 */
import { duration } from './format.js';
import { DEFAULTS } from './job-form-state.js';
import type { Job } from './types.js';

type Extra = keyof typeof DEFAULTS;

const secs = (s: number) => duration(s * 1000);
const isDefault = (job: Job, k: Extra) => JSON.stringify(job[k] ?? null) === JSON.stringify(DEFAULTS[k]);

/** [label, text] lines, in the form's order. Environment values are not shown (they may be secrets): only the names. */
export function otherSettings(job: Job): [string, string][] {
  const out: [string, string][] = [];
  const add = (label: string, parts: (string | false | null)[]) => {
    const text = parts.filter(Boolean).join(' · ');
    if (text) out.push([label, text]);
  };
  const changed = (k: Extra) => !isDefault(job, k);

  add('Runs as', [changed('working_dir') && `in ${job.working_dir}`, changed('run_as_user') && `user ${job.run_as_user}`]);
  const env = Object.keys(job.env ?? {});
  if (env.length) out.push(['Environment', env.join(', ')]);
  add('Catch-up', [
    job.misfire_policy === 'run_all' && changed('max_catchup_runs') && `at most ${job.max_catchup_runs} missed ticks`,
    job.starting_deadline_seconds !== null && `skipped when not started within ${secs(job.starting_deadline_seconds)}`,
  ]);
  add('Estimates', [
    changed('estimated_cpu_percent') && `CPU ${job.estimated_cpu_percent} %`,
    job.estimated_duration_seconds !== null && `duration ${secs(job.estimated_duration_seconds)}`,
    changed('cpu_weight') && `CPU weight ${job.cpu_weight}`,
    changed('memory_weight') && `memory weight ${job.memory_weight}`,
  ]);
  add('Retries also', [job.retry_on_timeout && 'after a timeout', job.retry_on_memory && 'after a memory kill']);
  add('Circuit breaker', [
    (changed('circuit_failure_threshold') || changed('circuit_cooldown_seconds')) &&
      `opens after ${job.circuit_failure_threshold} failures in a row, for ${secs(job.circuit_cooldown_seconds)} (doubling)`,
  ]);
  add('Requirements', [
    changed('requires_mode') && (job.requires_mode === 'wait' ? `wait up to ${secs(job.requires_wait_seconds)} for them` : 'skip the run when not met'),
  ]);
  add('Run now', [job.manual_respects_overlap && 'respects the overlap policy']);
  add('Alert mail to', [job.alert_emails.length > 0 && job.alert_emails.join(', ')]);
  add('Alert thresholds', [
    changed('consecutive_failure_threshold') && `critical after ${job.consecutive_failure_threshold} failures in a row`,
    job.missed_grace_seconds !== null && `missed after ${secs(job.missed_grace_seconds)} late`,
  ]);
  const labels = Object.entries(job.node_selector ?? {}).map(([k, v]) => `${k}=${v}`);
  add('Placement', [labels.length > 0 && `nodes labelled ${labels.join(', ')}`, job.pinned_node !== null && `pinned to ${job.pinned_node}`]);
  return out;
}
