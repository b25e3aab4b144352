/**
 * Jobs as code: `apply -f jobs.yaml` and `export`. A file is a list of job definitions, or a
 * mapping with `jobs:` (a list, or a mapping of name -> definition). Apply checks every job
 * before it writes any, names the job, the field and the file's line in each error, and
 * registers as a person would (source 'file', the fields become user overrides). A setting a
 * person gave earlier (an override: an earlier apply, `jobs add/set`, the API) that the file no
 * longer gives goes back to its default and stops being an override, so the job matches the
 * file; what discovery or a crontab import found is theirs and stays (a rescan would bring it back).
 */
import Value from 'typebox/value';
import YAML, { LineCounter, isMap, isSeq, type Document, type Node } from 'yaml';
import { ValidationError } from '../errors.js';
import { JobFields, SETTABLE_FIELDS, validateJobDefinition, type JobDefinition, type JobFieldName } from '../jobs/definition.js';
import { BOOLEAN_COLUMNS, jobOverrides, parseJson, type Job } from '../jobs/job.js';
import { JOB_DEFAULTS } from '../jobs/settings.js';
import type { JobManager } from '../jobs/manager.js';
import { parseSchedule } from '../schedule/cron.js';
import { previewChange } from './preview.js';

export interface FileJob {
  def: JobDefinition;
  line: number;
}

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
      return lc.linePos((pairKey ?? n)?.range?.[0] ?? item.node?.range?.[0] ?? 0).line;
    };
    try {
      if (item.name !== undefined && raw && typeof raw === 'object' && 'name' in raw && raw.name !== item.name) {
        // Which one would the user mean? Refuse rather than guess (the key used to lose silently).
        throw new ValidationError(`${label}: name ${JSON.stringify(raw.name)} differs from its key "${item.name}" (under a mapping of jobs the key is the name: drop "name:" or make them equal)`, 'name');
      }
      if (value && typeof value === 'object' && !Array.isArray(value) && !('name' in value)) {
        throw new ValidationError(`${label}: missing "name" (expected a unique job name)`, undefined);
      }
      const def = validateJobDefinition(value, label);
      if (!def.command && !def.script_path) throw new ValidationError(`${label}: nothing to run (expected command or script_path)`, 'command');
      parseSchedule(def.schedule, def.timezone ?? undefined);
      const dup = seen.get(def.name);
      if (dup !== undefined) throw new ValidationError(`${label}: defined twice (first at line ${dup})`, 'name');
      seen.set(def.name, line);
      out.push({ def, line });
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
      jm.checkSlot(def.slot, `line ${line}: job "${def.name}"`);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      bad.push(e.message);
    }
  }
  if (bad.length) throw new ValidationError(bad.length === 1 ? bad[0]! : `${bad.join('\n')}\n${bad.length} problems: nothing applied`, 'slot');
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

export async function exportJobs(jm: JobManager): Promise<JobDefinition[]> {
  const { jobs } = await jm.listJobs({ sort: 'name' });
  return jobs.map(jobToDefinition);
}

export function exportYaml(defs: JobDefinition[]): string {
  return `# smart-cron jobs: apply with \`smart-cron apply -f FILE\`\n${YAML.stringify({ jobs: defs }, { lineWidth: 0 })}`;
}
