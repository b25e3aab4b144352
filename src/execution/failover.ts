/**
 * Failover: a node whose heartbeat has not changed for a whole lease of our watching is marked
 * down, and its running runs become `lost` — retried elsewhere when the job's retry policy
 * allows. Every step is a conditional update, so any number of surviving nodes may run this at
 * once. A node that comes back cannot record over the decision: recordExecution only finalises
 * runs still running (recovery.ts settles what its processes did meanwhile).
 *
 * Why watch instead of comparing the heartbeat's time with our clock: a node whose clock runs
 * ahead of the others by more than the lease would see every other node as dead, every few
 * seconds; and a node whose own database connection just came back (after an outage longer
 * than the lease) would judge the others by heartbeats they could not write either. Watching
 * needs no shared clock: a heartbeat value that changes is a node alive, and only our own
 * clock measures how long it has stayed the same — while we were really watching.
 */
import { iso, type Clock } from '../clock.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobRow, RunRow } from '../storage/schema.js';
import { shouldRetry } from './retry.js';

/**
 * What this node has seen of the others' heartbeats, and since when (our clock). A gap in our
 * own watching longer than `maxGapMs` (our database was away, our process was stopped or
 * starved) starts the watch afresh: what we saw before proves nothing about now.
 */
export class HeartbeatWatch {
  private readonly seen = new Map<string, { beat: string; since: number }>();
  private last: number | null = null;

  constructor(private readonly maxGapMs: number) {}

  /** Forget everything (e.g. our own heartbeat failed). */
  reset(): void {
    this.seen.clear();
    this.last = null;
  }

  /**
   * Note the heartbeats read now; answer those unchanged for at least leaseMs of watching.
   * Nodes not in `rows` are forgotten.
   */
  observe(rows: { id: string; heartbeat_at: string }[], nowMs: number, leaseMs: number): { id: string; heartbeat_at: string }[] {
    if (this.last !== null && nowMs - this.last > this.maxGapMs) this.seen.clear();
    this.last = nowMs;
    const ids = new Set(rows.map((r) => r.id));
    for (const id of [...this.seen.keys()]) if (!ids.has(id)) this.seen.delete(id);
    const quiet: { id: string; heartbeat_at: string }[] = [];
    for (const r of rows) {
      const s = this.seen.get(r.id);
      if (!s || s.beat !== r.heartbeat_at) this.seen.set(r.id, { beat: r.heartbeat_at, since: nowMs });
      else if (nowMs - s.since >= leaseMs) quiet.push(r);
    }
    return quiet;
  }
}

export interface FailoverOptions {
  jobs: JobManager;
  clock: Clock;
  self: string;
  leaseMs: number;
  /** This node's watch of the others (kept between calls: the heartbeat task's). */
  watch: HeartbeatWatch;
  queueRetry: (run: RunRow, job: JobRow) => Promise<unknown>;
  log?: (msg: string) => void;
}

export async function failDeadNodes(o: FailoverOptions): Promise<{ nodes: string[]; lost: number }> {
  const db = o.jobs.database.db;
  const now = o.clock.now();
  const others = await db
    .selectFrom('smart_cron_nodes')
    .select(['id', 'heartbeat_at', 'status'])
    .where('status', 'in', ['up', 'stopped'])
    .where('id', '!=', o.self)
    .execute();
  const quiet = new Set(o.watch.observe(others, now, o.leaseMs).map((n) => n.id));
  const out = { nodes: [] as string[], lost: 0 };
  for (const n of others) {
    if (!quiet.has(n.id)) continue;
    if (n.status === 'stopped') {
      // Stopped cleanly, its runs left running for its next start to adopt. If it does not come
      // back, a run past its timeout would block its job for good (overlap), unrecorded.
      out.lost += await loseRuns(o, n.id, now, (run, job) => {
        if (!job || !run.started_at) return null;
        const limit = Date.parse(run.started_at) + job.timeout_seconds * 1000 + o.leaseMs;
        return now > limit ? `node ${n.id} stopped (last heartbeat ${n.heartbeat_at}) and did not come back before the run's timeout (${job.timeout_seconds}s)` : null;
      });
      continue;
    }
    const r = await db
      .updateTable('smart_cron_nodes')
      .set({ status: 'down' })
      .where('id', '=', n.id)
      .where('status', '=', 'up')
      .where('heartbeat_at', '=', n.heartbeat_at)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) continue; // it came back, or another node did this
    out.nodes.push(n.id);
    o.log?.(`node ${n.id} has not sent a heartbeat for ${Math.round(o.leaseMs / 1000)}s (its last: ${n.heartbeat_at}): marked down`);
    out.lost += await loseRuns(o, n.id, now, () => `node ${n.id} stopped sending heartbeats (last ${n.heartbeat_at}) while the run was running`);
  }
  return out;
}

/** Mark the node's running runs lost (with the reason `why` gives; null: leave it), retrying where the job allows. */
async function loseRuns(o: FailoverOptions, node: string, now: number, why: (run: RunRow, job: JobRow | undefined) => string | null): Promise<number> {
  const running = await o.jobs.database.db.selectFrom('smart_cron_job_history').selectAll().where('status', '=', 'running').where('node', '=', node).execute();
  let lost = 0;
  for (const run of running) {
    const job = await o.jobs.jobs.byId(run.job_id);
    const reason = why(run, job);
    if (reason === null) continue;
    const retry = job ? shouldRetry(job, run, 'lost') : false;
    const res = await o.jobs.recordExecution(run.id, { status: 'lost', error_message: reason, finished_at: iso(now) }, { willRetry: retry });
    if (!res.applied) continue;
    lost++;
    o.log?.(`run #${run.id} marked lost: ${reason}`);
    if (retry && job) await o.queueRetry(res.run, job);
  }
  return lost;
}
