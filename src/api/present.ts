/**
 * The JSON forms of runs and alerts (jobs have theirs in src/jobs/job.ts), and the
 * batch lookup of job names, so a list of 50 runs costs one extra query, not 50.
 */
import { parseJson, presentJob, type Job } from '../jobs/job.js';
import type { Database } from '../storage/database.js';
import type { AlertRow, RunRow } from '../storage/schema.js';
import type { AlertOut, JobOut, RunOut } from './schemas.js';

export function presentRun(run: RunRow, opts: { jobName?: string; output?: boolean } = {}): RunOut {
  const out: Record<string, unknown> = { ...run };
  out.output_truncated = Boolean(run.output_truncated);
  out.args = parseJson<string[] | null>(run.args, null);
  out.env_extra = parseJson<Record<string, string> | null>(run.env_extra, null);
  delete out.recorded;
  delete out.pid_start;
  if (opts.output === false) delete out.output_tail;
  if (opts.jobName !== undefined) out.job_name = opts.jobName;
  return out as RunOut;
}

export function presentAlert(alert: AlertRow, jobName?: string | null): AlertOut {
  return { ...alert, job_name: jobName ?? null, open: alert.resolved_at === null } as AlertOut;
}

export function jobOut(job: Job, nowMs: number): JobOut {
  return presentJob(job, nowMs) as unknown as JobOut;
}

export async function jobNames(database: Database, ids: Iterable<number | null>): Promise<Map<number, string>> {
  const uniq = [...new Set([...ids].filter((x): x is number => typeof x === 'number'))];
  const out = new Map<number, string>();
  for (let i = 0; i < uniq.length; i += 500) {
    const rows = await database.db
      .selectFrom('smart_cron_integrated_jobs')
      .select(['id', 'name'])
      .where('id', 'in', uniq.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(r.id, r.name);
  }
  return out;
}

export async function presentRuns(database: Database, runs: RunRow[], output = true): Promise<RunOut[]> {
  const names = await jobNames(database, runs.map((r) => r.job_id));
  return runs.map((r) => presentRun(r, { jobName: names.get(r.job_id), output }));
}

export async function presentAlerts(database: Database, alerts: AlertRow[]): Promise<AlertOut[]> {
  const names = await jobNames(database, alerts.map((a) => a.job_id));
  return alerts.map((a) => presentAlert(a, a.job_id === null ? null : names.get(a.job_id)));
}
