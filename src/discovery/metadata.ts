/**
 * What a script says about itself in its header: PHP docblocks, `#` and `//` comments,
 * `/* *\/` blocks and Python docstrings. Gives a description (the first sentence), the
 * `@annotations`, and a cron expression written in prose ("Run every 5 minutes: *\/5 * * * *").
 * A bad annotation value is a warning, never fatal: discovery must not stop on one odd file.
 */
import { PRIORITIES } from '../jobs/definition.js';
import { parseSchedule, validateTimezone } from '../schedule/cron.js';
import type { Priority } from '../storage/schema.js';

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

/** The comment text at the top of a file: markers stripped, '' between paragraphs. */
export function headerLines(text: string): string[] {
  const lines = text.split(/\r?\n/, MAX_HEADER_LINES);
  const out: string[] = [];
  let i = lines[0]?.startsWith('#!') ? 1 : 0;
  let block: null | { end: string; star: boolean } = null;
  for (; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (block) {
      const at = line.indexOf(block.end);
      const part = at >= 0 ? line.slice(0, at) : line;
      out.push(block.star ? part.replace(/^\*+\s?/, '').trim() : part.trim());
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
const CRON_IN_TEXT = new RegExp(String.raw`(?<!\S)(${FIELD}(?:[ \t]+${FIELD}){4})(?!\S)`, 'g');
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
    const expr = m[1]!.replace(/\s+/g, ' ');
    if (!expr.includes('*')) continue;
    try {
      return checkSchedule(expr, timezone);
    } catch {
      // prose that happens to look like fields
    }
  }
  const macro = MACRO_IN_TEXT.exec(line);
  return macro ? `@${macro[1]!.toLowerCase()}` : null;
}

const BOILERPLATE = /^(copyright|\(c\)|©|license|licensed|spdx-|author|usage\b|@)/i;

export function parseMetadata(text: string): Metadata {
  const lines = headerLines(text);
  const warnings: string[] = [];
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
