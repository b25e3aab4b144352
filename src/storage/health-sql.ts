/**
 * The seed's health and execution-status rules as SQL CASE expressions. The view
 * smart_cron_active_jobs_summary and the job listing both use these; src/jobs/health.ts
 * states the same rules in TypeScript, and a test holds all of them to the same answers.
 * `minus24h` and `minus1h` are SQL fragments giving the ISO text of now-24h / now-1h.
 */
export function healthCase(minus24h: string, alias = 'j'): string {
  return `CASE
    WHEN ${alias}.consecutive_failures >= 3 THEN 'critical'
    WHEN ${alias}.consecutive_failures >= 2 THEN 'warning'
    WHEN ${alias}.failures_24h > ${alias}.executions_24h * 0.2 THEN 'warning'
    WHEN ${alias}.last_executed_at < ${minus24h} THEN 'warning'
    ELSE 'healthy'
  END`;
}

export function executionCase(minus1h: string, alias = 'j'): string {
  return `CASE
    WHEN ${alias}.last_executed_at IS NULL THEN 'never_run'
    WHEN ${alias}.last_executed_at < ${minus1h} THEN 'overdue'
    WHEN ${alias}.consecutive_failures > 0 THEN 'failing'
    ELSE 'ok'
  END`;
}

/** Dashboard order keys: health rank then priority rank. */
export function healthRank(minus24h: string, alias = 'j'): string {
  return `CASE ${healthCase(minus24h, alias)} WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END`;
}

export function priorityRank(alias = 'j'): string {
  return `CASE ${alias}.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END`;
}
