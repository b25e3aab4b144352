/** How every command prints: a plain table for people, or JSON with the snake_case columns for scripts. */
import { isoInZone, zoneOf } from '../schedule/cron.js';

export interface Column<T> {
  header: string;
  get: (row: T) => unknown;
  align?: 'left' | 'right';
  max?: number;
}

export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.get(r), c.max)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

function cell(v: unknown, max = 48): string {
  let s: string;
  if (v === null || v === undefined || v === '') s = '-';
  else if (typeof v === 'boolean') s = v ? 'yes' : 'no';
  else if (Array.isArray(v)) s = v.join(',') || '-';
  else s = String(v);
  s = s.replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * A timestamp for people: date, time and UTC offset in a zone (a job's times in the job's
 * zone; default the home's, never this shell's TZ), and how far off it is; or '-'.
 * The offset makes it unambiguous whatever zone the reader is in.
 */
export function when(isoText: string | null | undefined, nowMs = Date.now(), timezone?: string | null): string {
  if (!isoText) return '-';
  const t = Date.parse(isoText);
  const local = isoInZone(t, zoneOf(timezone));
  return `${local.slice(0, 10)} ${local.slice(11, 19)} ${local.slice(19)} (${relative(t - nowMs)})`;
}

export function relative(deltaMs: number): string {
  const a = Math.abs(deltaMs);
  const unit = a < 60_000 ? `${Math.round(a / 1000)}s` : a < 3600_000 ? `${Math.round(a / 60_000)}m` : a < 86400_000 ? `${(a / 3600_000).toFixed(1)}h` : `${(a / 86400_000).toFixed(1)}d`;
  return deltaMs >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** "1 file", "2 files": a count with its noun. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
