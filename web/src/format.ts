/** How numbers and times read on the dashboard. */

const UNITS: [number, string][] = [
  [60, 's'],
  [60, 'min'],
  [24, 'h'],
  [30, 'd'],
  [12, 'mo'],
  [Infinity, 'y'],
];

/** "3 min ago" / "in 2 h"; the exact time goes in the title. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = (t - now) / 1000;
  let v = Math.abs(diff);
  if (v < 5) return 'just now';
  let unit = 's';
  for (const [size, name] of UNITS) {
    unit = name;
    if (v < size) break;
    v /= size;
  }
  const n = v >= 10 || unit === 's' ? Math.round(v) : Math.round(v * 10) / 10;
  return diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/**
 * The date and time in full. With a zone (a job's), in that zone, its offset shown: a job runs
 * by its own clock, not the browser's. Without, in the browser's.
 */
export function absolute(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return inZone(d, timeZone ? { dateStyle: 'medium', timeStyle: 'long' } : { dateStyle: 'medium', timeStyle: 'medium' }, timeZone);
}

/** How a job's upcoming times read: in its zone, and to the second when its schedule counts seconds. */
export interface ZoneView {
  timeZone?: string;
  seconds?: boolean;
}

/**
 * "Tue, Dec 8, 03:00 GMT+1": for lists of upcoming times, where the year is noise. The offset is
 * on every time because it changes across a DST switch; the zone's name goes once beside the list.
 */
export function short(iso: string, view: ZoneView = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return inZone(
    d,
    { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', ...(view.seconds ? { second: '2-digit' } : {}), timeZoneName: 'shortOffset' },
    view.timeZone,
  );
}

/** A 6-field schedule counts seconds (second minute hour …): without them its times read alike. */
export function scheduleHasSeconds(expr: string): boolean {
  return expr.trim().split(/\s+/).length === 6;
}

/** Which zone a job's times are in, as the CLI names it: its own, or the home's (config.yaml `timezone`, else the machine's). */
export function zoneName(zone: string, isHome: boolean): string {
  return isHome ? `${zone}, the home's timezone` : zone;
}

/** A zone this browser does not know (an alias the daemon accepts) falls back to the browser's own, offset still shown. */
function inZone(d: Date, options: Intl.DateTimeFormatOptions, timeZone: string | undefined): string {
  try {
    return d.toLocaleString(undefined, { ...options, timeZone });
  } catch {
    return d.toLocaleString(undefined, options);
  }
}

/** The clock time, with the date when it is not today: next to a relative time where the exact moment matters. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s < 10 ? s.toFixed(2) : s.toFixed(1)} s`; // whole seconds (a setting) as they are
  const m = Math.floor(s / 60);
  const rest = Math.round(s % 60);
  if (m < 60) return rest ? `${m} min ${rest} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

export function megabytes(mb: number | null | undefined): string {
  if (mb === null || mb === undefined) return '—';
  if (mb >= 1024) return `${(mb / 1024).toFixed(mb >= 10240 ? 0 : 1)} GB`;
  return `${mb < 10 && mb !== 0 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function percent(p: number | null | undefined): string {
  if (p === null || p === undefined) return '—';
  return `${p < 10 && p !== 0 ? p.toFixed(1) : Math.round(p)} %`;
}

/** "execution_status" words as people say them. */
export function words(s: string | null | undefined): string {
  return s ? s.replace(/_/g, ' ') : '—';
}

export function commandLine(job: { command: string[] | null; shell: boolean; script_path: string | null }): string {
  if (job.script_path) return job.script_path;
  if (!job.command) return '—';
  if (job.shell) return job.command[0] ?? '';
  return job.command.map(quoteWord).join(' ');
}

function quoteWord(w: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
