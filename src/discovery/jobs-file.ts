/**
 * Jobs as code: `apply -f jobs.yaml` and `export`. A file is a list of job definitions, or a
 * mapping with `jobs:` (a list, or a mapping of name -> definition). Apply checks every job
 * before it writes any, names the job, the field and the file's line in each error, and
 * registers as a person would (source 'file', the fields become user overrides). A setting a
 * person gave earlier (an override: an earlier apply, `jobs add/set`, the API) that the file no
 * longer gives goes back to its default and stops being an override, so the job matches the
 * file; what discovery or a crontab import found is theirs and stays (a rescan would bring it back).
 *
 * Links between jobs go with the job that depends: `requires: [extract, {job: load, within: 6h}]`
 * and `after: [extract, {job: load, on: failure}]` (as `deps add --requires/--after`). A job that
 * gives `requires:` (or `after:`) has exactly those links of that kind after apply (an empty list
 * removes them); a job that gives neither keeps the links it has (a file written before links
 * could be exported, applied, must not cut them). A link names a job of the file or a registered one.
 */
import Value from 'typebox/value';
import YAML, { LineCounter, isMap, isSeq, type Document, type Node } from 'yaml';
import { splitWords } from '../jobs/command-line.js';
import { ValidationError } from '../errors.js';
import { formatSeconds } from '../durations.js';
import { DEPENDENCY_ONS, DependencyRepo, windowSeconds, type DependencyKind, type DependencyOn } from '../jobs/dependencies.js';
import { JobFields, SETTABLE_FIELDS, validateJobDefinition, type JobDefinition, type JobFieldName } from '../jobs/definition.js';
import { BOOLEAN_COLUMNS, jobOverrides, parseJson, type Job } from '../jobs/job.js';
import { JOB_DEFAULTS } from '../jobs/settings.js';
import type { JobManager } from '../jobs/manager.js';
import { parseSchedule } from '../schedule/cron.js';
import { previewChange } from './preview.js';

export interface FileJob {
  def: JobDefinition;
  line: number;
  /** The links the file gives, by kind; a kind left out of the file is absent (its links are kept). */
  links?: Partial<Record<LinkKey, FileLink[]>>;
}

/** One link of a job in a file: the job it depends on, and the link's window (requires) or outcome (after). */
export interface FileLink {
  job: string;
  window_seconds: number | null;
  on: DependencyOn;
}

/** The file's keys for links, and the kind of link each makes (`after` is a `triggers` link, as `deps add --after`). */
const LINK_KEYS = { requires: 'requires', after: 'triggers' } as const satisfies Record<string, DependencyKind>;
type LinkKey = keyof typeof LINK_KEYS;

/** A job as `export` writes it: its definition and the links it has. */
export type ExportedJob = JobDefinition & Partial<Record<LinkKey, (string | { job: string; within?: string; on?: DependencyOn })[]>>;

export interface ApplyReport {
  dry_run: boolean;
  added: string[];
  changed: { name: string; fields: string[] }[];
  unchanged: number;
  removed: string[];
  /** Jobs from an earlier apply that this file no longer has (removed only with --prune). */
  not_in_file: string[];
}

/** Parse and validate a jobs file; throws one ValidationError listing every problem. */
export function parseJobsFile(text: string, file: string): FileJob[] {
  const lc = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined) => (offset === undefined ? '' : `:${lc.linePos(offset).line}`);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ValidationError(`${file}${at(e.pos[0])}: bad YAML: ${e.message.split('\n')[0]}`, 'file');
  }
  const root = doc.contents;
  let items: { key: (string | number)[]; name?: string; node: Node | null }[] = [];
  if (root === null || (root as { value?: unknown }).value === null) items = [];
  else if (isSeq(root)) items = root.items.map((n, i) => ({ key: [i], node: n as Node }));
  else if (isMap(root)) {
    const keys = root.items.map((p) => String((p.key as { value?: unknown })?.value ?? p.key));
    const extra = keys.filter((k) => k !== 'jobs');
    if (extra.length) {
      const pair = root.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === extra[0]);
      throw new ValidationError(`${file}${at((pair?.key as Node | undefined)?.range?.[0])}: unknown top-level key "${extra[0]}" (expected a list of jobs, or "jobs:")`, extra[0]);
    }
    const jobs = root.get('jobs', true) as Node | undefined;
    if (isSeq(jobs)) items = jobs.items.map((n, i) => ({ key: ['jobs', i], node: n as Node }));
    else if (isMap(jobs)) items = jobs.items.map((p) => {
      const name = String((p.key as { value?: unknown })?.value ?? p.key);
      return { key: ['jobs', name], name, node: p.value as Node };
    });
    else if (jobs && (jobs as { value?: unknown }).value !== null) throw new ValidationError(`${file}${at(jobs.range?.[0])}: "jobs" must be a list of job definitions or a mapping of name to definition`, 'jobs');
  } else throw new ValidationError(`${file}${at((root as Node).range?.[0])}: expected a list of jobs, or a mapping with "jobs:"`, 'file');

  const errors: string[] = [];
  const out: FileJob[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, idx) => {
    const line = lc.linePos(item.node?.range?.[0] ?? 0).line;
    const raw = (item.node ? (item.node as unknown as { toJSON(): unknown }).toJSON() : null) as Record<string, unknown> | null;
    const value = item.name !== undefined && raw && typeof raw === 'object' && !('name' in raw) ? { name: item.name, ...raw } : raw;
    const label = item.name !== undefined ? `job "${item.name}"` : typeof value?.name === 'string' ? `job "${value.name}"` : `job #${idx + 1}`;
    const fieldLine = (field: string | undefined) => {
      if (!field) return line;
      const path = [...item.key, ...field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s))];
      const n = doc.getIn(path, true) as Node | undefined;
      const pairKey = fieldKeyNode(doc, item.key, field.split('.')[0]!);
      // A link is an entry of a list: the entry's own line.
      const entry = field.split('.')[0]! in LINK_KEYS && field.includes('.') ? n : undefined;
      return lc.linePos((entry ?? pairKey ?? n)?.range?.[0] ?? item.node?.range?.[0] ?? 0).line;
    };
    try {
      if (item.name !== undefined && raw && typeof raw === 'object' && 'name' in raw && raw.name !== item.name) {
        // Which one would the user mean? Refuse rather than guess (the key used to lose silently).
        throw new ValidationError(`${label}: name ${JSON.stringify(raw.name)} differs from its key "${item.name}" (under a mapping of jobs the key is the name: drop "name:" or make them equal)`, 'name');
      }
      if (value && typeof value === 'object' && !Array.isArray(value) && !('name' in value)) {
        throw new ValidationError(`${label}: missing "name" (expected a unique job name)`, undefined);
      }
      const links = value && typeof value === 'object' && !Array.isArray(value) ? takeLinks(value as Record<string, unknown>, label) : undefined;
      const def = validateJobDefinition(commandAsWords(links ? links.rest : value), label);
      if (!def.command && !def.script_path) throw new ValidationError(`${label}: nothing to run (expected command or script_path)`, 'command');
      parseSchedule(def.schedule, def.timezone ?? undefined);
      const dup = seen.get(def.name);
      if (dup !== undefined) throw new ValidationError(`${label}: defined twice (first at line ${dup})`, 'name');
      seen.set(def.name, line);
      for (const [key, list] of Object.entries(links?.links ?? {})) {
        const i = list.findIndex((l) => l.job === def.name);
        if (i >= 0) throw new ValidationError(`${label}: ${key}: a job cannot depend on itself (expected another job's name)`, `${key}.${i}`);
      }
      out.push(links && Object.keys(links.links).length ? { def, line, links: links.links } : { def, line });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      const msg = e.message.startsWith(label) ? e.message : `${label}: ${e.message}`;
      errors.push(`${file}:${fieldLine(e.field)}: ${msg}`);
    }
  });
  if (errors.length) {
    throw new ValidationError(errors.length === 1 ? errors[0]! : `${errors.join('\n')}\n${errors.length} problems: nothing applied`, 'file');
  }
  return out;
}

/**
 * A job's `requires:` and `after:`, checked, and the rest of its mapping (the definition). An
 * entry is a job name, or a mapping with `job` and `within` (requires) or `on` (after); an
 * empty key (`requires:`) is an empty list.
 */
function takeLinks(value: Record<string, unknown>, label: string): { rest: Record<string, unknown>; links: Partial<Record<LinkKey, FileLink[]>> } {
  const rest = { ...value };
  const links: Partial<Record<LinkKey, FileLink[]>> = {};
  for (const key of Object.keys(LINK_KEYS) as LinkKey[]) {
    if (!(key in value)) continue;
    const given = value[key];
    delete rest[key];
    const extra = key === 'requires' ? 'within' : 'on';
    const form = `a list of job names, or of { job: NAME, ${extra}: ${key === 'requires' ? '6h' : 'success|failure|always'} }`;
    if (given !== null && !Array.isArray(given)) throw new ValidationError(`${label}: ${key}: expected ${form}`, key);
    const list: FileLink[] = [];
    for (const [i, item] of (given ?? []).entries()) {
      const field = `${key}.${i}`;
      const entry = typeof item === 'string' ? { job: item } : item;
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new ValidationError(`${label}: ${field}: expected a job name or { job: NAME, ${extra}: … }`, field);
      const e = entry as Record<string, unknown>;
      const unknown = Object.keys(e).find((k) => k !== 'job' && k !== extra);
      if (unknown !== undefined) {
        const hint = unknown === 'within' || unknown === 'on' ? ` (${unknown} goes with ${unknown === 'within' ? 'requires' : 'after'})` : '';
        throw new ValidationError(`${label}: ${field}: unknown key "${unknown}"${hint} (expected job and ${extra})`, field);
      }
      if (typeof e.job !== 'string' || e.job.trim() === '') throw new ValidationError(`${label}: ${field}: expected "job": the name of the job it depends on`, field);
      let on: DependencyOn = 'success';
      if (e.on !== undefined) {
        if (!(DEPENDENCY_ONS as readonly unknown[]).includes(e.on)) throw new ValidationError(`${label}: ${field}.on: ${JSON.stringify(e.on)} is not an outcome (expected success, failure or always)`, `${field}.on`);
        on = e.on as DependencyOn;
      }
      const window = key === 'requires' ? windowSeconds(e.within as number | string | null | undefined, `${field}.within`) : null;
      if (list.some((l) => l.job === e.job)) throw new ValidationError(`${label}: ${key}: "${e.job}" is named twice`, field);
      list.push({ job: e.job, window_seconds: window, on });
    }
    links[key] = list;
  }
  return { rest, links };
}

/**
 * `command: "php bin/report.php --all"` is the program and its words, split as `jobs add
 * --command` splits them (quotes group, nothing is expanded, no shell runs it); with `shell:
 * true` the string is the one shell line, as `jobs add --shell`. A list is taken as it is.
 */
function commandAsWords(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  if (v.command === undefined || Array.isArray(v.command)) return value;
  if (typeof v.command !== 'string') {
    throw new ValidationError(`command = ${JSON.stringify(v.command)}: expected the program and its arguments, as one line ("php bin/report.php --all") or a list of words ([php, bin/report.php, --all])`, 'command');
  }
  const command = v.shell === true ? [v.command] : splitWords(v.command, 'command');
  if (command.length === 0) throw new ValidationError('command: empty (expected the program to run and its arguments, e.g. "php bin/report.php --all")', 'command');
  return { ...v, command };
}

function fieldKeyNode(doc: Document, base: (string | number)[], field: string): Node | undefined {
  const m = doc.getIn(base, true);
  if (!isMap(m)) return undefined;
  const pair = m.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === field);
  return pair?.key as Node | undefined;
}

/**
 * A setting's value when nothing gives it (jobs/settings.ts; the type makes a new job field
 * without a default a compile error here). command and script_path are not here: the file gives
 * one of them, and the registry drops the other when it does.
 */
const FIELD_DEFAULTS: Record<Exclude<JobFieldName, 'schedule' | 'command' | 'script_path'>, unknown> = JOB_DEFAULTS;

/**
 * What registering `def` must also say so the job matches the file: the overrides it drops,
 * back at their defaults. script_type has no null in a definition (a person names a type or
 * leaves it to the script's extension), so its reset goes to the row directly (`row`).
 */
function resetsFor(existing: Job, def: JobDefinition): { dropped: string[]; resets: Record<string, unknown>; row: { script_type?: null } } {
  const row0 = existing as unknown as Record<string, unknown>;
  // An override of command or script_path the registry has since replaced (set to null) is stale, not a setting.
  const dropped = jobOverrides(existing).filter((k) => k in JobFields && !(k in def) && !((k === 'command' || k === 'script_path') && row0[k] === null));
  const resets: Record<string, unknown> = {};
  const row: { script_type?: null } = {};
  for (const k of dropped) {
    if (k === 'script_type') row.script_type = null;
    else if (k in FIELD_DEFAULTS) resets[k] = FIELD_DEFAULTS[k as keyof typeof FIELD_DEFAULTS];
  }
  return { dropped, resets, row };
}

export async function applyJobs(jm: JobManager, jobs: FileJob[], opts: { prune?: boolean; dryRun?: boolean } = {}): Promise<ApplyReport> {
  const report: ApplyReport = { dry_run: Boolean(opts.dryRun), added: [], changed: [], unchanged: 0, removed: [], not_in_file: [] };
  // Refused in full before anything is written, as the file's other mistakes are.
  const bad: string[] = [];
  for (const { def, line } of jobs) {
    try {
      await jm.checkSlot(def.slot, `line ${line}: job "${def.name}"`);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      bad.push(e.message);
    }
  }
  if (bad.length) throw new ValidationError(bad.length === 1 ? bad[0]! : `${bad.join('\n')}\n${bad.length} problems: nothing applied`, 'slot');
  const links = await planLinks(jm, jobs, Boolean(opts.prune));
  for (const { def } of jobs) {
    const existing = await jm.findJob(def.name);
    if (!existing) {
      report.added.push(def.name);
      if (!opts.dryRun) await jm.registerJob(def, { source: 'file', byUser: true });
      continue;
    }
    const { dropped, resets, row } = resetsFor(existing, def);
    const full = { ...resets, ...def } as JobDefinition;
    const { changed } = previewChange(existing, full, true);
    // A setting no longer given has changed even when its default is the value it had (an
    // override of consecutive_failure_threshold, say, is what makes the job's own count apply).
    const fields = [...new Set([...changed, ...dropped])];
    if (!fields.length) {
      report.unchanged++;
      continue;
    }
    report.changed.push({ name: def.name, fields });
    if (opts.dryRun) continue;
    const { job } = await jm.registerJob(full, { source: 'file', byUser: true });
    if (dropped.length) {
      const keep = new Set([...jobOverrides(job).filter((k) => !dropped.includes(k)), ...Object.keys(def).filter((k) => k !== 'name')]);
      await jm.jobs.update(job.id, { ...row, user_overrides: JSON.stringify([...keep].sort()) });
    }
  }
  // A job whose links change, and nothing else, is changed too (a new job's links come with it).
  for (const [name, keys] of links.changedJobs) {
    if (report.added.includes(name)) continue;
    const entry = report.changed.find((c) => c.name === name);
    if (entry) entry.fields.push(...keys);
    else {
      report.changed.push({ name, fields: keys });
      report.unchanged--;
    }
  }
  if (!opts.dryRun) await writeLinks(jm, links);
  const names = new Set(jobs.map((j) => j.def.name));
  const { jobs: fileJobs } = await jm.listJobs({ source: 'file', sort: 'name' });
  for (const j of fileJobs) {
    if (names.has(j.name)) continue;
    if (!opts.prune) {
      report.not_in_file.push(j.name);
      continue;
    }
    report.removed.push(j.name);
    if (!opts.dryRun) await jm.removeJob(j.id);
  }
  return report;
}

interface LinkPlan {
  /** Per job and kind the file gives: the links it is to have (the others of that kind go). */
  wanted: { job: string; kind: DependencyKind; links: FileLink[] }[];
  /** Jobs whose links change, with the file keys that do (for the report). */
  changedJobs: Map<string, LinkKey[]>;
}

/**
 * The file's links, checked against the file and the registry before anything is written: each
 * names a job of the file or a registered one (not one --prune removes), and the links as they
 * will stand close no cycle. Throws one ValidationError listing every problem.
 */
async function planLinks(jm: JobManager, jobs: FileJob[], prune: boolean): Promise<LinkPlan> {
  const plan: LinkPlan = { wanted: [], changedJobs: new Map() };
  if (!jobs.some((j) => j.links)) return plan;
  const inFile = new Set(jobs.map((j) => j.def.name));
  const registered = new Map((await jm.listJobs({ sort: 'name' })).jobs.map((j) => [j.name, j]));
  const edges = await currentLinks(jm);
  const problems: string[] = [];
  for (const { def, line, links } of jobs) {
    for (const [key, list] of Object.entries(links ?? {}) as [LinkKey, FileLink[]][]) {
      const kind = LINK_KEYS[key];
      for (const l of list) {
        const reg = registered.get(l.job);
        if (!inFile.has(l.job) && !reg) problems.push(`line ${line}: job "${def.name}": ${key} "${l.job}", which is neither in this file nor a registered job`);
        else if (!inFile.has(l.job) && prune && reg?.source === 'file') problems.push(`line ${line}: job "${def.name}": ${key} "${l.job}", which --prune removes (it is not in this file)`);
      }
      plan.wanted.push({ job: def.name, kind, links: list });
      const now = edges.filter((e) => e.job === def.name && e.kind === kind);
      const same = now.length === list.length && list.every((l) => now.some((e) => e.other === l.job && e.window_seconds === (kind === 'requires' ? l.window_seconds : null) && (kind === 'requires' || e.on === l.on)));
      if (!same) plan.changedJobs.set(def.name, [...(plan.changedJobs.get(def.name) ?? []), key]);
    }
  }
  if (problems.length === 0) {
    // The graph as it will stand: the links the file replaces go, its own come.
    const replaced = new Set(plan.wanted.map((w) => `${w.job}\0${w.kind}`));
    const after = [
      ...edges.filter((e) => !replaced.has(`${e.job}\0${e.kind}`)).map((e) => [e.job, e.other] as const),
      ...plan.wanted.flatMap((w) => w.links.map((l) => [w.job, l.job] as const)),
    ];
    const cycle = findCycle(after);
    if (cycle) problems.push(`links: would create a cycle: ${cycle.join(' → ')} (a chain of requires/after links may not lead back to where it starts)`);
  }
  if (problems.length) throw new ValidationError(problems.length === 1 ? problems[0]! : `${problems.join('\n')}\n${problems.length} problems: nothing applied`, 'requires');
  return plan;
}

/** Every link in the registry, by job name. */
async function currentLinks(jm: JobManager): Promise<{ job: string; other: string; kind: DependencyKind; window_seconds: number | null; on: DependencyOn }[]> {
  return jm.database.db
    .selectFrom('smart_cron_job_dependencies as d')
    .innerJoin('smart_cron_integrated_jobs as j', 'j.id', 'd.job_id')
    .innerJoin('smart_cron_integrated_jobs as o', 'o.id', 'd.depends_on_job_id')
    .select(['j.name as job', 'o.name as other', 'd.kind as kind', 'd.window_seconds as window_seconds', 'd.on as on'])
    .orderBy('d.id')
    .execute();
}

/** A cycle in "job depends on other" edges, as names from a job back to itself, or null. */
function findCycle(edges: readonly (readonly [string, string])[]): string[] | null {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    if (state.get(n) === 'done') return null;
    state.set(n, 'open');
    path.push(n);
    for (const m of next.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of [...next.keys()].sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

/** Make the links match the plan (the jobs are registered by now): all removals first, so no add meets a cycle the file breaks. */
async function writeLinks(jm: JobManager, plan: LinkPlan): Promise<void> {
  if (plan.wanted.length === 0) return;
  const repo = new DependencyRepo(jm.database.db);
  const id = async (name: string) => (await jm.getJobRow(name)).id;
  const touched = new Set<number>();
  for (const w of plan.wanted) {
    const jobId = await id(w.job);
    const keep = new Set(await Promise.all(w.links.map((l) => id(l.job))));
    for (const row of await repo.upstream(jobId, w.kind)) {
      if (keep.has(row.depends_on_job_id)) continue;
      await repo.remove(jobId, row.depends_on_job_id, w.kind);
      touched.add(jobId);
    }
  }
  const now = jm.clock.now();
  for (const w of plan.wanted) {
    const jobId = await id(w.job);
    for (const l of w.links) {
      const r = await repo.add(jobId, await id(l.job), w.kind, { window_seconds: l.window_seconds, on: l.on }, now);
      if (r.change !== 'unchanged') touched.add(jobId);
    }
  }
  // As the JobManager's own changes are: the CLI passes them on to the daemons' open dashboards.
  for (const jobId of touched) jm.emit('changed', { job: await jm.getJob(jobId), id: jobId, change: 'updated' });
}

/** Fields every export carries (when set), and the order they appear in. */
const CORE = [
  'description',
  'schedule',
  'timezone',
  'command',
  'shell',
  'script_path',
  'script_type',
  'working_dir',
  'run_as_user',
  'env',
  'category',
  'priority',
  'slot',
  'cpu_weight',
  'memory_weight',
  'timeout_seconds',
  'estimated_memory_mb',
  'tags',
  'alert_emails',
  'enabled',
];
const BOOLS = new Set<string>(BOOLEAN_COLUMNS);
const JSONS = new Set(['command', 'env', 'alert_emails', 'node_selector']);

/** A job as a definition `apply` accepts: the core fields plus every field a person set. */
export function jobToDefinition(job: Job): JobDefinition {
  const given = new Set(jobOverrides(job));
  const extra = [...given].filter((k) => k in JobFields && !CORE.includes(k));
  const out: Record<string, unknown> = { name: job.name };
  for (const k of [...CORE, ...extra.sort()]) {
    if (!(SETTABLE_FIELDS as string[]).includes(k)) continue;
    let v: unknown = k === 'tags' ? job.tags : (job as unknown as Record<string, unknown>)[k];
    if (BOOLS.has(k)) v = Boolean(v);
    else if (JSONS.has(k)) v = parseJson(v as string, null);
    // What a person set is exported even when empty or null: applying the export must keep it
    // set (apply resets a setting the file no longer gives).
    if (given.has(k) && v !== undefined && Value.Check(JobFields[k as JobFieldName], v)) {
      out[k] = v;
      continue;
    }
    if (v === null || v === undefined) continue;
    if (k === 'shell' && v === false) continue;
    if ((k === 'env' || k === 'node_selector') && Object.keys(v as object).length === 0) continue;
    if ((k === 'tags' || k === 'alert_emails') && (v as unknown[]).length === 0) continue;
    out[k] = v;
  }
  return out as JobDefinition;
}

/** Every job as a definition, with the links it has (`requires:`, `after:`) so that apply makes them again. */
export async function exportJobs(jm: JobManager): Promise<ExportedJob[]> {
  const { jobs } = await jm.listJobs({ sort: 'name' });
  const links = await currentLinks(jm);
  return jobs.map((job) => {
    const out: ExportedJob = jobToDefinition(job);
    const mine = links.filter((l) => l.job === job.name).sort((a, b) => a.other.localeCompare(b.other));
    const requires = mine.filter((l) => l.kind === 'requires').map((l) => (l.window_seconds ? { job: l.other, within: formatSeconds(l.window_seconds) } : l.other));
    const after = mine.filter((l) => l.kind === 'triggers').map((l) => (l.on === 'success' ? l.other : { job: l.other, on: l.on }));
    if (requires.length) out.requires = requires;
    if (after.length) out.after = after;
    return out;
  });
}

export function exportYaml(defs: ExportedJob[]): string {
  return `# smart-cron jobs: apply with \`smart-cron apply -f FILE\`\n${YAML.stringify({ jobs: defs }, { lineWidth: 0 })}`;
}
