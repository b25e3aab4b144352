import { NotFoundError } from '../../errors.js';
import type { Job } from '../../jobs/job.js';
import type { RunRow } from '../../storage/schema.js';
import type { ApiContext } from '../types.js';

/** A job by name or id; the 404 names the parameter the caller used. */
export async function requireJob(ctx: ApiContext, ref: string | number, field: string): Promise<Job> {
  const job = await ctx.app.jobs.findJob(ref);
  if (!job) throw new NotFoundError(`${field}: no job with the name or id "${ref}"`, field);
  return job;
}

export async function requireRun(ctx: ApiContext, id: number, field = 'id'): Promise<RunRow> {
  const run = await ctx.app.jobs.history.byId(id);
  if (!run) throw new NotFoundError(`${field}: no run with id ${id}`, field);
  return run;
}

/** Keyset paging: the id to pass as ?before= for the next page, or null on the last page. */
export function nextBefore(rows: { id: number }[], limit: number): number | null {
  return rows.length === limit ? rows[rows.length - 1]!.id : null;
}
