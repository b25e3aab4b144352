/**
 * `smart-cron import-crontab`: crontab entries become disabled jobs (source 'crontab'),
 * named from the file and a hash of what the entry runs (not when: a new schedule updates
 * the job), so re-importing the same file changes nothing. An entry gone from the file is
 * reported and its job marked missing, never deleted. If any line is bad nothing is
 * imported (unless the caller skips bad lines), so a crontab is never half-imported.
 */
import { createHash } from 'node:crypto';
import { iso } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { JobDefinition } from '../jobs/definition.js';
import { crontabKey, parseJson, type Job } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { guessCategory, guessPriority } from './classify.js';
import { parseEntry, type CrontabEntry, type CrontabProblem, type ParsedCrontab } from './crontab.js';
import { estimateCost } from './estimate.js';
import { previewChange, type Change } from './preview.js';
import { readShellLine } from './shell-line.js';

/** The here-doc delimiter that carries a %-stdin; numbered if the text itself contains it. */
const STDIN_EOF = 'SMART_CRON_STDIN';
const RUNNERS = new Set(['php', 'python', 'python3', 'node', 'sh', 'bash', 'run-parts', 'perl', 'ruby', 'tsx']);

export interface ImportedJob {
  file: string;
  line: number;
  name: string;
  change: Change;
  changed: string[];
  active_in_crontab: boolean;
  schedule: string;
  run_as_user: string | null;
  category: string;
  category_reason: string;
  priority: string;
  priority_reason: string;
  description: string | null;
  command: string;
  warnings: string[];
  def: JobDefinition;
  info: Record<string, unknown>;
}

/** A job imported earlier from the same crontab (file label) whose entry this import no longer has. */
export interface MissingEntry {
  name: string;
  change: 'missing';
  /** ['missing'] when this import marks it; [] when it was marked before. */
  changed: string[];
  /** Where the entry was when last imported. */
  file: string | null;
  line: number | null;
  crontab_line: string | null;
  schedule: string;
  run_as_user: string | null;
  enabled: boolean;
}

export interface ImportReport {
  dry_run: boolean;
  jobs: ImportedJob[];
  missing: MissingEntry[];
  invalid: (CrontabProblem & { file: string })[];
  counts: Record<Change | 'missing', number>;
  /** Entries whose jobs a person removed before: left out (unless includeRemoved). */
  removed: { name: string; file: string; line: number; removed_at: string }[];
}

/** The shell line that does what cron would: the command, with its %-stdin as a here-doc to the whole command. */
export function shellLine(e: Pick<CrontabEntry, 'command' | 'stdin'>): string {
  if (e.stdin === null) return e.command;
  let eof = STDIN_EOF;
  for (let n = 2; e.stdin.split('\n').includes(eof); n++) eof = `${STDIN_EOF}_${n}`;
  // A brace group, so a pipeline's first command reads the stdin, as under cron.
  // A here-doc always ends in a newline; cron's stdin ends in one only if the entry ended in %.
  const body = e.stdin.endsWith('\n') ? e.stdin : `${e.stdin}\n`;
  return `{\n${e.command}\n} <<'${eof}'\n${body}${eof}`;
}

/** A readable stem for a job name: the program the entry really runs (or the script it runs); of several, the last. */
export function programName(command: string): string {
  let best: string | undefined;
  for (const [prog, ...args] of readShellLine(command).commands) {
    let base = prog!.slice(prog!.lastIndexOf('/') + 1);
    if (RUNNERS.has(base)) {
      const arg = args.find((w) => !w.startsWith('-'));
      if (arg) base = arg.slice(arg.lastIndexOf('/') + 1);
    }
    if (base) best = base.replace(/\.(php|py|sh|js|mjs|cjs|ts|pl|rb)$/, '');
  }
  const clean = (best ?? 'job').replace(/[^A-Za-z0-9._-]/g, '').replace(/^[^A-Za-z0-9]+/, '');
  return clean.slice(0, 60) || 'job';
}

/** The runtime of the commands a line runs (their words, from readShellLine). */
function scriptTypeOf(words: string[]): JobDefinition['script_type'] | null {
  const w = words.map((x) => x.slice(x.lastIndexOf('/') + 1));
  if (w.some((x) => /^php(\d[\d.]*)?$/.test(x) || x.endsWith('.php'))) return 'php' as never;
  if (w.some((x) => /^python\d?$/.test(x) || x.endsWith('.py'))) return 'python' as never;
  if (w.some((x) => x === 'node' || /\.(m|c)?js$/.test(x))) return 'node' as never;
  return 'bash' as never;
}

function shortHash(parts: string[]): string {
  return createHash('sha1').update(parts.join('\0')).digest('hex').slice(0, 6);
}

/** What an entry runs and as whom: which job it is. Its schedule is no part of it. */
function identity(e: Pick<CrontabEntry, 'user' | 'command' | 'stdin'>): string[] {
  return [e.user ?? '', e.command, e.stdin ?? ''];
}

/** The start of the names of every job imported from crontabs with this label. */
function namePrefix(label: string): string {
  return `crontab:${label}/`;
}

/**
 * An entry's job name: its file's label, the program, and a hash of its identity, so that a
 * changed schedule updates the job instead of adding one.
 */
export function entryName(e: CrontabEntry, label: string): string {
  return `${namePrefix(label)}${programName(e.command)}-${shortHash(identity(e))}`;
}

/** The name imports gave an entry while the hash included its schedule. */
function legacyName(e: CrontabEntry, label: string): string {
  return `${namePrefix(label)}${programName(e.command)}-${shortHash([e.schedule, ...identity(e)])}`;
}

/** The absolute paths an entry's command names ("/usr/bin/php /srv/app/x.php >>/var/log/x.log" names three). */
function pathsIn(command: string): string[] {
  return [...new Set(command.split(/[\s;&|()<>{}`"'=]+/).filter((w) => w.startsWith('/')))];
}

export function entryToJob(e: CrontabEntry, file: string, label: string): Omit<ImportedJob, 'change' | 'changed'> {
  const prog = programName(e.command);
  const runs = readShellLine(e.command);
  const name = e.rewrittenAs ?? entryName(e, label);
  const warnings: string[] = [];
  const line = shellLine(e);
  const def: JobDefinition = { name, schedule: e.schedule, description: e.description };
  // cron runs the line with $SHELL -c; /bin/sh is what `shell: true` means.
  if (!e.shell || e.shell === '/bin/sh' || e.shell === 'sh') {
    def.command = [line];
    def.shell = true;
  } else {
    def.command = [e.shell, '-c', line];
    def.shell = false;
  }
  if (e.timezone) def.timezone = e.timezone;
  if (Object.keys(e.env).length) def.env = e.env;
  if (e.user) def.run_as_user = e.user;
  if (e.mailto !== undefined) {
    const parts = e.mailto.split(/[,\s]+/).filter(Boolean);
    def.alert_emails = parts.filter((p) => /^[^@\s]+@[^@\s]+$/.test(p));
    for (const p of parts) if (!def.alert_emails.includes(p)) warnings.push(`MAILTO "${p}" is a local mailbox, not an e-mail address; not used for alerts`);
  }
  // The path words are those of what the line runs and where: not of its guards (`test -x
  // /usr/sbin/x ||`), wrappers' locks or redirected files. Options, addresses and URLs say
  // nothing about the job either ("example.com" is not an example job).
  const words = runs.commands.flat();
  const folders = [...runs.dirs, ...words].filter((w) => !/^-|@|^\w+:\/\//.test(w)).join(' ');
  const texts = { name: prog, description: e.description, folders };
  const category = guessCategory(texts);
  const priority = guessPriority(texts, category.value);
  const est = estimateCost({ category: category.value, type: scriptTypeOf(words) as never, texts: [prog, e.description] });
  Object.assign(def, {
    category: category.value,
    priority: priority.value,
    timeout_seconds: est.timeout_seconds,
    estimated_memory_mb: est.estimated_memory_mb,
    cpu_weight: est.cpu_weight,
    memory_weight: est.memory_weight,
  });
  const info: Record<string, unknown> = {
    file,
    line: e.line,
    crontab_line: e.raw,
    active_in_crontab: e.active,
    ...(e.stdin !== null ? { stdin_from_percent: true } : {}),
    ...(e.mailto !== undefined ? { mailto: e.mailto } : {}),
    ...(e.shell ? { shell: e.shell } : {}),
    schedule_guessed: false,
    category_reason: category.reason,
    priority_reason: priority.reason,
    estimate_reason: est.reason,
    ...(warnings.length ? { warnings } : {}),
  };
  return {
    file,
    line: e.line,
    name,
    active_in_crontab: e.active,
    schedule: e.schedule,
    run_as_user: e.user ?? null,
    category: category.value,
    category_reason: category.reason,
    priority: priority.value,
    priority_reason: priority.reason,
    description: e.description,
    command: line,
    warnings,
    def,
    info,
  };
}

/** The label in a job's name: the cron.d file's name, "system" for /etc/crontab, else the file's name. */
export function labelFor(file: string): string {
  if (file === '-') return 'stdin';
  const base = file.slice(file.lastIndexOf('/') + 1) || 'crontab';
  if (file === '/etc/crontab' || file.endsWith('/etc/crontab')) return 'system';
  return base.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'crontab';
}

export async function importCrontabs(
  jm: JobManager,
  parsed: (ParsedCrontab & { label?: string })[],
  opts: { dryRun?: boolean; skipInvalid?: boolean; includeRemoved?: boolean } = {},
): Promise<ImportReport> {
  const invalid = parsed.flatMap((p) => p.problems.map((x) => ({ ...x, file: p.file })));
  if (invalid.length && !opts.skipInvalid) {
    const lines = invalid.map((x) => `${x.file}:${x.line}: ${x.reason}: ${x.text.trim()}`);
    throw new ValidationError(
      `${lines.join('\n')}\n${invalid.length} bad line${invalid.length === 1 ? '' : 's'}: nothing imported (fix ${invalid.length === 1 ? 'it' : 'them'}, or use --skip-invalid)`,
      'crontab',
    );
  }
  const { jobs: all } = await jm.listJobs({ sort: 'id' });
  const byName = new Map(all.map((j) => [j.name, j]));
  const discovered = new Map<string, Job>();
  for (const j of all) if (j.source === 'discovered' && j.script_path && !discovered.has(j.script_path)) discovered.set(j.script_path, j);

  const built: Built[] = parsed.flatMap((p) => {
    const label = p.label ?? labelFor(p.file);
    return p.entries.map((e) => ({ e, label, system: p.system, job: entryToJob(e, p.file, label), legacy: e.rewrittenAs ?? legacyName(e, label) }));
  });
  // Entries with the same identity in one file (the same command at two times, or the same
  // line twice) stay apart, numbered in their order among those entries.
  const seen = new Map<string, number>();
  const seenLegacy = new Map<string, number>();
  const numbered = (name: string, counts: Map<string, number>) => {
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    return n > 1 ? `${name}-${n}` : name;
  };
  for (const b of built) {
    b.job.name = b.job.def.name = numbered(b.job.name, seen);
    b.legacy = numbered(b.legacy, seenLegacy);
  }
  claimOlderJobs(built, all);
  // Both would run the same script: say so on the imported job, where review shows it.
  for (const { e, job } of built) {
    for (const path of pathsIn(e.command)) {
      const twin = discovered.get(path);
      if (!twin) continue;
      job.warnings.push(`runs ${path}, which is already the job ${twin.name} (discovered): enable only one`);
      job.info.warnings = job.warnings;
    }
  }

  const dismissed = await jm.dismissed.all();
  const removed: ImportReport['removed'] = [];
  const jobs: ImportedJob[] = [];
  for (const { job: b } of built) {
    const existing = byName.get(b.name);
    const gone = existing ? undefined : dismissed.get(crontabKey(b.name));
    if (gone && !opts.includeRemoved) {
      removed.push({ name: b.name, file: b.file, line: b.line, removed_at: gone.dismissed_at });
      continue;
    }
    let { change, changed } = existing ? previewChange(existing, b.def) : { change: 'new' as Change, changed: [] as string[] };
    if (existing?.missing) {
      change = 'updated';
      changed = [...changed, 'missing'];
    }
    if (!opts.dryRun && (change !== 'unchanged' || existing?.discovery_info !== JSON.stringify(b.info))) {
      await jm.registerJob(b.def, { source: 'crontab', info: b.info });
    }
    jobs.push({ ...b, change, changed });
  }

  // Jobs imported before from these crontabs whose entries are gone: marked, never deleted (their history stays).
  const prefixes = [...new Set(parsed.map((p) => namePrefix(p.label ?? labelFor(p.file))))];
  const present = new Set(jobs.map((j) => j.name));
  const missing: MissingEntry[] = [];
  for (const j of all) {
    if (j.source !== 'crontab' || present.has(j.name) || !prefixes.some((p) => j.name.startsWith(p))) continue;
    if (!j.missing && !opts.dryRun) await jm.jobs.update(j.id, { missing: 1, updated_at: iso(jm.clock.now()) });
    const info = parseJson<Record<string, unknown>>(j.discovery_info, {});
    missing.push({
      name: j.name,
      change: 'missing',
      changed: j.missing ? [] : ['missing'],
      file: typeof info.file === 'string' ? info.file : null,
      line: typeof info.line === 'number' ? info.line : null,
      crontab_line: typeof info.crontab_line === 'string' ? info.crontab_line : null,
      schedule: j.schedule,
      run_as_user: j.run_as_user,
      enabled: j.enabled === 1,
    });
  }
  const counts = { new: 0, updated: 0, unchanged: 0, missing: missing.length };
  for (const j of jobs) counts[j.change]++;
  return { dry_run: Boolean(opts.dryRun), jobs, missing, invalid, counts, removed };
}

interface Built {
  e: CrontabEntry;
  label: string;
  system: boolean;
  job: Omit<ImportedJob, 'change' | 'changed'>;
  /** The entry's name before names left out the schedule (numbered as then). */
  legacy: string;
}

/**
 * A job imported while names included the schedule keeps its name (its history and a person's
 * changes with it) rather than gain a twin under the new name: the job of the entry's old name,
 * else, once the schedule has changed since, a job of the same identity (read from the crontab
 * line it stores) that no entry of this import claims.
 */
function claimOlderJobs(built: Built[], all: Job[]): void {
  const byName = new Map(all.map((j) => [j.name, j]));
  const taken = new Set(built.map((b) => b.job.name));
  const adopt = (b: Built, name: string) => {
    b.job.name = b.job.def.name = name;
    taken.add(name);
  };
  for (const b of built) {
    if (!byName.has(b.job.name) && byName.get(b.legacy)?.source === 'crontab' && !taken.has(b.legacy)) adopt(b, b.legacy);
  }
  const storedIdentity = new Map<number, string | null>();
  const identityOf = (j: Job, system: boolean) => {
    if (!storedIdentity.has(j.id)) {
      const line = parseJson<Record<string, unknown>>(j.discovery_info, {}).crontab_line;
      const p = typeof line === 'string' ? parseEntry(line, system) : 'no line';
      storedIdentity.set(j.id, typeof p === 'string' ? null : identity(p).join('\0'));
    }
    return storedIdentity.get(j.id);
  };
  for (const b of built) {
    if (byName.has(b.job.name) || b.e.rewrittenAs) continue;
    const key = identity(b.e).join('\0');
    const prefix = namePrefix(b.label);
    const older = all.find((j) => j.source === 'crontab' && j.name.startsWith(prefix) && !taken.has(j.name) && identityOf(j, b.system) === key);
    if (older) adopt(b, older.name);
  }
}

/** The crontab to install after an import: every imported active line commented out with a marker, so nothing runs twice. */
export function rewriteCrontab(parsed: ParsedCrontab, jobs: ImportedJob[]): string {
  const byLine = new Map(jobs.filter((j) => j.file === parsed.file).map((j) => [j.line, j]));
  const out = parsed.lines.map((raw, i) => {
    const j = byLine.get(i + 1);
    if (!j || !j.active_in_crontab || raw.trim().startsWith('#')) return raw;
    return `#[smart-cron ${j.name}] ${raw.trim()}`;
  });
  const head = '# Entries marked #[smart-cron NAME] now run under smart-cron (`smart-cron review` to enable them).';
  return `${out[0] === head ? '' : `${head}\n`}${out.join('\n')}\n`;
}

