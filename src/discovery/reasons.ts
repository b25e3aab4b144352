/**
 * What discovery noted about a job (discovery_info): why it guessed each value, and what it
 * could not use. Read by `smart-cron jobs show` and the dashboard (web/ imports this file, so it
 * imports nothing).
 */
export type Info = Record<string, unknown>;

/** Why discovery guessed each value, keyed by the guess it explains. */
export const REASONS: Record<string, string[]> = {
  schedule: ['schedule_source', 'schedule_reason'],
  category: ['category_reason'],
  priority: ['priority_reason'],
  memory: ['estimate_reason', 'memory_reason'],
  type: ['type_reason'],
};

/** The job fields each guess set: once a person sets one, the reason no longer explains it. */
const FIELDS: Record<string, string[]> = {
  schedule: ['schedule'],
  category: ['category'],
  priority: ['priority'],
  memory: ['estimated_memory_mb', 'timeout_seconds'],
  type: ['script_type'],
};

export function reasonFor(info: Info, guess: string): string | null {
  for (const k of REASONS[guess] ?? []) if (typeof info[k] === 'string' && info[k]) return info[k] as string;
  // An imported crontab entry's schedule is its line's.
  if (guess === 'schedule' && typeof info.file === 'string' && info.line !== undefined) return `crontab line ${info.file}:${String(info.line)}`;
  return null;
}

/** The reasons that still explain the job's values (not those a person has set since), as [guess, why]. */
export function standingReasons(info: Info, overrides: readonly string[] = []): [string, string][] {
  return Object.keys(REASONS)
    .filter((g) => !(FIELDS[g] ?? []).some((f) => overrides.includes(f)))
    .map((g) => [g, reasonFor(info, g)] as const)
    .filter((x): x is [string, string] => x[1] !== null);
}

export function warningsOf(info: Info): string[] {
  return Array.isArray(info.warnings) ? info.warnings.map(String) : [];
}

/** Whether the schedule is still discovery's guess: not when a person has set one since. */
export function scheduleStillGuessed(info: Info, overrides: readonly string[] = []): boolean {
  return info.schedule_guessed === true && !FIELDS.schedule!.some((f) => overrides.includes(f));
}
