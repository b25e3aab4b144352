/**
 * Create or configure a job. On edit only the changed fields are sent: every field a person
 * sets is remembered as theirs, and re-discovery must keep updating the rest.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { commandLine } from '../format';
import type { Job } from '../types';
import { splitWords } from '../words';

export type Kind = 'command' | 'shell' | 'script';
/** What happens when a tick comes while the last run still goes, and after downtime (the registry's values, in words). */
const OVERLAP: [string, string][] = [
  ['forbid', 'skip the new tick (forbid)'],
  ['queue', 'run it after the one going (queue)'],
  ['allow', 'run both at once (allow)'],
  ['replace', 'stop the one going, start anew (replace)'],
];
const MISFIRE: [string, string][] = [
  ['skip', 'skip the missed ticks (skip)'],
  ['run_once', 'run once for them all (run once)'],
  ['run_all', 'run each missed tick (run all)'],
];
const ALERTS = ['failure', 'timeout', 'high_memory', 'high_duration', 'missed', 'hanging'] as const;
const ALERT_LABEL: Record<(typeof ALERTS)[number], string> = {
  failure: 'a run fails',
  timeout: 'a run times out',
  high_memory: 'memory > 1.5 × baseline',
  high_duration: 'duration > 2 × baseline',
  missed: 'a run is missed',
  hanging: 'a run hangs',
};

export interface FormState {
  name: string;
  description: string;
  kind: Kind;
  command: string;
  script_path: string;
  schedule: string;
  timezone: string;
  priority: string;
  category: string;
  slot: string;
  timeout_seconds: string;
  estimated_memory_mb: string;
  memory_limit_mb: string;
  overlap_policy: string;
  misfire_policy: string;
  retries: string;
  retry_backoff_seconds: string;
  tags: string;
  enabled: boolean;
  alerts: Record<(typeof ALERTS)[number], boolean>;
}

export function initialState(job?: Job): FormState {
  return {
    name: job?.name ?? '',
    description: job?.description ?? '',
    kind: job?.script_path ? 'script' : job?.shell ? 'shell' : 'command',
    command: job && !job.script_path ? commandLine(job) : '',
    script_path: job?.script_path ?? '',
    schedule: job?.schedule ?? '',
    timezone: job?.timezone ?? '',
    priority: job?.priority ?? 'medium',
    category: job?.category ?? '',
    slot: job?.slot ?? 'auto',
    timeout_seconds: job ? String(job.timeout_seconds) : '',
    estimated_memory_mb: job ? String(job.estimated_memory_mb) : '',
    memory_limit_mb: job?.memory_limit_mb ? String(job.memory_limit_mb) : '',
    // New jobs start with the registry's defaults.
    overlap_policy: job?.overlap_policy ?? 'forbid',
    misfire_policy: job?.misfire_policy ?? 'skip',
    retries: String(job?.retries ?? 0),
    retry_backoff_seconds: String(job?.retry_backoff_seconds ?? 30),
    tags: job?.tags.join(', ') ?? '',
    enabled: job?.enabled ?? true,
    // New jobs start with every alert on, as the registry's defaults do.
    alerts: Object.fromEntries(ALERTS.map((a) => [a, job ? job[`alert_on_${a}`] : true])) as FormState['alerts'],
  };
}

type Body = Record<string, unknown>;

/** A number input into body[key]; `whole`: the message when it must be a whole number and is not. */
function numberField(body: Body, key: string, text: string, nullable: boolean, errors: Record<string, string>, whole?: string): void {
  const t = text.trim();
  if (t === '') {
    if (nullable) body[key] = null;
    return;
  }
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) errors[key] = 'expected a positive number';
  else if (whole && !Number.isInteger(n)) errors[key] = whole;
  else body[key] = n;
}

/** The whole definition as the API takes it, or the client-side errors (by field). */
export function toBody(s: FormState): { body: Body; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const body: Body = { schedule: s.schedule.trim(), priority: s.priority, slot: s.slot.trim() || 'auto', enabled: s.enabled };
  if (s.name.trim()) body.name = s.name.trim();
  body.description = s.description.trim() || null;
  if (s.kind === 'script') {
    if (!s.script_path.trim()) errors.script_path = 'give the path of the script';
    else body.script_path = s.script_path.trim();
  } else if (!s.command.trim()) {
    errors.command = 'give the command to run';
  } else if (s.kind === 'shell') {
    body.command = [s.command.trim()];
    body.shell = true;
  } else {
    try {
      body.command = splitWords(s.command);
      body.shell = false;
    } catch (e) {
      errors.command = (e as Error).message;
    }
  }
  if (s.timezone.trim()) body.timezone = s.timezone.trim();
  if (s.category.trim()) body.category = s.category.trim();
  numberField(body, 'timeout_seconds', s.timeout_seconds, false, errors, 'expected whole seconds');
  numberField(body, 'estimated_memory_mb', s.estimated_memory_mb, false, errors);
  numberField(body, 'memory_limit_mb', s.memory_limit_mb, true, errors);
  body.overlap_policy = s.overlap_policy;
  body.misfire_policy = s.misfire_policy;
  for (const k of ['retries', 'retry_backoff_seconds'] as const) numberField(body, k, s[k], false, errors, 'expected a whole number');
  body.tags = s.tags.split(/[\s,]+/).filter(Boolean);
  for (const a of ALERTS) body[`alert_on_${a}`] = s.alerts[a];
  if (!body.schedule) errors.schedule = 'give a cron expression';
  return { body, errors };
}

/** Only what differs from the job as loaded. */
export function changes(body: Body, original: Body): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) {
    if (JSON.stringify(v) !== JSON.stringify(original[k])) out[k] = v;
  }
  // Changing between command and shell line changes both keys together.
  if ('command' in out || 'shell' in out) {
    if (body.command !== undefined) out.command = body.command;
    if (body.shell !== undefined) out.shell = body.shell;
  }
  return out;
}

/** The API names fields like `tags.0` or `alert_on_failure`; the form shows them at the input they came from. */
export function formField(field: string | null): string | null {
  if (!field) return null;
  const top = field.replace(/^(body|job)[./]/, '').split(/[./[]/)[0]!;
  if (top === 'shell') return 'command';
  if (top.startsWith('alert_on_')) return 'alerts';
  return top;
}

export interface JobFormProps {
  job?: Job;
  slots: string[];
  busy: boolean;
  error: ApiError | null;
  onSubmit: (s: FormState) => Promise<Record<string, string> | void>;
  onCancel: () => void;
}

export { ALERTS, ALERT_LABEL, MISFIRE, OVERLAP };
