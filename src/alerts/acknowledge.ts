/**
 * Acknowledging an alert: one rule for the daemon's AlertManager and for the API reading the
 * alerts table without one.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import type { AlertsRepo } from '../storage/repos/alerts.js';
import type { AlertRow } from '../storage/schema.js';

/**
 * Mark an open alert seen at `at`. Acknowledging says "someone is on it": of an alert that is
 * over, that would mislead, so a resolved one is refused. A second acknowledgement keeps the first.
 */
export async function acknowledgeAlert(repo: AlertsRepo, id: number, at: string): Promise<AlertRow> {
  const row = await repo.byId(id);
  if (!row) throw new NotFoundError(`no alert with id ${id} (see \`smart-cron alerts\`)`, 'id');
  if (row.resolved_at) throw new ConflictError(`alert #${id} (${row.alert_type}) resolved at ${row.resolved_at}: only an open alert can be acknowledged`, 'id');
  if (row.acknowledged_at) return row;
  // updated_at is when the alert was last seen (`alerts` shows it): an acknowledgement is not a sighting.
  return repo.update(id, { acknowledged_at: at });
}
