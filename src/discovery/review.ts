/**
 * `smart-cron review`: the discovered and imported jobs nobody has enabled yet, with every
 * guess and its reason, so a person can enable them one by one or a whole category.
 */
import { ValidationError } from '../errors.js';
import { jobOverrides, missingLabel, missingWhat, parseJson, type Job } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { scheduleStillGuessed, standingReasons, warningsOf } from './reasons.js';

export interface ReviewRow {
  name: string;
  source: string;
  type: string;
  schedule: string;
  schedule_guessed: boolean;
  /** Where the schedule came from ("guessed from "nightly" in name", "annotation"); null once a person set it. */
  schedule_reason: string | null;
  category: string;
  category_reason: string | null;
  priority: string;
  priority_reason: string | null;
  estimated_memory_mb: number;
  timeout_seconds: number;
  estimate_reason: string | null;
  description: string | null;
  missing: boolean;
  /** Crontab entries: whether the line was active (not commented out) in the crontab. */
  active_in_crontab: boolean | null;
  script_path: string | null;
  warnings: string[];
}

/** A job under review with discovery's reasons, except for fields a person has set since (as `jobs show`). */
export function reviewRow(j: Job): ReviewRow {
  const info = parseJson<Record<string, unknown>>(j.discovery_info, {});
  const overrides = jobOverrides(j);
  const why = new Map(standingReasons(info, overrides));
  return {
    name: j.name,
    source: j.source,
    type: j.script_type ?? (j.shell ? 'shell' : 'command'),
    schedule: j.schedule,
    schedule_guessed: scheduleStillGuessed(info, overrides),
    schedule_reason: why.get('schedule') ?? null,
    category: j.category,
    category_reason: why.get('category') ?? null,
    priority: j.priority,
    priority_reason: why.get('priority') ?? null,
    estimated_memory_mb: j.estimated_memory_mb,
    timeout_seconds: j.timeout_seconds,
    estimate_reason: why.get('memory') ?? null,
    description: j.description,
    missing: j.missing === 1,
    active_in_crontab: typeof info.active_in_crontab === 'boolean' ? info.active_in_crontab : null,
    script_path: j.script_path,
    warnings: warningsOf(info),
  };
}

/** Disabled jobs that came from discovery or a crontab, optionally of one category. */
export async function reviewList(jm: JobManager, opts: { category?: string } = {}): Promise<ReviewRow[]> {
  const { jobs } = await jm.listJobs({ enabled: false, category: opts.category, sort: 'name' });
  return jobs.filter((j) => j.source === 'discovered' || j.source === 'crontab').map(reviewRow);
}

export interface EnableResult {
  enabled: Job[];
  /** Jobs of the category that were left disabled, and why. */
  skipped: { name: string; reason: string }[];
}

/** Enable named jobs (every name checked first, so a typo changes nothing) or a whole category under review. */
export async function reviewEnable(jm: JobManager, opts: { names?: string[]; category?: string }): Promise<EnableResult> {
  const out: EnableResult = { enabled: [], skipped: [] };
  if (opts.names?.length) {
    const jobs = [];
    for (const n of opts.names) jobs.push(await jm.getJob(n));
    const missing = jobs.filter((j) => j.missing);
    if (missing.length) {
      throw new ValidationError(`cannot enable ${missing.map((j) => `"${j.name}"`).join(', ')}: ${missingWhat(missing[0]!)}; restore it or remove the job`, 'enable');
    }
    for (const j of jobs) out.enabled.push(await jm.enableJob(j.id));
    return out;
  }
  if (opts.category) {
    const rows = await reviewList(jm, { category: opts.category });
    if (rows.length === 0) throw new ValidationError(`--enable-category: no disabled discovered or imported job in category "${opts.category}" (see \`smart-cron review\`)`, 'enable-category');
    for (const r of rows) {
      if (r.missing) out.skipped.push({ name: r.name, reason: missingLabel(r) });
      else out.enabled.push(await jm.enableJob(r.name));
    }
  }
  return out;
}
