/**
 * A job's dependency links: GET lists them both ways, POST adds (or updates) one, DELETE removes
 * them. The rules (cycles, windows, what each kind takes) are src/jobs/dependencies.ts's, shared
 * with `smart-cron deps`; the answers are the JSON `deps add|remove --json` prints.
 */
import { NotFoundError, ValidationError } from '../../errors.js';
import { DependencyRepo, notLinked, windowSeconds, type DependencyLink } from '../../jobs/dependencies.js';
import { DependencyBody, DependencyChangeOut, DependencyLinks, DependencyParams, DependencyRemoveQuery, DependencyRemovedOut, ErrorBody, RefParam } from '../schemas.js';
import type { Api, ApiContext } from '../types.js';
import { requireJob } from './common.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['jobs'];

export function registerDependencyRoutes(server: Api, ctx: ApiContext): void {
  const deps = new DependencyRepo(ctx.app.database.db);
  /** Open dashboards reload the dependent job's links (and the daemon's listeners hear of it). */
  const changed = (id: number) => ctx.bus.emit('job.changed', { id, change: 'dependencies' });

  server.get(
    '/api/jobs/:id/dependencies',
    {
      schema: {
        tags,
        summary: "A job's dependencies: upstream (requires / runs after) and downstream (required by / triggers)",
        params: RefParam,
        response: { 200: DependencyLinks, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => deps.links((await requireJob(ctx, req.params.id, 'id')).id),
  );

  server.post(
    '/api/jobs/:id/dependencies',
    {
      schema: {
        tags,
        summary: 'Make a job depend on another: requires a success of it (within window_seconds), or runs after it (on success, failure or always)',
        description:
          'Adding a link that exists (same job, other job and kind) updates its window or outcome: 201 for a new link, 200 with change "updated" or "unchanged" otherwise. ' +
          'A link that would close a cycle is refused (409, naming the cycle). The answer is the JSON of `smart-cron deps add --json`.',
        params: RefParam,
        body: DependencyBody,
        response: { 200: DependencyChangeOut, 201: DependencyChangeOut, ...errors },
      },
    },
    async (req, reply) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const b = req.body;
      // What each kind takes, as `deps add` has it; a link as GET lists it (on success, window null) is accepted back.
      if (b.kind === 'requires' && b.on !== undefined && b.on !== 'success') {
        throw new ValidationError(`on: "${b.on}" goes with kind triggers (a requires link always needs a success; use window_seconds for how recent)`, 'on');
      }
      if (b.kind === 'triggers' && b.window_seconds !== undefined && b.window_seconds !== null) {
        throw new ValidationError('window_seconds: goes with kind requires (a triggers link runs on each matching end of the other job; use on for which ends)', 'window_seconds');
      }
      const window = b.kind === 'requires' ? windowSeconds(b.window_seconds, 'window_seconds') : null;
      const other = await requireJob(ctx, b.job, 'job');
      const res = await deps.add(job.id, other.id, b.kind, { window_seconds: window, on: b.on }, ctx.now());
      if (res.change !== 'unchanged') changed(job.id);
      const link: DependencyLink = { job: { id: other.id, name: other.name }, kind: res.row.kind, on: res.row.on, window_seconds: res.row.window_seconds };
      if (res.change === 'new') reply.code(201).header('location', `/api/jobs/${job.id}/dependencies`);
      return { change: res.change, job: { id: job.id, name: job.name }, depends_on: link };
    },
  );

  server.delete(
    '/api/jobs/:id/dependencies/:other',
    {
      schema: {
        tags,
        summary: 'Remove the links from a job to another (both kinds, or ?kind=requires|triggers)',
        description: 'The answer is the JSON of `smart-cron deps remove --json`; 404 when there is no such link.',
        params: DependencyParams,
        querystring: DependencyRemoveQuery,
        response: { 200: DependencyRemovedOut, ...errors },
      },
    },
    async (req) => {
      const job = await requireJob(ctx, req.params.id, 'id');
      const other = await requireJob(ctx, req.params.other, 'other');
      const kind = req.query.kind;
      const removed = await deps.remove(job.id, other.id, kind);
      if (removed.length === 0) {
        throw new NotFoundError(`other: ${notLinked(job.name, other.name, kind)} (see GET /api/jobs/${encodeURIComponent(job.name)}/dependencies)`, 'other');
      }
      changed(job.id);
      return { job: { id: job.id, name: job.name }, depends_on: { id: other.id, name: other.name }, removed: removed.map((r) => r.kind) };
    },
  );
}
