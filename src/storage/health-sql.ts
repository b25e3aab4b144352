/**
 * The seed's health and execution-status rules as SQL CASE expressions. The view
 * smart_cron_active_jobs_summary and the job listing both use these; src/jobs/health.ts
 * states the same rules in TypeScript, and a test holds all of them to the same answers.
 * `minus24h` and `minus1h` are SQL fragments giving the ISO text of now-24h / now-1h.
 */

/**
 * "More than 20 % of the last 24 h runs failed", read from the hourly buckets from `sinceHour`
 * (an SQL fragment giving the first bucket's hour, see since24h in repos/stats.ts) when asked,
 * so that it rolls off with time; the columns copied onto the job row are only as fresh as its
 * last run. In whole numbers (5 x failures > runs), so exactly 20 % is never rounded above.
 * (The 0001 view read the copied columns: that is the default, kept for it alone.)
 */
export function failureRateOver(sinceHour: string, alias = 'j'): string {
  return `(SELECT SUM(s.failures * 5 - s.runs) FROM smart_cron_job_stats_hourly s WHERE s.job_id = ${alias}.id AND s.hour >= ${sinceHour}) > 0`;
}

/** A sum over the job's hourly buckets from `sinceHour` (0 without any): the view's executions_24h / failures_24h. */
export function recentSum(column: 'runs' | 'failures', sinceHour: string, alias = 'j'): string {
  return `(SELECT COALESCE(SUM(s.${column}), 0) FROM smart_cron_job_stats_hourly s WHERE s.job_id = ${alias}.id AND s.hour >= ${sinceHour})`;
}

export function healthCase(minus24h: string, alias = 'j', failing = `${alias}.failures_24h > ${alias}.executions_24h * 0.2`): string {
  return `CASE
    WHEN ${alias}.consecutive_failures >= 3 THEN 'critical'
    WHEN ${alias}.consecutive_failures >= 2 THEN 'warning'
    WHEN ${failing} THEN 'warning'
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
export function healthRank(minus24h: string, alias = 'j', failing?: string): string {
  return `CASE ${healthCase(minus24h, alias, failing)} WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END`;
}

export function priorityRank(alias = 'j'): string {
  return `CASE ${alias}.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END`;
}
