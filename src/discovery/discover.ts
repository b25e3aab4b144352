/**
 * `smart-cron discover`: scan, analyse, and register every script found as a disabled job.
 * Re-running it refreshes descriptions and estimates but never what a person decided
 * (enabled, or any field they edited: JobManager keeps those), and a script that is gone
 * is marked missing, never deleted (its history stays).
 */
import { existsSync } from 'node:fs';
import type { JobDefinition } from '../jobs/definition.js';
import type { Job } from '../jobs/job.js';
import { jobOverrides, parseJson, scriptKey } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { analyzeFile, nameFromPath, type Analysis } from './analyze.js';
import type { HeadReader } from './detect.js';
import { compileGlob } from './glob.js';
import { previewChange, type Change } from './preview.js';
import { scheduleStillGuessed, standingReasons, warningsOf, type Info } from './reasons.js';
import { scan, type ScanProblem, type ScanProgress } from './scanner.js';

export interface DiscoverOptions {
  include?: string[];
  exclude?: string[];
  dryRun?: boolean;
  /** Register again the scripts a person removed (by default they are left out and listed). */
  includeRemoved?: boolean;
  /** Injected in tests to make a read fail. */
  readHead?: HeadReader;
  onProgress?: (p: ScanProgress & { phase: 'scan' | 'analyse'; scripts: number }) => void;
}

export interface DiscoverRow {
  name: string;
  change: Change | 'missing';
  changed: string[];
  script_path: string;
  script_type: string | null;
  schedule: string;
  schedule_guessed: boolean;
  /** Why: null for a field a person has set (the job keeps their value, shown here). */
  category: string;
  category_reason: string | null;
  priority: string;
  priority_reason: string | null;
  estimated_memory_mb: number;
  timeout_seconds: number;
  description: string | null;
  warnings: string[];
}

export interface DiscoverReport {
  roots: string[];
  dry_run: boolean;
  scanned: { dirs: number; files: number; scripts: number };
  counts: Record<DiscoverRow['change'], number>;
  jobs: DiscoverRow[];
  problems: ScanProblem[];
  skipped: Record<string, number>;
  /** Scripts found that a person removed as jobs before: left out (see includeRemoved). */
  removed: { script_path: string; job_name: string; removed_at: string }[];
}

export async function discover(jm: JobManager, dirs: string[], opts: DiscoverOptions = {}): Promise<DiscoverReport> {
  const include = (opts.include ?? []).map((g) => compileGlob(g, '--include'));
  const exclude = (opts.exclude ?? []).map((g) => compileGlob(g, '--exclude'));
  const scanned = scan(dirs, { include, exclude, onProgress: (p) => opts.onProgress?.({ ...p, phase: 'scan', scripts: 0 }) });
  const problems = [...scanned.problems];
  const analyses: Analysis[] = [];
  let n = 0;
  for (const f of scanned.files) {
    try {
      const a = analyzeFile(f, opts.readHead);
      if (a) analyses.push(a);
    } catch (e) {
      problems.push({ path: f.path, reason: readError(e) });
    }
    if (opts.onProgress && ++n % 2000 === 0) opts.onProgress({ phase: 'analyse', dirs: scanned.dirs, files: n, scripts: analyses.length });
  }

  const { jobs: all } = await jm.listJobs({ sort: 'id' });
  const byPath = new Map<string, Job>();
  const names = new Set<string>();
  for (const j of all) {
    names.add(j.name);
    if (j.script_path && !byPath.has(j.script_path)) byPath.set(j.script_path, j);
  }

  const dismissed = await jm.dismissed.all();
  let cluster: string[] | undefined;
  const removed: DiscoverReport['removed'] = [];
  const rows: DiscoverRow[] = [];
  const found = new Set<string>();
  for (const a of analyses) {
    found.add(a.file.path);
    const existing = byPath.get(a.file.path);
    const gone = existing ? undefined : dismissed.get(scriptKey(a.file.path));
    if (gone && !opts.includeRemoved) {
      removed.push({ script_path: a.file.path, job_name: gone.job_name, removed_at: gone.dismissed_at });
      continue;
    }
    const name = existing?.name ?? uniqueName(a.file.rel, names);
    names.add(name);
    const def = { name, ...a.fields } as JobDefinition;
    const info = a.info as unknown as Record<string, unknown>;
    if (def.slot && !jm.knowsSlot(def.slot) && !(cluster ??= await jm.clusterSlots()).includes(def.slot)) {
      // A typo in @slot would have every run skipped at admission: said, and the seed's rule picks.
      info.warnings = [...((info.warnings as string[] | undefined) ?? []), `@slot "${def.slot}" is not a slot of this node (expected one of: auto, ${jm.slotNames!.join(', ')}): slot auto is used`];
      def.slot = 'auto';
    }
    let change: Change;
    let changed: string[];
    if (existing && existing.source !== 'discovered') {
      // Registered by a person (jobs add --script, the API, jobs.yaml): theirs, as they set it.
      // Discovery neither takes it over nor adds a second job for the same script.
      change = 'unchanged';
      changed = [];
    } else if (existing) {
      ({ change, changed } = previewChange(existing, def));
      const infoChanged = JSON.stringify(info) !== existing.discovery_info;
      if (existing.missing) {
        change = 'updated';
        changed = [...changed, 'missing'];
      }
      if (!opts.dryRun && (change !== 'unchanged' || infoChanged)) {
        await jm.registerJob(def, { source: 'discovered', info });
      }
    } else {
      change = 'new';
      changed = [];
      if (!opts.dryRun) await jm.registerJob(def, { source: 'discovered', info });
    }
    // A person's own job (see above) is shown as it stands: every field theirs, no discovery reason.
    const theirs = existing && existing.source !== 'discovered' ? Object.keys(def) : [];
    rows.push(toRow(name, change, changed, def, info, existing ? { job: existing, overrides: [...jobOverrides(existing), ...theirs] } : undefined));
  }

  // A script discovered before that is no longer on disk, under these roots or any other (a
  // script moved or renamed leaves its old job behind, which would otherwise fail unflagged).
  for (const j of all) {
    if (j.source !== 'discovered' || !j.script_path || found.has(j.script_path)) continue;
    if (existsSync(j.script_path)) continue;
    if (!j.missing && !opts.dryRun) await jm.jobs.update(j.id, { missing: 1, updated_at: new Date(jm.clock.now()).toISOString() });
    const info = parseJson<Info>(j.discovery_info, {});
    const why = new Map(standingReasons(info, jobOverrides(j)));
    rows.push({
      name: j.name,
      change: 'missing',
      changed: j.missing ? [] : ['missing'],
      script_path: j.script_path,
      script_type: j.script_type,
      schedule: j.schedule,
      schedule_guessed: scheduleStillGuessed(info, jobOverrides(j)),
      category: j.category,
      category_reason: why.get('category') ?? null,
      priority: j.priority,
      priority_reason: why.get('priority') ?? null,
      estimated_memory_mb: j.estimated_memory_mb,
      timeout_seconds: j.timeout_seconds,
      description: j.description,
      warnings: [],
    });
  }
  rows.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const counts = { new: 0, updated: 0, unchanged: 0, missing: 0 };
  for (const r of rows) counts[r.change]++;
  return {
    roots: scanned.roots,
    dry_run: Boolean(opts.dryRun),
    scanned: { dirs: scanned.dirs, files: scanned.files.length, scripts: analyses.length },
    counts,
    jobs: rows,
    problems,
    skipped: scanned.skipped,
    removed,
  };
}

/** A name no other job has: the path without extension, else with it, else numbered. */
function uniqueName(rel: string, taken: Set<string>): string {
  const plain = nameFromPath(rel);
  if (!taken.has(plain)) return plain;
  const withExt = nameFromPath(rel, true);
  if (!taken.has(withExt)) return withExt;
  for (let i = 2; ; i++) if (!taken.has(`${plain}-${i}`)) return `${plain}-${i}`;
}

/** The row as the job will be: a field a person set keeps their value, and loses discovery's reason. */
function toRow(name: string, change: Change, changed: string[], def: JobDefinition, info: Info, existing?: { job: Job; overrides: string[] }): DiscoverRow {
  const overrides = existing?.overrides ?? [];
  const value = <K extends keyof JobDefinition & keyof Job>(k: K) => (overrides.includes(k) ? existing!.job[k] : def[k]);
  const why = new Map(standingReasons(info, overrides));
  return {
    name,
    change,
    changed,
    script_path: def.script_path!,
    script_type: (value('script_type') as string | null | undefined) ?? null,
    schedule: value('schedule') as string,
    schedule_guessed: scheduleStillGuessed(info, overrides),
    category: value('category') as string,
    category_reason: why.get('category') ?? null,
    priority: value('priority') as string,
    priority_reason: why.get('priority') ?? null,
    estimated_memory_mb: value('estimated_memory_mb') as number,
    timeout_seconds: value('timeout_seconds') as number,
    description: (value('description') as string | null | undefined) ?? null,
    warnings: warningsOf(info),
  };
}

function readError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EACCES' || err.code === 'EPERM') return `cannot read: permission denied (${err.code})`;
  return `cannot read: ${err.code ? `${err.code} ` : ''}${err.message}`;
}
