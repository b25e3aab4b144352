import { missingLabel, missingWhat, standingReasons, warningsOf } from '../discovery';
import { absolute, commandLine, duration, megabytes, relative, scheduleHasSeconds, short, words, zoneName } from '../format';
import { useHomeZone, useNow } from '../hooks';
import { otherSettings } from '../job-settings';
import type { Job } from '../types';
import { Stat, Time } from './ui';

const sec = (s: number | null | undefined) => (s === null || s === undefined ? null : s * 1000);

/** Retries as they happen: the wait doubles from one to the next (execution/retry.ts). */
function retries(job: Job): string {
  const first = duration(job.retry_backoff_seconds * 1000);
  if (!job.retries) return 'no retries';
  return job.retries === 1 ? `1 retry, ${first} after a failure` : `${job.retries} retries, ${first} after a failure and doubling`;
}

export function JobStats({ job }: { job: Job }) {
  const now = useNow();
  // Its times are read in its zone (the home's when it has none), not the browser's: as the CLI shows them.
  const home = useHomeZone(!job.timezone);
  const zone = job.timezone ?? home;
  const seconds = scheduleHasSeconds(job.schedule);
  // A discovered or imported job: why discovery chose what still stands (not what a person set since).
  const info = job.discovery_info && typeof job.discovery_info === 'object' ? job.discovery_info : {};
  const found = standingReasons(info, job.user_overrides);
  const alerts = (['failure', 'timeout', 'high_memory', 'high_duration', 'missed', 'hanging'] as const).filter((k) => job[`alert_on_${k}`]);
  return (
    <div class="stats-grid">
      <section class="card" aria-labelledby="what-h">
        <h2 id="what-h">What and when</h2>
        <dl class="kv">
          <Stat label={job.script_path ? 'Script' : job.shell ? 'Shell line' : 'Command'}>
            <code class="wrap" data-testid="job-command">{commandLine(job)}</code>
          </Stat>
          <Stat label="Schedule">
            <code>{job.schedule}</code> {job.timezone && <span class="muted">({job.timezone})</span>}
          </Stat>
          <Stat label="Next runs">
            {job.enabled ? (
              job.next_runs?.length ? (
                <>
                  <ol class="next-runs" data-testid="next-runs">
                    {job.next_runs.map((r) => (
                      <li key={r}>
                        <time dateTime={r} title={`${absolute(r, zone)}; ${absolute(r)} in this browser's time`}>{short(r, { timeZone: zone, seconds })}</time>{' '}
                        <span class="muted">({relative(r, now)})</span>
                      </li>
                    ))}
                  </ol>
                  {zone && <span class="muted" data-testid="next-runs-zone">in {zoneName(zone, !job.timezone)}</span>}
                </>
              ) : (
                <Time iso={job.next_scheduled_run} />
              )
            ) : (
              <span class="muted">disabled</span>
            )}
          </Stat>
          <Stat label="Class">
            {job.priority} priority · {job.category} · slot {job.slot}
          </Stat>
          <Stat label="Limits">
            timeout {duration(job.timeout_seconds * 1000)} · estimate {megabytes(job.estimated_memory_mb)}
            {job.estimated_duration_seconds !== null && <>, {duration(job.estimated_duration_seconds * 1000)}</>} · limit {job.memory_limit_mb ? megabytes(job.memory_limit_mb) : 'none'}
          </Stat>
          <Stat label="Policies" testid="job-policies">
            overlap {words(job.overlap_policy)} · misfire {words(job.misfire_policy)} · {retries(job)}
            {job.mutex_group && <> · one at a time in group {job.mutex_group}</>}
          </Stat>
          <Stat label="Alerts on">{alerts.length ? alerts.map(words).join(', ') : 'nothing'}</Stat>
          {otherSettings(job).map(([label, text]) => (
            <Stat key={label} label={label} testid="job-setting">
              {text}
            </Stat>
          ))}
          <Stat label="Tags">{job.tags.length ? job.tags.map((t) => <span key={t} class="tag">{t}</span>) : <span class="muted">none</span>}</Stat>
          <Stat label="Source">
            {job.source}
            {job.missing && (
              <span class="badge tone-bad" title={missingWhat(job)} data-testid="job-missing">
                {missingLabel(job)}
              </span>
            )}
            {found.length > 0 && (
              <ul class="found-why" data-testid="job-found-why">
                {found.map(([guess, why]) => (
                  <li key={guess}>
                    {guess}: {why}
                  </li>
                ))}
                {warningsOf(info).map((w) => (
                  <li key={w} class="warn">
                    {w}
                  </li>
                ))}
              </ul>
            )}
          </Stat>
        </dl>
      </section>
      <section class="card" aria-labelledby="stats-h">
        <h2 id="stats-h">Stats</h2>
        <dl class="kv">
          <Stat label="Last run" testid="stat-last-run">
            <Time iso={job.last_executed_at} /> {job.last_status && <span class="muted">({words(job.last_status)})</span>}
          </Stat>
          <Stat label="Executions" testid="stat-executions">
            {job.total_executions.toLocaleString()}
            {job.failed_executions !== undefined && <span class="muted"> ({job.failed_executions.toLocaleString()} failed)</span>}
          </Stat>
          <Stat label="Consecutive failures" testid="stat-consecutive">
            <span class={job.consecutive_failures ? 'bad' : undefined}>{job.consecutive_failures}</span>
          </Stat>
          <Stat label="Last 24 h">
            {job.executions_24h} {job.executions_24h === 1 ? 'run' : 'runs'}, <span class={job.failures_24h ? 'bad' : undefined}>{job.failures_24h} failed</span>
          </Stat>
          <Stat label="Duration (24 h)">
            avg {duration(sec(job.avg_duration_24h))} · max {duration(sec(job.max_duration_24h))}
          </Stat>
          <Stat label="Memory (24 h)">
            avg {megabytes(job.avg_memory_24h)}
            {job.max_memory_24h !== undefined && <> · max {megabytes(job.max_memory_24h)}</>}
          </Stat>
          <Stat label="Baseline">
            {job.baseline_duration_seconds === null && job.baseline_memory_mb === null
              ? 'not yet (after 10 runs)'
              : `${duration(sec(job.baseline_duration_seconds))} · ${megabytes(job.baseline_memory_mb)}`}
          </Stat>
          <Stat label="Circuit">
            <span class={job.circuit_state === 'closed' ? undefined : 'bad'}>{words(job.circuit_state)}</span>
          </Stat>
          {job.last_error_message && (
            <Stat label="Last error">
              <span class="bad">{job.last_error_message}</span>
            </Stat>
          )}
        </dl>
      </section>
    </div>
  );
}
