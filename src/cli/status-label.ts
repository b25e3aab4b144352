/**
 * A run's status as a person reads it, in the CLI and on the dashboard (web/ imports this file,
 * so it imports nothing). Machine-readable output (--json, the API, data-status) keeps the
 * stored status.
 * - `starting`: the daemon admits a scheduled run up to its start lead
 *   (execution.start_lead_ms) before its instant; the row says `running` with a start still
 *   ahead, which reads as a contradiction, so until that instant it reads `starting`.
 * - `cancelling`: a person asked to stop the running run (cancel_requested) and it has not
 *   ended yet (its process group gets TERM, then KILL after the grace).
 */
export function statusLabel(r: { status: string; started_at: string | null; cancel_requested?: string | null }, now: number): string {
  if (r.status !== 'running') return r.status;
  if (r.cancel_requested) return 'cancelling';
  return isStarting(r, now) ? 'starting' : r.status;
}

/** A run admitted ahead of its instant that has not reached it: stored as running, with a start still to come. */
export function isStarting(r: { status: string; started_at: string | null }, now: number): boolean {
  return r.status === 'running' && r.started_at !== null && Date.parse(r.started_at) > now;
}
