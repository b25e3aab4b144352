/**
 * A run's status as a person reads it, in the CLI and on the dashboard (web/ imports this file,
 * so it imports nothing). The daemon admits a scheduled run up to its start lead
 * (execution.start_lead_ms) before its instant: the row says `running` with a start still
 * ahead, which reads as a contradiction; until that instant it is shown as `starting`.
 * Machine-readable output (--json, the API, data-status) keeps the stored status.
 */
export function statusLabel(r: { status: string; started_at: string | null }, now: number): string {
  return r.status === 'running' && r.started_at !== null && Date.parse(r.started_at) > now ? 'starting' : r.status;
}
