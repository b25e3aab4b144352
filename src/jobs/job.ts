/**
 * The job as the rest of the program sees it: the registry row plus its tags, and the
 * one conversion to the JSON users see (snake_case columns, real booleans, parsed lists).
 */
import type { JobRow, RunStatus } from '../storage/schema.js';
import { executionStatus, healthStatus, type ExecutionStatus, type HealthStatus } from './health.js';

export interface Job extends JobRow {
  tags: string[];
}

/**
 * What is gone of a job marked missing: its script (discovery), or its entry in the crontab it was
 * imported from (crontab import; such a job has no script of its own).
 */
export function missingWhat(job: Pick<JobRow, 'script_path'>): string {
  return job.script_path ? `its script ${job.script_path} is missing` : 'its crontab entry is gone';
}

/** The same, in two words for a list or a label. */
export function missingLabel(job: Pick<JobRow, 'script_path'>): string {
  return job.script_path ? 'script missing' : 'crontab entry gone';
}

/**
 * Under which key discovery or an import remembers that a person removed a job it found: the
 * script's path for a discovered job, the name (derived from the entry) for an imported crontab
 * entry; null for a job a person registered (nothing would bring it back).
 */
export function dismissalKey(job: Pick<JobRow, 'source' | 'script_path' | 'name'>): string | null {
  if (job.source === 'discovered' && job.script_path) return scriptKey(job.script_path);
  if (job.source === 'crontab') return crontabKey(job.name);
  return null;
}
export const scriptKey = (path: string): string => `script:${path}`;
export const crontabKey = (name: string): string => `crontab:${name}`;

/** Outcomes that count as a failed execution of the job itself. */
export const FAILURE_STATUSES: readonly RunStatus[] = ['failed', 'timeout', 'memory_limit', 'oom_killed'];
/** Outcomes that count as executions in the job's counters. */
export const EXECUTED_STATUSES: readonly RunStatus[] = ['succeeded', ...FAILURE_STATUSES];

export const BOOLEAN_COLUMNS = [
  'shell',
  'enabled',
  'missing',
  'alert_on_failure',
  'alert_on_timeout',
  'alert_on_high_memory',
  'alert_on_high_duration',
  'alert_on_missed',
  'alert_on_hanging',
  'retry_on_timeout',
  'retry_on_memory',
  'manual_respects_overlap',
] as const;

export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function jobArgv(job: Pick<JobRow, 'command'>): string[] | null {
  return parseJson<string[] | null>(job.command, null);
}

export function jobOverrides(job: Pick<JobRow, 'user_overrides'>): string[] {
  return parseJson<string[]>(job.user_overrides, []);
}

export type PresentedJob = Record<string, unknown> & {
  id: number;
  name: string;
  health_status: HealthStatus;
  execution_status: ExecutionStatus;
};

/** The JSON form of a job for the API and `--json`. */
export function presentJob(job: Job, nowMs: number): PresentedJob {
  const out: Record<string, unknown> = { ...job };
  for (const c of BOOLEAN_COLUMNS) out[c] = Boolean(job[c]);
  out.command = parseJson(job.command, null);
  out.env = parseJson(job.env, {});
  out.alert_emails = parseJson(job.alert_emails, []);
  out.node_selector = parseJson(job.node_selector, {});
  out.user_overrides = parseJson(job.user_overrides, []);
  out.discovery_info = parseJson(job.discovery_info, null);
  out.health_status = healthStatus(job, nowMs);
  out.execution_status = executionStatus(job, nowMs);
  return out as PresentedJob;
}
