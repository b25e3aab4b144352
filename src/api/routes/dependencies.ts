/** GET /api/jobs/:id/dependencies: a job's links, upstream (what it depends on) and downstream (what depends on it). */
import Type from 'typebox';
import { DependencyRepo } from '../../jobs/dependencies.js';
import { ErrorBody, RefParam } from '../schemas.js';
import type { Api, ApiContext } from '../types.js';
import { requireJob } from './common.js';

const Link = Type.Object({
  job: Type.Object({ id: Type.Integer(), name: Type.String() }),
  kind: Type.Union([Type.Literal('requires'), Type.Literal('triggers')]),
  on: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('always')]),
  window_seconds: Type.Union([Type.Integer(), Type.Null()]),
});
const Links = Type.Object({ upstream: Type.Array(Link), downstream: Type.Array(Link) });

export function registerDependencyRoutes(server: Api, ctx: ApiContext): void {
  const deps = new DependencyRepo(ctx.app.database.db);
  server.get(
    '/api/jobs/:id/dependencies',
    {
      schema: {
        tags: ['jobs'],
        summary: "A job's dependencies: upstream (requires / runs after) and downstream (required by / triggers)",
        params: RefParam,
        response: { 200: Links, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => deps.links((await requireJob(ctx, req.params.id, 'id')).id),
  );
}
