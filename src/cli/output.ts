/** How every command prints: a plain table for people, or JSON with the snake_case columns for scripts. */
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

/** A timestamp for people: local time without seconds' fraction, or '-'. */
export function when(isoText: string | null | undefined, nowMs = Date.now()): string {
  if (!isoText) return '-';
  const t = Date.parse(isoText);
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, '0');
  const abs = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${abs} (${relative(t - nowMs)})`;
}

export function relative(deltaMs: number): string {
  const a = Math.abs(deltaMs);
  const unit = a < 60_000 ? `${Math.round(a / 1000)}s` : a < 3600_000 ? `${Math.round(a / 60_000)}m` : a < 86400_000 ? `${(a / 3600_000).toFixed(1)}h` : `${(a / 86400_000).toFixed(1)}d`;
  return deltaMs >= 0 ? `in ${unit}` : `${unit} ago`;
}
