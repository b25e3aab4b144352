/**
 * What a script says about itself in its header: PHP docblocks, `#` and `//` comments,
 * `/* *\/` blocks and Python docstrings. Gives a description (the first sentence), the
 * `@annotations`, and a cron expression written in prose ("Run every 5 minutes: *\/5 * * * *").
 * A bad annotation value is a warning, never fatal: discovery must not stop on one odd file.
 */
import { PRIORITIES } from '../jobs/definition.js';
import { parseSchedule, validateTimezone } from '../schedule/cron.js';
import type { Priority, ScriptType } from '../storage/schema.js';
import { stripControl } from './control-chars.js';

export interface Annotations {
  schedule?: string;
  timeout_seconds?: number;
  estimated_memory_mb?: number;
  priority?: Priority;
  category?: string;
  slot?: string;
  tags?: string[];
  timezone?: string;
  description?: string;
}

export interface Metadata {
  description: string | null;
  annotations: Annotations;
  /** A cron expression found in the comment text (not an annotation), and the line it was on. */
  commentSchedule?: { expression: string; line: string };
  /** What a "Schedule:" comment says in words when it is no cron expression ("every night"). */
  scheduleWords?: string;
  warnings: string[];
}

const MAX_HEADER_LINES = 300;
const ANNOTATION_ALIASES: Record<string, keyof Annotations> = {
  cron: 'schedule',
  schedule: 'schedule',
  crontab: 'schedule',
  timeout: 'timeout_seconds',
  memory: 'estimated_memory_mb',
  mem: 'estimated_memory_mb',
  priority: 'priority',
  category: 'category',
  slot: 'slot',
  tag: 'tags',
  tags: 'tags',
  timezone: 'timezone',
  tz: 'timezone',
  description: 'description',
  desc: 'description',
};
const MACROS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly', 'annually', 'midnight', 'reboot'];

/** Lines code may start with before the header comment, skipped while looking for it. */
const PREAMBLE = [
  /^<\?php\b/i,
  /^declare\s*\(.*\)\s*;?$/,
  /^namespace\s+[\w\\]+\s*;$/,
  /^(use|require|require_once|include|include_once)\b.*;$/,
  /^['"]use strict['"];?$/,
  /^(import|from)\s+\S.*$/,
  /^(const|let|var)\s+\w+\s*=\s*require\(.*$/,
  /^set\s+-[euxo]/,
];

/**
 * The comment text at the top of a file: markers and control characters stripped, '' between
 * paragraphs. A cron step in a /* block ("@cron *\/5 * * * *") ends the comment where the
 * language would; the block is read on as the author meant it, and the line goes to `stepEnds`.
 */
export function headerLines(text: string, stepEnds: string[] = []): string[] {
  // An editor's UTF-8 byte order mark would hide the shebang and the first comment.
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/, MAX_HEADER_LINES).map(stripControl);
  const out: string[] = [];
  let i = lines[0]?.startsWith('#!') ? 1 : 0;
  let block: null | { end: string; star: boolean } = null;
  for (; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (block) {
      let at = line.indexOf(block.end);
      let stepped = false;
      while (block.star && at >= 0 && /^\d/.test(line.slice(at + 2))) {
        stepped = true;
        at = line.indexOf(block.end, at + 2);
      }
      const part = at >= 0 ? line.slice(0, at) : line;
      const clean = block.star ? part.replace(/^\*+\s?/, '').trim() : part.trim();
      out.push(clean);
      if (stepped) stepEnds.push(clean);
      if (at >= 0) {
        block = null;
        out.push('');
      }
      continue;
    }
    if (/^<\?php\b/i.test(line)) line = line.replace(/^<\?php\b\s*/i, '');
    if (line === '') {
      out.push('');
      continue;
    }
    if (/^#\s*-\*-.*-\*-\s*$/.test(line) || /^#\s*vim?:/.test(line)) continue;
    const lineComment = /^(#|\/\/)(.*)$/.exec(line);
    if (lineComment && !line.startsWith('#!')) {
      out.push(lineComment[2]!.replace(/^[#/]*\s?/, '').trim());
      continue;
    }
    const blockStart = /^\/\*+!?(.*)$/.exec(line);
    if (blockStart) {
      block = { end: '*/', star: true };
      i--;
      lines[i + 1] = blockStart[1]!;
      continue;
    }
    const doc = /^[rRuU]?("""|''')(.*)$/.exec(line);
    if (doc) {
      block = { end: doc[1]!, star: false };
      i--;
      lines[i + 1] = doc[2]!;
      continue;
    }
    if (PREAMBLE.some((re) => re.test(line))) continue;
    break;
  }
  return out;
}

// One cron field: *, n, n-m, names, with an optional step, comma lists.
const F = String.raw`(?:\*|\d{1,2}(?:-\d{1,2})?|[A-Za-z]{3}(?:-[A-Za-z]{3})?)(?:\/\d{1,2})?`;
const FIELD = `${F}(?:,${F})*`;
// Five fields and the word after them: a sixth field makes it the seconds-first form (as @cron takes it).
const CRON_IN_TEXT = new RegExp(String.raw`(?<!\S)(${FIELD}(?:[ \t]+${FIELD}){4})(?!\S)(?:[ \t]+(\S+))?`, 'g');
const NAME_FIELD = new RegExp(String.raw`^${FIELD}$`);
const MACRO_IN_TEXT = new RegExp(String.raw`(?<!\S)@(${MACROS.join('|')})(?![\w-])`, 'i');

/**
 * parseSchedule, remembered: it builds Intl and croner objects (about a millisecond), and a
 * tree of thousands of scripts repeats the same few expressions.
 */
const scheduleCache = new Map<string, string | Error>();
function checkSchedule(expr: string, timezone: string | undefined): string {
  const key = `${timezone ?? ''}\0${expr}`;
  let r = scheduleCache.get(key);
  if (r === undefined) {
    try {
      r = parseSchedule(expr, timezone).expression;
    } catch (e) {
      r = e as Error;
    }
    if (scheduleCache.size > 5000) scheduleCache.clear();
    scheduleCache.set(key, r);
  }
  if (r instanceof Error) throw r;
  return r;
}

/** A cron expression in prose, e.g. "Run every 5 minutes: *\/5 * * * *". At least one "*" is required, so "version 1 2 3 4 5" is not one. */
export function cronInText(line: string, timezone?: string): string | null {
  for (const m of line.matchAll(CRON_IN_TEXT)) {
    const five = m[1]!.replace(/\s+/g, ' ');
    const next = m[2];
    // "0 0 */6 * * *" is six fields, never "0 0 */6 * *" and a star; a word after five fields
    // ("15 3 * * * www-data /x") may be a day name ("… * * * sun") or the command.
    const candidates = next === undefined ? [five] : /^[\d*][\d*,/-]*$/.test(next) ? [`${five} ${next}`] : NAME_FIELD.test(next) ? [`${five} ${next}`, five] : [five];
    for (const expr of candidates) {
      if (!expr.includes('*')) continue;
      try {
        return checkSchedule(expr, timezone);
      } catch {
        // prose that happens to look like fields
      }
    }
  }
  const macro = MACRO_IN_TEXT.exec(line);
  return macro ? `@${macro[1]!.toLowerCase()}` : null;
}

const BOILERPLATE = /^(copyright|\(c\)|©|license|licensed|spdx-|author|usage\b|@)/i;

export function parseMetadata(text: string, type?: ScriptType): Metadata {
  const stepEnds: string[] = [];
  const lines = headerLines(text, stepEnds);
  const warnings = stepEnds.map((line) => stepEndWarning(line, type));
  const raw: Partial<Record<keyof Annotations, string>> = {};
  const tags: string[] = [];
  const prose: string[] = [];
  for (const line of lines) {
    const a = /^@([A-Za-z][\w-]*)\b[:=]?\s*(.*)$/.exec(line);
    if (a) {
      const key = a[1]!.toLowerCase();
      const value = a[2]!.trim();
      if (MACROS.includes(key)) raw.schedule ??= `@${key}`;
      const field = ANNOTATION_ALIASES[key];
      if (field === 'tags') tags.push(...value.split(/[\s,]+/).filter(Boolean));
      else if (field && !(field in raw)) raw[field] = value;
      prose.push('');
      continue;
    }
    prose.push(line);
  }
  const annotations = validateAnnotations(raw, tags, warnings);
  let commentSchedule: Metadata['commentSchedule'];
  let scheduleWords: string | undefined;
  const scheduleLines = new Set<string>();
  for (const line of prose) {
    if (!line) continue;
    const expr = cronInText(line, annotations.timezone);
    if (!expr) {
      // "# Schedule: 61 * * * *": meant as one, and wrong; say so rather than guess in silence.
      // "# Schedule: every night" is words, for the guess (analyze.ts) to read.
      const labelled = SCHEDULE_LABEL.exec(line)?.[1];
      if (labelled) {
        scheduleLines.add(line);
        if (/^[\d*@]/.test(labelled)) warnings.push(`comment "${line}": ${scheduleProblem(labelled, annotations.timezone)}; ignored`);
        else scheduleWords ??= labelled;
      }
      continue;
    }
    scheduleLines.add(line);
    commentSchedule ??= { expression: expr, line };
  }
  const rest = prose.filter((l) => !scheduleLines.has(l));
  const labelledDescription = rest.map((l) => DESCRIPTION_LABEL.exec(l)?.[1]).find((d) => d !== undefined);
  const description = annotations.description ?? (labelledDescription !== undefined ? firstSentence([labelledDescription]) : firstSentence(rest));
  return { description, annotations, commentSchedule, ...(scheduleWords !== undefined ? { scheduleWords } : {}), warnings };
}

/** A comment line that says it is a schedule ("Schedule: …", "cron = …"). */
const SCHEDULE_LABEL = /^(?:cron|crontab|schedule)\s*[:=]\s*(\S.*)$/i;
/** A comment line that says it is the description (as LSB init headers do: "Description: …"). */
const DESCRIPTION_LABEL = /^(?:description|desc|purpose|summary)\s*:\s*(\S.*)$/i;

const STEP_RANGES5 = ['0-59', '0-23', '1-31', '1-12', '0-6'];
const COMMENT_OF: Partial<Record<ScriptType, [string, string]>> = { php: ['PHP', '#'], node: ['JavaScript', '//'] };

/**
 * "@cron *\/5 * * * *" in a /** block: PHP (or JS) ends the comment at that `*\/`, so the script
 * does not even parse. Say so, and how to write the step so it does ("0-59/5").
 */
function stepEndWarning(line: string, type: ScriptType | undefined): string {
  const words = line.split(/\s+/);
  const at = words.findIndex((w) => w.includes('*/'));
  let start = at;
  while (start > 0 && NAME_FIELD.test(words[start - 1]!)) start--;
  let end = at;
  while (end + 1 < words.length && NAME_FIELD.test(words[end + 1]!)) end++;
  const ranges = end - start + 1 >= 6 ? ['0-59', ...STEP_RANGES5] : STEP_RANGES5;
  const step = /\*\/(\d+)/.exec(words[at] ?? '')?.[1] ?? '5';
  const [language, lineComment] = COMMENT_OF[type ?? 'executable'] ?? ['/*', null];
  return `\`*/\` in "${line}" ends the ${language} comment: write the step as ${ranges[at - start] ?? '0-59'}/${step}${lineComment ? `, or use a ${lineComment} comment` : ''}`;
}

/** Why the text after a schedule label is not a schedule (its first word when a macro, else up to six fields). */
function scheduleProblem(text: string, timezone: string | undefined): string {
  const words = text.trim().split(/\s+/);
  const expr = words[0]!.startsWith('@') ? words[0]! : words.slice(0, words.length >= 6 && /^[\d*]/.test(words[5]!) ? 6 : 5).join(' ');
  try {
    checkSchedule(expr, timezone);
    return `"${expr}" is a schedule, but not alone on its line`;
  } catch (e) {
    return (e as Error).message.replace(/^schedule: /, '');
  }
}

/** The first sentence of the first paragraph that is not a licence or usage note. */
export function firstSentence(lines: string[]): string | null {
  const paragraphs: string[][] = [[]];
  for (const l of lines) {
    if (!l || /^[-=*#_~]{3,}$/.test(l)) {
      if (paragraphs[paragraphs.length - 1]!.length) paragraphs.push([]);
    } else paragraphs[paragraphs.length - 1]!.push(l);
  }
  for (const p of paragraphs) {
    if (!p.length || BOILERPLATE.test(p[0]!)) continue;
    const text = p.join(' ').replace(/\s+/g, ' ').trim();
    const m = /^(.+?[.!?])(?=\s|$)/.exec(text);
    const sentence = (m ? m[1]! : text).trim();
    if (sentence) return sentence.length > 300 ? `${sentence.slice(0, 297)}...` : sentence;
  }
  return null;
}

function validateAnnotations(raw: Partial<Record<keyof Annotations, string>>, tags: string[], warnings: string[]): Annotations {
  const out: Annotations = {};
  const warn = (name: string, value: string, expected: string) => warnings.push(`@${name} "${value}": expected ${expected}; ignored`);
  if (raw.timezone !== undefined) {
    try {
      out.timezone = validateTimezone(raw.timezone);
    } catch {
      warn('timezone', raw.timezone, 'an IANA timezone such as Europe/Berlin');
    }
  }
  if (raw.schedule !== undefined) {
    try {
      out.schedule = checkSchedule(raw.schedule, out.timezone);
    } catch (e) {
      warnings.push(`@cron "${raw.schedule}": ${(e as Error).message.replace(/^schedule: /, '')}; ignored`);
    }
  }
  if (raw.timeout_seconds !== undefined) {
    const s = parseDuration(raw.timeout_seconds);
    if (s === null) warn('timeout', raw.timeout_seconds, 'seconds or a duration such as 90s, 5m, 2h');
    else out.timeout_seconds = s;
  }
  if (raw.estimated_memory_mb !== undefined) {
    const mb = parseMemory(raw.estimated_memory_mb);
    if (mb === null) warn('memory', raw.estimated_memory_mb, 'megabytes or a size such as 512M, 2G');
    else out.estimated_memory_mb = mb;
  }
  if (raw.priority !== undefined) {
    const p = raw.priority.toLowerCase();
    if ((PRIORITIES as readonly string[]).includes(p)) out.priority = p as Priority;
    else warn('priority', raw.priority, PRIORITIES.join(', '));
  }
  if (raw.category !== undefined) {
    const c = raw.category.toLowerCase();
    if (/^[a-z][a-z0-9_/-]{0,39}$/.test(c)) out.category = c;
    else warn('category', raw.category, 'a lower-case word such as backup');
  }
  if (raw.slot !== undefined) {
    if (/^[a-z][a-z0-9_-]{0,31}$/.test(raw.slot)) out.slot = raw.slot;
    else warn('slot', raw.slot, 'auto, default, heavy, light or a custom slot name');
  }
  const goodTags = tags.filter((t) => /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/.test(t));
  for (const t of tags) if (!goodTags.includes(t)) warn('tag', t, 'letters, digits and ._:/-');
  if (goodTags.length) out.tags = [...new Set(goodTags)];
  if (raw.description) out.description = raw.description;
  return out;
}

export function parseDuration(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)?$/i.exec(v.trim());
  if (!m) return null;
  const unit = (m[2] ?? 's').toLowerCase()[0]!;
  const s = Math.round(Number(m[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1));
  return s >= 1 && s <= 7 * 86400 ? s : null;
}

export function parseMemory(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(v.trim());
  if (!m) return null;
  const unit = (m[2] ?? 'm').toLowerCase()[0]!;
  const mb = Number(m[1]) * (unit === 'g' ? 1024 : unit === 'k' ? 1 / 1024 : 1);
  return mb > 0 ? Math.round(mb * 100) / 100 : null;
}
