/**
 * What the API needs from the alert manager, and a stand-in that reads the alerts table
 * directly, so the API serves alerts whether or not the daemon passes an AlertManager.
 */
import { iso, type Clock } from '../clock.js';
import { NotFoundError } from '../errors.js';
import type { Database } from '../storage/database.js';
import type { AlertRow } from '../storage/schema.js';

export interface AlertFilter {
  open?: boolean;
  jobId?: number;
  limit?: number;
  offset?: number;
}

export interface AlertsService {
  /** Newest first. Either a page of rows, or rows with the total. */
  list(filter: AlertFilter): Promise<AlertRow[] | { alerts: AlertRow[]; total: number }>;
  /** Mark an alert seen (NotFoundError for an unknown id); returns the row after. */
  acknowledge(id: number): Promise<AlertRow>;
}

const T = 'smart_cron_performance_alerts' as const;

export class TableAlerts implements AlertsService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
  ) {}

  async list(f: AlertFilter): Promise<{ alerts: AlertRow[]; total: number }> {
    let q = this.database.db.selectFrom(T);
    // As the AlertManager: open=true narrows to unresolved alerts; otherwise all of them.
    if (f.open) q = q.where('resolved_at', 'is', null);
    if (f.jobId !== undefined) q = q.where('job_id', '=', f.jobId);
    const count = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const alerts = await q
      .selectAll()
      .orderBy('id', 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
    return { alerts, total: Number(count?.n ?? 0) };
  }

  async acknowledge(id: number): Promise<AlertRow> {
    const row = await this.database.db.selectFrom(T).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError(`no alert with id ${id}`, 'id');
    if (row.acknowledged_at) return row;
    const now = iso(this.clock.now());
    await this.database.db.updateTable(T).set({ acknowledged_at: now, updated_at: now }).where('id', '=', id).execute();
    return { ...row, acknowledged_at: now, updated_at: now };
  }
}

/** Open alerts per severity, for /metrics. Read from the table: the count must survive restarts. */
export async function openAlertCounts(database: Database): Promise<Record<string, number>> {
  const rows = await database.db
    .selectFrom(T)
    .select(['severity', (eb) => eb.fn.countAll().as('n')])
    .where('resolved_at', 'is', null)
    .groupBy('severity')
    .execute();
  const out: Record<string, number> = { info: 0, warning: 0, error: 0, critical: 0 };
  for (const r of rows) out[r.severity] = Number(r.n);
  return out;
}
