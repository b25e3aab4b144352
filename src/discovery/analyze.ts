/**
 * One file in, one job definition out: type, header metadata, schedule, category,
 * priority and cost, each with the reason it was chosen (kept in discovery_info).
 */
import type { JobPatch } from '../jobs/definition.js';
import type { Priority, ScriptType } from '../storage/schema.js';
import { RESERVED_JOB_NAMES } from '../shapes.js';
import { guessCategory, guessPriority, guessSchedule } from './classify.js';
import { detect, extensionOf, readHead, type HeadReader } from './detect.js';
import { estimateCost } from './estimate.js';
import { parseMetadata } from './metadata.js';
import { RUN_PARTS_DIRS, runPartsFolder } from './run-parts.js';
import type { FoundFile } from './scanner.js';

/** The schedule a script gets when nothing says when it should run; review shows it as guessed. */
export const DEFAULT_SCHEDULE = '@daily';

export interface Analysis {
  file: FoundFile;
  type: ScriptType;
  description: string | null;
  schedule: string;
  scheduleGuessed: boolean;
  category: string;
  priority: Priority;
  /** The definition without a name (the name depends on the registry). */
  fields: JobPatch & { schedule: string };
  info: DiscoveryInfo;
}

export interface DiscoveryInfo {
  root: string;
  relative_path: string;
  size_bytes: number;
  type_reason: string;
  interpreter?: string;
  schedule_source: string;
  schedule_guessed: boolean;
  category_reason: string;
  priority_reason: string;
  estimate_reason: string;
  annotations: string[];
  warnings?: string[];
}

/** null when the file is not a script; throws when it cannot be read. */
export function analyzeFile(file: FoundFile, read: HeadReader = readHead): Analysis | null {
  const d = detect(file.path, read);
  if (!d.script) return null;
  const text = d.head.head.toString('utf8');
  const meta = parseMetadata(text, d.detection.type);
  const a = meta.annotations;
  const slash = file.rel.lastIndexOf('/');
  const folders = slash < 0 ? '' : file.rel.slice(0, slash);
  const base = file.rel.slice(slash + 1);
  const stem = extensionOf(base) ? base.slice(0, base.lastIndexOf('.')) : base;

  const texts = { name: stem, description: meta.description, folders };
  let schedule: string;
  let scheduleSource: string;
  // run-parts runs the folder's own executables (the scanner skips names it would not run);
  // the real path, so a scan of /etc/cron.daily itself counts too.
  const runParts = d.head.mode & 0o111 ? runPartsFolder(file.path) : null;
  const inWords = !a.schedule && !meta.commentSchedule && !runParts ? guessSchedule({ ...texts, scheduleWords: meta.scheduleWords }) : null;
  if (a.schedule) [schedule, scheduleSource] = [a.schedule, 'annotation'];
  else if (meta.commentSchedule) [schedule, scheduleSource] = [meta.commentSchedule.expression, `comment "${meta.commentSchedule.line}"`];
  else if (runParts) [schedule, scheduleSource] = [RUN_PARTS_DIRS[runParts]!, `folder ${runParts}`];
  else if (inWords) [schedule, scheduleSource] = [inWords.value, `guessed from ${inWords.reason}`];
  else [schedule, scheduleSource] = [DEFAULT_SCHEDULE, `default ${DEFAULT_SCHEDULE}: nothing in the script says when it runs`];
  const scheduleGuessed = !a.schedule && !meta.commentSchedule && !runParts;

  const category = guessCategory(texts, a.category);
  const priority = guessPriority(texts, category.value, a.priority);
  const est = estimateCost({ category: category.value, type: d.detection.type, sizeBytes: d.head.size, texts: [stem, meta.description] });

  const fields: JobPatch & { schedule: string } = {
    schedule,
    script_path: file.path,
    script_type: d.detection.type,
    description: meta.description,
    category: category.value,
    priority: priority.value,
    timeout_seconds: a.timeout_seconds ?? est.timeout_seconds,
    estimated_memory_mb: a.estimated_memory_mb ?? est.estimated_memory_mb,
    cpu_weight: est.cpu_weight,
    memory_weight: a.estimated_memory_mb !== undefined ? Math.round(Math.min(Math.max(a.estimated_memory_mb / 512, 0.1), 8) * 10) / 10 : est.memory_weight,
  };
  if (a.timezone) fields.timezone = a.timezone;
  if (a.slot) fields.slot = a.slot;
  if (a.tags) fields.tags = a.tags;

  const annotated = Object.keys(a).filter((k) => k !== 'description' || a.description);
  const info: DiscoveryInfo = {
    root: file.root,
    relative_path: file.rel,
    size_bytes: d.head.size,
    type_reason: d.detection.reason,
    ...(d.detection.interpreter ? { interpreter: d.detection.interpreter } : {}),
    schedule_source: scheduleSource,
    schedule_guessed: scheduleGuessed,
    category_reason: category.reason,
    priority_reason: priority.reason,
    estimate_reason:
      a.timeout_seconds !== undefined || a.estimated_memory_mb !== undefined
        ? `${a.timeout_seconds !== undefined ? 'timeout' : ''}${a.timeout_seconds !== undefined && a.estimated_memory_mb !== undefined ? ' and ' : ''}${a.estimated_memory_mb !== undefined ? 'memory' : ''} from annotations; else ${est.reason}`
        : est.reason,
    annotations: annotated,
    ...(meta.warnings.length ? { warnings: meta.warnings } : {}),
  };
  return {
    file,
    type: d.detection.type,
    description: meta.description,
    schedule,
    scheduleGuessed,
    category: category.value,
    priority: priority.value,
    fields,
    info,
  };
}

/** A job name from the path under the root: "queue/bin/process_queue.php" -> "queue/bin/process_queue". */
export function nameFromPath(rel: string, keepExtension = false): string {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  const ext = extensionOf(base);
  const stem = !keepExtension && ext ? rel.slice(0, rel.length - ext.length - 1) : rel;
  const clean = stem.replace(/[^A-Za-z0-9._:@/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 200);
  // A job name is never a number alone (it would read as a job id): `cron/15` becomes `script-15`.
  // Nor a name an API route takes: `list.sh` becomes `script-list`.
  return /^\d*$/.test(clean) || (RESERVED_JOB_NAMES as readonly string[]).includes(clean) ? `script${clean ? `-${clean}` : ''}` : clean;
}
