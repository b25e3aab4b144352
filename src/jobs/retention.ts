/**
 * History retention: runs older than history_days, and beyond the newest max_runs_per_job of
 * each job, are deleted with their run directories (logs). Queued and running runs are kept.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { iso } from '../clock.js';
import type { JobManager } from './manager.js';

export interface PruneResult {
  runs: number;
  logs: number;
}

export async function pruneHistory(jm: JobManager, o: { historyDays: number; maxRunsPerJob: number; runsDir: string; nowMs: number }): Promise<PruneResult> {
  const db = jm.database.db;
  // Never before the epoch: a cut-off past what a Date can hold (history_days: 999999999) would
  // throw "Invalid time value" at every prune; nothing ran before 1970, so that keeps it all.
  const cutoff = iso(Math.max(0, o.nowMs - o.historyDays * 86400_000) || 0);
  const doomed: number[] = [];
  const old = await db
    .selectFrom('smart_cron_job_history')
    .select('id')
    .where('queued_at', '<', cutoff)
    .where('status', 'not in', ['queued', 'running'])
    .execute();
  doomed.push(...old.map((r) => r.id));
  const jobs = await db.selectFrom('smart_cron_integrated_jobs').select('id').execute();
  for (const { id } of jobs) {
    const nth = await db
      .selectFrom('smart_cron_job_history')
      .select('id')
      .where('job_id', '=', id)
      .orderBy('id', 'desc')
      .offset(o.maxRunsPerJob)
      .limit(1)
      .executeTakeFirst();
    if (!nth) continue;
    const extra = await db
      .selectFrom('smart_cron_job_history')
      .select('id')
      .where('job_id', '=', id)
      .where('id', '<=', nth.id)
      .where('status', 'not in', ['queued', 'running'])
      .execute();
    doomed.push(...extra.map((r) => r.id));
  }
  const ids = [...new Set(doomed)];
  let logs = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await db.deleteFrom('smart_cron_job_history').where('id', 'in', chunk).execute();
    for (const id of chunk) {
      const dir = join(o.runsDir, String(id));
      if (!existsSync(dir)) continue;
      try {
        rmSync(dir, { recursive: true, force: true });
        logs++;
      } catch {
        // a log that cannot be removed is not worth failing the prune for
      }
    }
  }
  await jm.stats.prune(o.nowMs - 2 * 86400_000);
  return { runs: ids.length, logs };
}
