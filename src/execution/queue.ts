/**
 * The order queued runs start in: priority class first, then age. Age, not size, breaks ties,
 * so a large run at the head is not starved by small ones backfilling around it: a run that
 * does not fit its slot holds that slot's later runs back until it starts.
 */
import { PRIORITY_ORDER } from '../jobs/health.js';
import type { RunRow } from '../storage/schema.js';

export function compareQueued(a: Pick<RunRow, 'priority' | 'queued_at' | 'id'>, b: Pick<RunRow, 'priority' | 'queued_at' | 'id'>): number {
  return PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority] || (a.queued_at < b.queued_at ? -1 : a.queued_at > b.queued_at ? 1 : a.id - b.id);
}
