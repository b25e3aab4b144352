/**
 * The seed's health and execution-status rules, stated once in TypeScript. The view
 * smart_cron_active_jobs_summary states them in SQL; a test holds the two to the same answers.
 */
import type { Priority } from '../storage/schema.js';

export type HealthStatus = 'critical' | 'warning' | 'healthy';
export type ExecutionStatus = 'never_run' | 'overdue' | 'failing' | 'ok';

export interface HealthInputs {
  consecutive_failures: number;
  executions_24h: number;
  failures_24h: number;
  last_executed_at: string | null;
}

const HOUR = 3600_000;

export function healthStatus(j: HealthInputs, nowMs: number): HealthStatus {
  if (j.consecutive_failures >= 3) return 'critical';
  if (j.consecutive_failures >= 2) return 'warning';
  if (j.failures_24h > j.executions_24h * 0.2) return 'warning';
  if (j.last_executed_at !== null && Date.parse(j.last_executed_at) < nowMs - 24 * HOUR) return 'warning';
  return 'healthy';
}

export function executionStatus(j: HealthInputs, nowMs: number): ExecutionStatus {
  if (j.last_executed_at === null) return 'never_run';
  if (Date.parse(j.last_executed_at) < nowMs - HOUR) return 'overdue';
  if (j.consecutive_failures > 0) return 'failing';
  return 'ok';
}

const HEALTH_ORDER: Record<HealthStatus, number> = { critical: 0, warning: 1, healthy: 2 };
export const PRIORITY_ORDER: Record<Priority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

type Ordered = { health_status: HealthStatus; priority: Priority; next_scheduled_run: string | null; name: string; enabled?: number | boolean };

/**
 * The dashboard's order: enabled jobs first, then health (critical first), then priority, then
 * next run (soonest first, none last). Health is judged for enabled jobs only (the health counts
 * leave disabled ones out), so a disabled job never heads the list, whatever its last runs were.
 */
export function compareForDashboard(a: Ordered, b: Ordered): number {
  return (
    Number(a.enabled === 0 || a.enabled === false) - Number(b.enabled === 0 || b.enabled === false) ||
    HEALTH_ORDER[a.health_status] - HEALTH_ORDER[b.health_status] ||
    PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority] ||
    cmpNullableLast(a.next_scheduled_run, b.next_scheduled_run) ||
    a.name.localeCompare(b.name)
  );
}

function cmpNullableLast(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}
