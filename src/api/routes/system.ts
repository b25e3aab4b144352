/**
 * The dashboard's other reads: slots, queue, alerts, health, the overview (one call for the
 * first screen), the cluster's nodes, the cron preview for the job form, and the review list of
 * discovered jobs.
 */
import Type from 'typebox';
import { iso } from '../../clock.js';
import { isStale, NodesRepo } from '../../storage/repos/nodes.js';
import type { AlertRow } from '../../storage/schema.js';
import { parseSchedule } from '../../schedule/cron.js';
import { parseFrom } from '../../schedule/from.js';
import { jobOut, presentAlerts, presentRuns } from '../present.js';
import { AlertOut, ErrorBody, HealthCounts, IdParam, JobList, JobOut, NodeList, RunOut, SlotOut } from '../schemas.js';
import type { AlertFilter } from '../alerts.js';
import type { Api, ApiContext } from '../types.js';
import { requireJob } from './common.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

async function listAlerts(ctx: ApiContext, f: AlertFilter): Promise<{ alerts: AlertRow[]; total: number | null }> {
  const r = await ctx.alerts.list(f);
  return Array.isArray(r) ? { alerts: r, total: null } : r;
}

export function registerSystemRoutes(server: Api, ctx: ApiContext): void {
  const jm = ctx.app.jobs;
  const db = ctx.app.database;

  server.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));

  server.get(
    '/api/slots',
    { schema: { tags: ['slots'], summary: "This node's slots: usage against budgets, and runs waiting", response: { 200: Type.Object({ slots: Type.Array(SlotOut) }) } } },
    async () => ({ slots: await ctx.executor.slots() }),
  );

  server.get(
    '/api/queue',
    { schema: { tags: ['slots'], summary: 'Runs waiting for capacity, in the order they will start', response: { 200: Type.Object({ runs: Type.Array(RunOut) }) } } },
    async () => ({ runs: await presentRuns(db, await ctx.executor.queued(), false) }),
  );

  server.get(
    '/api/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alerts, newest first',
        querystring: Type.Object({
          open: Type.Optional(Type.Boolean({ description: 'true: only alerts not yet resolved (default: all)' })),
          job: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
        }),
        response: { 200: Type.Object({ alerts: Type.Array(AlertOut), total: Type.Union([Type.Integer(), Type.Null()]) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      const jobId = q.job ? (await requireJob(ctx, q.job, 'job')).id : undefined;
      const { alerts, total } = await listAlerts(ctx, { open: q.open, jobId, limit: q.limit ?? 50, offset: q.offset ?? 0 });
      return { alerts: await presentAlerts(db, alerts), total };
    },
  );

  server.post(
    '/api/alerts/:id/ack',
    { schema: { tags: ['alerts'], summary: 'Acknowledge an alert', params: IdParam, response: { 200: AlertOut, ...errors } } },
    async (req) => (await presentAlerts(db, [await ctx.alerts.acknowledge(req.params.id)]))[0]!,
  );

  server.get(
    '/api/health',
    {
      schema: {
        tags: ['health'],
        summary: "The seed's getJobHealthSummary: counts by health and the enabled jobs in dashboard order",
        response: { 200: Type.Object({ counts: HealthCounts, jobs: Type.Array(JobOut) }) },
      },
    },
    async () => {
      const { counts, jobs } = await jm.getJobHealthSummary(ctx.now());
      return { counts, jobs: jobs as unknown as JobOut[] };
    },
  );

  server.get(
    '/api/overview',
    {
      schema: {
        tags: ['health'],
        summary: "The dashboard's first screen in one call: health counts, slots (this node's, then the other nodes' that are up), running and queued runs, recent open alerts",
        response: {
          200: Type.Object({
            now: Type.String(),
            counts: HealthCounts,
            jobs: Type.Object({ total: Type.Integer(), enabled: Type.Integer() }),
            slots: Type.Array(SlotOut),
            running: Type.Array(RunOut),
            queued: Type.Array(RunOut),
            alerts: Type.Array(AlertOut),
          }),
        },
      },
    },
    async () => {
      const now = ctx.now();
      const [counts, all, enabled, slots, others, active, queued, alerts] = await Promise.all([
        jm.jobs.healthCounts(now),
        jm.listJobs({ limit: 0 }),
        jm.listJobs({ enabled: true, limit: 0 }),
        ctx.executor.slots(),
        new NodesRepo(db.db).slotsOfOthers(ctx.app.config.nodeId, now, ctx.app.config.leaseMs),
        jm.history.active(),
        ctx.executor.queued(),
        listAlerts(ctx, { open: true, limit: 10 }),
      ]);
      return {
        now: iso(now),
        counts: counts as { critical: number; warning: number; healthy: number },
        jobs: { total: all.total, enabled: enabled.total },
        // This node's slots live; the other nodes' as they last wrote them (queued runs are counted on this node's cards).
        slots: [...slots, ...others.map(({ updated_at: _u, ...s }) => ({ ...s, queued: 0 }))],
        running: await presentRuns(db, active.filter((r) => r.status === 'running'), false),
        queued: await presentRuns(db, queued, false),
        alerts: await presentAlerts(db, alerts.alerts),
      };
    },
  );

  server.get(
    '/api/nodes',
    {
      schema: {
        tags: ['nodes'],
        summary: 'The daemons sharing the database: status (unresponsive once a heartbeat is older than node.lease_seconds), running runs, reserved memory',
        response: { 200: NodeList },
      },
    },
    async () => {
      const now = ctx.now();
      // The rows of `smart-cron nodes --json`, stale included (the CLI's rule, not a second one).
      const nodes = (await new NodesRepo(db.db).overview(now, ctx.app.config.leaseMs)).map((n) => ({ ...n, stale: isStale(n, now) }));
      return { nodes, this_node: ctx.app.config.nodeId };
    },
  );

  server.get(
    '/api/schedule/preview',
    {
      schema: {
        tags: ['schedule'],
        summary: 'Next run times of a cron expression, at or after from (400 names the wrong cron field or parameter)',
        querystring: Type.Object({
          expr: Type.String({ minLength: 1, maxLength: 200 }),
          timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 5 })),
          from: Type.Optional(
            Type.String({ maxLength: 40, description: "ISO-8601 date or date-time to list runs at or after (default now); without an offset it is read in the schedule's timezone, as `smart-cron next --from`" }),
          ),
        }),
        response: { 200: Type.Object({ expression: Type.String(), timezone: Type.String(), reboot: Type.Boolean(), next_runs: Type.Array(Type.String()) }), 400: ErrorBody },
      },
    },
    async (req) => {
      const q = req.query;
      const s = parseSchedule(q.expr, q.timezone, 'expr');
      const from = q.from === undefined ? ctx.now() : parseFrom(q.from, s.zone, 'from');
      return { expression: s.expression, timezone: s.timezone, reboot: s.reboot, next_runs: s.runsFrom(from, q.count ?? 5).map((t) => iso(t)) };
    },
  );

  server.get(
    '/api/review',
    { schema: { tags: ['jobs'], summary: 'Jobs waiting for review: disabled, found by discovery or crontab import', response: { 200: JobList } } },
    async () => {
      const [discovered, crontab] = await Promise.all([jm.listJobs({ enabled: false, source: 'discovered', sort: 'name' }), jm.listJobs({ enabled: false, source: 'crontab', sort: 'name' })]);
      const now = ctx.now();
      const jobs = [...discovered.jobs, ...crontab.jobs].sort((a, b) => a.name.localeCompare(b.name)).map((j) => jobOut(j, now));
      return { jobs, total: jobs.length, limit: jobs.length, offset: 0 };
    },
  );
}
