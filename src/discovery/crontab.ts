/**
 * crontab(5), user and system format, as cron itself reads it:
 * - `NAME=value` lines set the environment of the entries below them (quotes stripped);
 * - entries are 5 time fields or a macro (@reboot, @daily …), then (system format) a user,
 *   then the command, which runs through the shell;
 * - in the command an unescaped `%` ends the command: the text after it is the job's stdin,
 *   with every further unescaped `%` turned into a newline; `\%` is a literal `%`;
 * - comment lines directly above an entry describe it; a commented-out entry
 *   (`# *\/5 * * * * cmd`) is a job someone switched off, unless it is an example inside
 *   prose (after a line ending in ":" or under the "# |  |  |" field diagram).
 */
import { parseSchedule, validateTimezone } from '../schedule/cron.js';

export interface CrontabEntry {
  line: number;
  raw: string;
  /** False for a commented-out entry. */
  active: boolean;
  schedule: string;
  /** System format: the user field. */
  user?: string;
  /** The command as cron hands it to the shell (before the first unescaped %). */
  command: string;
  /** Text after the first unescaped %, fed to the command's stdin, % turned into newlines. */
  stdin: string | null;
  /** Environment set above the entry, except the variables cron itself reads. */
  env: Record<string, string>;
  shell?: string;
  mailto?: string;
  timezone?: string;
  description: string | null;
  /** The job name from a `#[smart-cron NAME]` marker left by --rewrite. */
  rewrittenAs?: string;
}

export interface CrontabProblem {
  line: number;
  text: string;
  reason: string;
}

export interface ParsedCrontab {
  file: string;
  system: boolean;
  lines: string[];
  entries: CrontabEntry[];
  problems: CrontabProblem[];
}

export const REWRITE_MARKER = /^#\[smart-cron ([^\]\s]+)\]\s?(.*)$/;
const ENV_LINE = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const USER = /^[a-z_][a-z0-9_.-]*\$?$/;
/** The "# |  |  |  |  |" field diagram and its ".---- minute" labels (Debian's /etc/crontab). */
const DIAGRAM = /^#\s*([|.*]\s*)+([-.]+\s*\w.*)?$/;

interface Parsed {
  schedule: string;
  user?: string;
  command: string;
  stdin: string | null;
}

export function parseCrontab(text: string, opts: { file: string; system: boolean }): ParsedCrontab {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const entries: CrontabEntry[] = [];
  const problems: CrontabProblem[] = [];
  const env: Record<string, string> = {};
  let shell: string | undefined;
  let mailto: string | undefined;
  let timezone: string | undefined;
  let comments: string[] = [];

  const push = (lineNo: number, raw: string, p: Parsed, active: boolean, rewrittenAs?: string) => {
    entries.push({
      line: lineNo,
      raw,
      active,
      ...p,
      env: { ...env },
      ...(shell !== undefined ? { shell } : {}),
      ...(mailto !== undefined ? { mailto } : {}),
      ...(timezone !== undefined ? { timezone } : {}),
      description: describe(comments),
      ...(rewrittenAs ? { rewrittenAs } : {}),
    });
    comments = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    const t = raw.trim();
    if (t === '') {
      comments = [];
      continue;
    }
    if (t.startsWith('#')) {
      const marker = REWRITE_MARKER.exec(t);
      if (marker) {
        const p = parseEntry(marker[2]!, opts.system, timezone);
        if (typeof p !== 'string') push(lineNo, marker[2]!, p, true, marker[1]);
        else problems.push({ line: lineNo, text: raw, reason: `smart-cron marker line: ${p}` });
        continue;
      }
      const body = t.replace(/^#+\s?/, '');
      const prev = comments.length ? lines[i - 1]!.trim() : '';
      const example = prev !== '' && (prev.endsWith(':') || DIAGRAM.test(prev));
      const p = /^[\d*@]/.test(body) && !example ? parseEntry(body, opts.system, timezone) : 'prose';
      if (typeof p !== 'string') push(lineNo, body, p, false);
      // An example entry in prose describes nothing below it.
      else if (example && /^[\d*@]/.test(body)) comments = [];
      else comments.push(t);
      continue;
    }
    const envMatch = ENV_LINE.exec(t);
    if (envMatch) {
      comments = [];
      const name = envMatch[1]!;
      const value = unquote(envMatch[2]!);
      if (name === 'CRON_TZ' || name === 'TZ') {
        try {
          if (value === '') throw new Error();
          validateTimezone(value, name);
        } catch {
          problems.push({ line: lineNo, text: raw, reason: `${name}: unknown timezone "${value}" (expected an IANA name such as Europe/Berlin)` });
          continue;
        }
        if (name === 'CRON_TZ' || timezone === undefined || env.TZ === timezone) timezone = value;
        if (name === 'TZ') env.TZ = value;
      } else if (name === 'SHELL') shell = value;
      else if (name === 'MAILTO') mailto = value;
      else env[name] = value;
      continue;
    }
    const p = parseEntry(t, opts.system, timezone);
    if (typeof p === 'string') {
      problems.push({ line: lineNo, text: raw, reason: p });
      comments = [];
    } else push(lineNo, t, p, true);
  }
  return { file: opts.file, system: opts.system, lines, entries, problems };
}

/** An entry, or the reason it is not one. */
export function parseEntry(line: string, system: boolean, timezone?: string): Parsed | string {
  const tokens: { text: string; end: number }[] = [];
  const re = /\S+/g;
  const want = (line.startsWith('@') ? 1 : 5) + (system ? 1 : 0);
  let m: RegExpExecArray | null;
  while (tokens.length < want && (m = re.exec(line))) tokens.push({ text: m[0], end: m.index + m[0].length });
  const nTime = line.startsWith('@') ? 1 : 5;
  if (!/^[\d*@]/.test(line)) return 'not a cron entry, an environment setting (NAME=value) or a comment';
  if (tokens.length < nTime) {
    return `expected 5 time fields (minute hour day-of-month month day-of-week) and a command, found ${tokens.length} field${tokens.length === 1 ? '' : 's'}`;
  }
  const expr = tokens.slice(0, nTime).map((x) => x.text).join(' ');
  try {
    parseSchedule(expr, timezone);
  } catch (e) {
    return (e as Error).message.replace(/^schedule: /, '');
  }
  let user: string | undefined;
  if (system) {
    const u = tokens[nTime];
    if (!u) return 'expected a user name and a command after the schedule (system crontab format)';
    if (!USER.test(u.text)) return `"${u.text}" is not a user name (system crontab format: schedule, user, command)`;
    user = u.text;
  }
  const rest = line.slice(tokens[tokens.length - 1]!.end).trim();
  if (!rest) return system ? 'expected a command after the user name' : 'expected a command after the schedule';
  const { command, stdin } = splitPercent(rest);
  if (!command.trim()) return 'the command before the first % is empty';
  return { schedule: expr, ...(user ? { user } : {}), command: command.trim(), stdin };
}

/** cron's % rule (see do_command.c): the first unescaped % ends the command; later ones are newlines. */
export function splitPercent(cmd: string): { command: string; stdin: string | null } {
  let command = '';
  let i = 0;
  for (; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === '\\' && cmd[i + 1] === '%') {
      command += '%';
      i++;
    } else if (c === '%') break;
    else command += c;
  }
  if (i >= cmd.length) return { command, stdin: null };
  let stdin = '';
  for (i++; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === '\\' && cmd[i + 1] === '%') {
      stdin += '%';
      i++;
    } else stdin += c === '%' ? '\n' : c;
  }
  return { command, stdin };
}

function unquote(v: string): string {
  const s = v.trim();
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}

/** The comment paragraph closest above an entry, without markers and diagrams. */
function describe(comments: string[]): string | null {
  const paragraph: string[] = [];
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i]!;
    if (DIAGRAM.test(c)) break;
    const text = c.replace(/^#+\s*/, '').trim();
    if (!text) {
      if (paragraph.length) break;
      continue;
    }
    paragraph.unshift(text);
  }
  const s = paragraph.join(' ').replace(/\s+/g, ' ').trim();
  if (!s) return null;
  return s.length > 500 ? `${s.slice(0, 497)}...` : s;
}
