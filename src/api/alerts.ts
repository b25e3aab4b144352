/**
 * What the API needs from the alert manager, and a stand-in that reads the alerts table
 * directly, so the API serves alerts whether or not the daemon passes an AlertManager.
 */
import { iso, type Clock } from '../clock.js';
import { acknowledgeAlert } from '../alerts/acknowledge.js';
import type { Database } from '../storage/database.js';
import { AlertsRepo, type AlertView } from '../storage/repos/alerts.js';
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

/** The alerts as the table has them, for an API served without the daemon's AlertManager. */
export class TableAlerts implements AlertsService {
  private readonly repo: AlertsRepo;

  constructor(
    database: Database,
    private readonly clock: Clock,
  ) {
    this.repo = new AlertsRepo(database.db);
  }

  list(f: AlertFilter): Promise<{ alerts: AlertView[]; total: number }> {
    return this.repo.list(f);
  }

  acknowledge(id: number): Promise<AlertRow> {
    return acknowledgeAlert(this.repo, id, iso(this.clock.now()));
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
