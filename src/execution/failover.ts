/**
 * Failover: a node whose heartbeat is older than the lease is marked down, and its running
 * runs become `lost` — retried elsewhere when the job's retry policy allows. Every step is a
 * conditional update, so any number of surviving nodes may run this at once. A node that comes
 * back cannot record over the decision: recordExecution only finalises runs still running.
 */
import { iso, type Clock } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import { heartbeatCutoff } from '../storage/repos/nodes.js';
import type { JobRow, RunRow } from '../storage/schema.js';
import { shouldRetry } from './retry.js';

export interface FailoverOptions {
  jobs: JobManager;
  clock: Clock;
  self: string;
  leaseMs: number;
  queueRetry: (run: RunRow, job: JobRow) => Promise<unknown>;
  log?: (msg: string) => void;
}

export async function failDeadNodes(o: FailoverOptions): Promise<{ nodes: string[]; lost: number }> {
  const db = o.jobs.database.db;
  const now = o.clock.now();
  const cutoff = heartbeatCutoff(now, o.leaseMs);
  const stale = await db
    .selectFrom('smart_cron_nodes')
    .select(['id', 'heartbeat_at'])
    .where('status', '=', 'up')
    .where('heartbeat_at', '<', cutoff)
    .where('id', '!=', o.self)
    .execute();
  const out = { nodes: [] as string[], lost: 0 };
  for (const n of stale) {
    const r = await db
      .updateTable('smart_cron_nodes')
      .set({ status: 'down' })
      .where('id', '=', n.id)
      .where('status', '=', 'up')
      .where('heartbeat_at', '<', cutoff)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) continue; // it came back, or another node did this
    out.nodes.push(n.id);
    o.log?.(`node ${n.id} has not sent a heartbeat since ${n.heartbeat_at}: marked down`);
    const running = await db.selectFrom('smart_cron_job_history').selectAll().where('status', '=', 'running').where('node', '=', n.id).execute();
    for (const run of running) {
      const job = await o.jobs.jobs.byId(run.job_id);
      const retry = job ? shouldRetry(job, run, 'lost') : false;
      const res = await o.jobs.recordExecution(
        run.id,
        { status: 'lost', error_message: `node ${n.id} stopped sending heartbeats (last ${n.heartbeat_at}) while the run was running`, finished_at: iso(now) },
        { willRetry: retry },
      );
      if (!res.applied) continue;
      out.lost++;
      if (retry && job) await o.queueRetry(res.run, job);
    }
  }
  return out;
}
