/** The next run times of the schedule being typed, or the server's message naming the wrong field. */
import { ApiError, get, query } from '../api';
import { useDebounced, useLoader } from '../hooks';
import { absolute, relative, scheduleHasSeconds, short, zoneName } from '../format';

export function SchedulePreview({ expr, timezone, id }: { expr: string; timezone: string; id: string }) {
  const d = useDebounced({ expr: expr.trim(), timezone: timezone.trim() }, 300);
  const qs = query({ expr: d.expr, timezone: d.timezone, count: 5 });
  const preview = useLoader(`preview${qs}`, () => (d.expr ? get<{ runs?: string[]; next_runs?: string[]; timezone?: string }>(`/api/schedule/preview${qs}`) : Promise.resolve({ runs: [] })));
  const stale = d.expr !== expr.trim() || d.timezone !== timezone.trim();
  const err = preview.error;
  // The times in the zone being edited (the answer names it: the home's when the field is empty), not the browser's.
  const zone = preview.data?.timezone;
  const seconds = scheduleHasSeconds(d.expr);
  const runs = preview.data?.runs ?? preview.data?.next_runs ?? [];
  return (
    <div id={id} class={`preview${stale ? ' stale' : ''}`} aria-live="polite" data-testid="schedule-preview">
      {!d.expr ? (
        <span class="muted">e.g. <code>*/15 * * * *</code>, <code>0 3 * * 1-5</code>, <code>@daily</code></span>
      ) : err ? (
        <span class="error" data-testid="schedule-error">{err instanceof ApiError ? err.message : String(err)}</span>
      ) : preview.data ? (
        <>
          <span class="muted">
            Next runs{zone && runs.length > 0 && <span data-testid="schedule-zone"> in {zoneName(zone, !d.timezone)}</span>}:{' '}
          </span>
          <ol class="inline-list" data-testid="schedule-runs">
            {runs.map((r) => (
              <li key={r}>
                <time dateTime={r} title={`${absolute(r, zone)}; ${absolute(r)} in this browser's time (${relative(r, Date.now())})`}>
                  {short(r, { timeZone: zone, seconds })}
                </time>
              </li>
            ))}
          </ol>
        </>
      ) : (
        <span class="muted">…</span>
      )}
    </div>
  );
}
