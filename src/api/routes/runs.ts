/**
 * /api/runs: across jobs, one run, its output (the history row's tail, or the log file:
 * its tail, or the whole file as a download), and cancel.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import Type from 'typebox';
import type { RunStatus } from '../../storage/schema.js';
import { readLogTail } from '../../execution/run-log.js';
import { presentRuns } from '../present.js';
import { ErrorBody, IdParam, RunList, RunListQuery, RunOut } from '../schemas.js';
import type { Api, ApiContext } from '../types.js';
import { nextBefore, requireJob, requireRun } from './common.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['runs'];
const MAX_TAIL = 16 * 1024 * 1024;

export function registerRunRoutes(server: Api, ctx: ApiContext): void {
  const jm = ctx.app.jobs;

  server.get(
    '/api/runs',
    { schema: { tags, summary: 'Runs of all jobs, newest first (filter by status list and job; keyset paging)', querystring: RunListQuery, response: { 200: RunList, ...errors } } },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 50;
      const jobId = q.job ? (await requireJob(ctx, q.job, 'job')).id : undefined;
      const status = q.status ? (q.status.split(',') as RunStatus[]) : undefined;
      const rows = await jm.history.list({ jobId, status, beforeId: q.before, limit });
      return { runs: await presentRuns(ctx.app.database, rows, q.output ?? false), next_before: nextBefore(rows, limit) };
    },
  );

  server.get(
    '/api/runs/:id',
    { schema: { tags, summary: 'One run with every history column', params: IdParam, response: { 200: RunOut, ...errors } } },
    async (req) => (await presentRuns(ctx.app.database, [await requireRun(ctx, req.params.id)]))[0]!,
  );

  server.get(
    '/api/runs/:id/output',
    {
      schema: {
        tags,
        summary: "A run's output as text/plain",
        description: 'The tail of the log file (the last `bytes`, default 65536), or with download=1 the whole log as an attachment; output_tail when the run has no log file.',
        params: IdParam,
        querystring: Type.Object({
          bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TAIL, default: 65536 })),
          download: Type.Optional(Type.Boolean()),
        }),
        response: { 200: { description: "The run's output (or the whole log, as an attachment)", content: { 'text/plain': { schema: Type.String() } } }, ...errors },
      },
    },
    async (req, reply) => {
      const run = await requireRun(ctx, req.params.id);
      const bytes = req.query.bytes ?? 65536;
      reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
      const info = run.log_path ? await stat(run.log_path).catch(() => null) : null;
      if (run.log_path && info?.isFile()) {
        if (req.query.download) {
          reply.header('content-disposition', `attachment; filename="run-${run.id}.log"`).header('content-length', info.size);
          return reply.send(createReadStream(run.log_path) as unknown as string);
        }
        return readLogTail(run.log_path, info.size, bytes);
      }
      const text = run.output_tail ?? '';
      if (req.query.download) reply.header('content-disposition', `attachment; filename="run-${run.id}.log"`);
      return req.query.download ? text : text.slice(-bytes);
    },
  );

  server.post(
    '/api/runs/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a queued or running run',
        description:
          'A queued run is skipped at once. A running run gets cancel_requested (the reason) and reads `cancelling`; the node running it, this one or another, stops it within a second (its process group: TERM, the grace period, KILL) and records it `interrupted`. 409 when the run has already finished.',
        params: IdParam,
        body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
        response: { 200: RunOut, ...errors },
      },
    },
    async (req) => {
      const run = await requireRun(ctx, req.params.id);
      const after = await ctx.executor.cancelRun(run.id, req.body?.reason ?? 'cancelled through the API');
      return (await presentRuns(ctx.app.database, [after]))[0]!;
    },
  );
}
