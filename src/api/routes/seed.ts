/**
 * The seed's five endpoints, by their names: they take the job by name or id in
 * {"job": …} (or ?job=). Registered as static paths, which the router prefers over
 * /api/jobs/:id, so a job named "list" or "history" is reached by its id there.
 */
import Type from 'typebox';
import { presentRun, presentRuns, jobOut } from '../present.js';
import { ErrorBody, JobList, JobListQuery, JobOut, JobRefBody, RunList, RunOut, RunPageQuery } from '../schemas.js';
import type { Api, ApiContext } from '../types.js';
import { nextBefore, requireJob } from './common.js';
import { listJobs } from './jobs.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['seed'];

export function registerSeedRoutes(server: Api, ctx: ApiContext): void {
  const jm = ctx.app.jobs;

  server.get(
    '/api/jobs/list',
    { schema: { tags, summary: 'List jobs (the seed endpoint; same query and answer as GET /api/jobs)', querystring: JobListQuery, response: { 200: JobList, 400: ErrorBody } } },
    async (req) => listJobs(ctx, req.query),
  );

  for (const action of ['enable', 'disable'] as const) {
    server.post(
      `/api/jobs/${action}`,
      { schema: { tags, summary: `${action === 'enable' ? 'Enable' : 'Disable'} the job {"job": name or id}`, body: JobRefBody, response: { 200: JobOut, ...errors } } },
      async (req) => {
        const job = await requireJob(ctx, req.body.job, 'job');
        return jobOut(action === 'enable' ? await jm.enableJob(job.id) : await jm.disableJob(job.id), ctx.now());
      },
    );
  }

  server.post(
    '/api/jobs/execute',
    { schema: { tags, summary: 'Run the job {"job": name or id} now; answers 202 with the queued run', body: JobRefBody, response: { 202: RunOut, ...errors } } },
    async (req, reply) => {
      const job = await requireJob(ctx, req.body.job, 'job');
      const run = await ctx.executor.requestRun({ job: job.id });
      reply.code(202).header('location', `/api/runs/${run.id}`);
      return presentRun(run, { jobName: job.name });
    },
  );

  server.get(
    '/api/jobs/history',
    {
      schema: {
        tags,
        summary: "The job's runs, newest first, with every history column (?job=name or id)",
        querystring: Type.Intersect([Type.Object({ job: Type.String({ minLength: 1, maxLength: 200 }) }), RunPageQuery]),
        response: { 200: RunList, ...errors },
      },
    },
    async (req) => {
      const job = await requireJob(ctx, req.query.job, 'job');
      const limit = req.query.limit ?? 50;
      const rows = await jm.history.list({ jobId: job.id, beforeId: req.query.before, limit });
      return { runs: await presentRuns(ctx.app.database, rows, req.query.output ?? true), next_before: nextBefore(rows, limit) };
    },
  );
}
