/**
 * Durations in words, two ways: a setting as the user writes it ("30m", "6h", "90s"), and a
 * measured duration as people read it ("12ms", "1.2s", "4m05s"). Used by every layer, so it
 * sits at the bottom and imports nothing.
 */

/** A setting in whole seconds, in its largest exact unit: 1800 -> "30m", 90 -> "90s". */
export function formatSeconds(s: number): string {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** A measured duration: ms below a second, then tenths, seconds, minutes, hours. */
export function fmtDuration(ms: number): string {
  // Below a second the tenths would read "0.0s" for a job that does take time.
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
