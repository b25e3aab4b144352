/** Small shared pieces: times, status badges, usage bars, errors, paging. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api';
import { absolute, clock, relative, words } from '../format';
import { useNow, useStatusLabel } from '../hooks';
import type { Health, RunStatus, Severity } from '../types';

export function Time({ iso, testid, withClock = false }: { iso: string | null | undefined; testid?: string; withClock?: boolean }) {
  const now = useNow();
  if (!iso) return <span class="muted" data-testid={testid}>—</span>;
  return (
    <time dateTime={iso} title={absolute(iso)} data-testid={testid}>
      {relative(iso, now)}
      {withClock && <span class="muted"> · {clock(iso)}</span>}
    </time>
  );
}

const HEALTH_LABEL: Record<Health, string> = { critical: 'critical', warning: 'warning', healthy: 'healthy' };

export function HealthDot({ health }: { health: Health }) {
  return (
    <span class={`dot dot-${health}`} role="img" aria-label={`health: ${HEALTH_LABEL[health]}`} title={HEALTH_LABEL[health]} data-testid="health-dot" data-health={health} />
  );
}

/** Run outcomes grouped into the few colours a person scans for. */
function runTone(s: RunStatus | null | undefined): string {
  switch (s) {
    case 'succeeded':
      return 'ok';
    case 'running':
    case 'queued':
      return 'active';
    case 'skipped':
    case 'interrupted':
      return 'muted';
    case null:
    case undefined:
      return 'muted';
    default:
      return 'bad';
  }
}

/**
 * A run's status; with startedAt, a running run whose start is still ahead reads `starting`, and
 * with cancelRequested, one asked to stop reads `cancelling` (data-status keeps the stored one).
 */
export function RunStatusBadge({
  status,
  startedAt,
  cancelRequested,
  testid = 'run-status',
}: {
  status: RunStatus | null | undefined;
  startedAt?: string | null;
  cancelRequested?: string | null;
  testid?: string;
}) {
  const label = useStatusLabel(status, startedAt, cancelRequested);
  return (
    <span class={`badge tone-${runTone(status)}`} data-testid={testid} data-status={status ?? ''} data-label={label ?? ''}>
      {status === 'running' && <span class="spinner" aria-hidden="true" />}
      {words(label ?? 'never run')}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span class={`badge sev-${severity}`} data-testid="alert-severity">{severity}</span>;
}

export function Bar({ label, value, max, format, testid }: { label: string; value: number; max: number; format: (n: number) => string; testid?: string }) {
  const ratio = max > 0 ? Math.min(value / max, 1) : 0;
  const tone = ratio >= 0.9 ? 'bad' : ratio >= 0.7 ? 'warn' : 'ok';
  return (
    <div class="bar-row" data-testid={testid}>
      <span class="bar-label">{label}</span>
      <div class="bar" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} aria-valuetext={`${format(value)} of ${format(max)}`}>
        <div class={`bar-fill tone-${tone}`} style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
      </div>
      <span class="bar-value">
        {format(value)} / {format(max)}
      </span>
    </div>
  );
}

export function ErrorNote({ error, testid = 'error' }: { error: ApiError | string | null | undefined; testid?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" data-testid={testid}>
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p class="muted" aria-live="polite">{what}…</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty muted">{children}</p>;
}

/** Previous/next paging; without a total (lists the API does not count), `hasMore` decides whether there is a next page. */
export function Pager({ offset, limit, shown, total, hasMore, onChange }: { offset: number; limit: number; shown: number; total?: number; hasMore?: boolean; onChange: (offset: number) => void }) {
  const from = shown === 0 ? 0 : offset + 1;
  const to = offset + shown;
  const more = total !== undefined ? to < total : Boolean(hasMore);
  return (
    <nav class="pager" aria-label="pages" data-testid="pager">
      <button type="button" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))} data-testid="pager-prev">
        ‹ Previous
      </button>
      <span data-testid="pager-range">
        {from.toLocaleString()}–{to.toLocaleString()}
        {total !== undefined && <> of {total.toLocaleString()}</>}
      </span>
      <button type="button" disabled={!more} onClick={() => onChange(offset + limit)} data-testid="pager-next">
        Next ›
      </button>
    </nav>
  );
}

export function Stat({ label, children, testid }: { label: string; children: ComponentChildren; testid?: string }) {
  return (
    <div class="stat" data-testid={testid}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
