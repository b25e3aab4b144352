/**
 * /api/jobs as a resource: list with server-side filters, sorting and paging, one job with
 * its next runs, create, change, delete, enable/disable, run now, its runs and its trends.
 */
import Type, { type Static } from 'typebox';
import { ConflictError } from '../../errors.js';
import { JobDefinition, JobPatch } from '../../jobs/definition.js';
import { parseSchedule } from '../../schedule/cron.js';
import { iso } from '../../clock.js';
import type { Job } from '../../jobs/job.js';
import { jobOut, presentRun, presentRuns } from '../present.js';
import { ErrorBody, JobDetail, JobList, JobListQuery, JobOut, RefParam, RunList, RunOut, RunPageQuery, RunRequestBody, TrendOut } from '../schemas.js';
import type { Api, ApiContext } from '../types.js';
import { nextBefore, requireJob } from './common.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['jobs'];

export type JobListQuery = Static<typeof JobListQuery>;

/** Shared by GET /api/jobs and the seed's GET /api/jobs/list. */
export async function listJobs(ctx: ApiContext, q: JobListQuery) {
  const limit = q.limit ?? 50;
  const offset = q.offset ?? 0;
  const { jobs, total } = await ctx.app.jobs.listJobs({
    health: q.health,
    category: q.category,
    tag: q.tag,
    source: q.source,
    enabled: q.enabled,
    text: q.q,
    sort: q.sort ?? 'dashboard',
    limit,
    offset,
  });
  const now = ctx.now();
  return { jobs: jobs.map((j) => jobOut(j, now)), total, limit, offset };
}

export function nextRuns(job: Pick<Job, 'schedule' | 'timezone'>, fromMs: number, n = 5): string[] {
  try {
    return parseSchedule(job.schedule, job.timezone).nextRuns(fromMs, n).map((t) => iso(t));
  } catch {
    return [];
  }
}

export function registerJobRoutes(server: Api, ctx: ApiContext): void {
  const jm = ctx.app.jobs;

  server.get(
    '/api/jobs',
    { schema: { tags, summary: 'List jobs (filters, sort, paging; default order = the dashboard order)', querystring: JobListQuery, response: { 200: JobList, 400: ErrorBody } } },
    async (req) => listJobs(ctx, req.query),
  );

  server.get(
    '/api/jobs/:id',
    { schema: { tags, summary: 'One job (by id or name) with its next 5 run times', params: RefParam, response: { 200: JobDetail, ...errors } } },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const now = ctx.now();
      return { ...jobOut(job, now), next_runs: nextRuns(job, now) };
    },
  );

  server.post(
    '/api/jobs',
    { schema: { tags, summary: 'Register a job (enabled unless enabled: false)', body: JobDefinition, response: { 201: JobOut, ...errors } } },
    async (req, reply) => {
      const name = req.body.name;
      if (await jm.jobs.byName(name)) throw new ConflictError(`name: a job named "${name}" exists already (change it with PATCH /api/jobs/${encodeURIComponent(name)})`, 'name');
      const { job } = await jm.registerJob(req.body, { source: 'manual', byUser: true });
      reply.code(201).header('location', `/api/jobs/${job.id}`);
      return jobOut(job, ctx.now());
    },
  );

  server.patch(
    '/api/jobs/:id',
    { schema: { tags, summary: 'Change some fields of a job (they become user overrides)', params: RefParam, body: JobPatch, response: { 200: JobOut, ...errors } } },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const { job: updated } = await jm.updateJob(job.id, req.body);
      return jobOut(updated, ctx.now());
    },
  );

  server.delete(
    '/api/jobs/:id',
    { schema: { tags, summary: 'Remove a job (its history goes with it)', params: RefParam, response: { 200: JobOut, ...errors } } },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      return jobOut(await jm.removeJob(job.id), ctx.now());
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    server.post(
      `/api/jobs/:id/${action}`,
      { schema: { tags, summary: `${action === 'enable' ? 'Enable' : 'Disable'} a job`, params: RefParam, response: { 200: JobOut, ...errors } } },
      async (req) => {
        const job = await requireJob(ctx, req.params.id, 'id');
        const changed = action === 'enable' ? await jm.enableJob(job.id) : await jm.disableJob(job.id);
        return jobOut(changed, ctx.now());
      },
    );
  }

  server.post(
    '/api/jobs/:id/run',
    {
      schema: {
        tags,
        summary: 'Run a job now (queued through the same admission as scheduled runs)',
        params: RefParam,
        body: RunRequestBody,
        response: { 202: RunOut, ...errors },
      },
    },
    async (req, reply) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const run = await ctx.executor.requestRun({ job: job.id, args: req.body?.args, env: req.body?.env });
      reply.code(202).header('location', `/api/runs/${run.id}`);
      return presentRun(run, { jobName: job.name });
    },
  );

  server.get(
    '/api/jobs/:id/runs',
    { schema: { tags, summary: "A job's runs, newest first (keyset paging with before=next_before)", params: RefParam, querystring: RunPageQuery, response: { 200: RunList, ...errors } } },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const limit = req.query.limit ?? 50;
      const rows = await jm.history.list({ jobId: job.id, beforeId: req.query.before, limit });
      return { runs: await presentRuns(ctx.app.database, rows, req.query.output ?? false), next_before: nextBefore(rows, limit) };
    },
  );

  server.get(
    '/api/jobs/:id/trends',
    {
      schema: {
        tags,
        summary: "A job's performance per day (the seed's smart_cron_job_performance_trends)",
        params: RefParam,
        querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 30 })) }),
        response: { 200: Type.Object({ job_id: Type.Integer(), days: Type.Integer(), trends: Type.Array(TrendOut) }), ...errors },
      },
    },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const days = req.query.days ?? 30;
      return { job_id: job.id, days, trends: await jm.getPerformanceTrends(job.id, { days }) };
    },
  );
}
