/**
 * Category and priority from keywords in a script's name, its description and its folders.
 * The rules are a table so a reviewer can read them; every guess carries the keyword and
 * where it was found, so `smart-cron review` can say why.
 *
 * Where a keyword counts most: the file name (3), the description (2), the folders (1).
 * The highest total wins; a tie goes to the earlier rule in the table.
 */
import type { Priority } from '../storage/schema.js';

export const CATEGORIES = [
  'backup',
  'reporting',
  'sync',
  'import_export',
  'cleanup',
  'maintenance',
  'notification',
  'monitoring',
  'business',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * Keywords match a whole word, or the start of a word when the keyword has 4+ letters
 * ("backups", "reporting"); a trailing "$" asks for the whole word only ("temp$" is not "template").
 */
export const CATEGORY_RULES: [Category, string[]][] = [
  ['backup', ['backup', 'dump', 'mysqldump', 'pg_dump', 'snapshot', 'restic', 'borg', 'rsnapshot']],
  ['import_export', ['import', 'export', 'ingest', 'etl', 'feed$', 'csv', 'upload', 'download', 'extract']],
  ['reporting', ['report', 'stats', 'statistic', 'analytics', 'summary', 'digest', 'aggregate', 'rollup', 'kpi', 'sa1', 'sa2', 'sysstat']],
  ['sync', ['sync', 'rsync', 'mirror', 'replicate', 'replication', 'fetch', 'pull$']],
  ['cleanup', ['cleanup', 'clean', 'purge', 'prune', 'expire', 'garbage', 'gc', 'tmp', 'temp$', 'rotate', 'delete', 'remove', 'sessionclean']],
  ['maintenance', ['maintenance', 'maintain', 'vacuum', 'optimize', 'optimise', 'reindex', 'rebuild', 'scrub', 'fsck', 'e2scrub', 'logrotate', 'migrate', 'warm', 'anacron', 'update', 'renew', 'certbot', 'run-parts']],
  ['notification', ['notify', 'notification', 'email', 'mail', 'mailer', 'newsletter', 'remind', 'reminder', 'sms', 'push$', 'send']],
  ['monitoring', ['monitor', 'health', 'healthcheck', 'heartbeat', 'ping', 'watchdog', 'probe', 'uptime', 'check$', 'checks$', 'alive', 'nagios']],
  ['business', ['queue', 'worker', 'order', 'invoice', 'billing', 'payment', 'subscription', 'checkout', 'cart', 'shipment', 'payout', 'charge']],
];

/** A category's priority when no keyword says otherwise. */
export const CATEGORY_PRIORITY: Record<Category, Priority> = {
  backup: 'high',
  monitoring: 'high',
  business: 'medium',
  sync: 'medium',
  import_export: 'medium',
  notification: 'medium',
  maintenance: 'low',
  reporting: 'low',
  cleanup: 'low',
  other: 'medium',
};

/** Keywords that set the priority whatever the category (money, security, words that say so). */
export const PRIORITY_RULES: [Priority, string[]][] = [
  ['critical', ['critical', 'payment', 'billing', 'payout', 'charge', 'security', 'certificate', 'cert', 'ssl', 'tls']],
  ['high', ['urgent', 'important', 'alert', 'failover', 'invoice', 'order']],
  ['low', ['optional', 'nice-to-have', 'debug', 'test$', 'demo', 'example', 'sample']],
];

export interface Texts {
  /** The file or job name without extension, e.g. "process_queue". */
  name: string;
  description?: string | null;
  /** Folders above the file, relative to the root, e.g. "queue/bin". */
  folders?: string;
}

export interface Guess<T> {
  value: T;
  /** e.g. 'keyword "queue" in name', 'default for category backup'. */
  reason: string;
}

const WHERE: [keyof Texts, number, string][] = [
  ['name', 3, 'name'],
  ['description', 2, 'description'],
  ['folders', 1, 'path'],
];

/** Words of a text: split on anything not a letter or digit, and at camelCase humps. */
export function words(text: string | null | undefined): string[] {
  if (!text) return [];
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

interface Keyword {
  label: string;
  word: string;
  exact: boolean;
  phrase: boolean;
}
const compiled = new Map<string, Keyword>();
function keyword(k: string): Keyword {
  let c = compiled.get(k);
  if (!c) {
    const exact = k.endsWith('$');
    const word = k.replace(/\$$/, '').replace(/[^a-z0-9]+/g, ' ').trim();
    c = { label: k.replace(/\$$/, ''), word, exact: exact || word.length < 4, phrase: word.includes(' ') };
    compiled.set(k, c);
  }
  return c;
}

function hits(k: Keyword, ws: string[], joined: string): boolean {
  if (k.phrase) return joined.includes(` ${k.word} `);
  for (const w of ws) if (w === k.word || (!k.exact && w.startsWith(k.word))) return true;
  return false;
}

/** The best rule for these texts, and where its first keyword was found. */
function bestRule<T>(rules: [T, string[]][], t: Texts): { value: T; keyword: string; where: string } | null {
  const wordsBy = WHERE.map(([k, weight, label]) => {
    const ws = words(t[k]);
    return { ws, joined: ` ${ws.join(' ')} `, weight, label };
  });
  let best: { value: T; keyword: string; where: string; score: number } | null = null;
  for (const [value, keywords] of rules) {
    let score = 0;
    let first: { keyword: string; where: string; weight: number } | null = null;
    for (const w of wordsBy) {
      if (w.ws.length === 0) continue;
      for (const kw of keywords) {
        const k = keyword(kw);
        if (!hits(k, w.ws, w.joined)) continue;
        score += w.weight;
        if (!first || w.weight > first.weight) first = { keyword: k.label, where: w.label, weight: w.weight };
        break;
      }
    }
    if (first && (!best || score > best.score)) best = { value, keyword: first.keyword, where: first.where, score };
  }
  return best && { value: best.value, keyword: best.keyword, where: best.where };
}

export function guessCategory(t: Texts, annotated?: string): Guess<string> {
  if (annotated) return { value: annotated, reason: 'annotation @category' };
  const r = bestRule(CATEGORY_RULES, t);
  return r ? { value: r.value, reason: `keyword "${r.keyword}" in ${r.where}` } : { value: 'other', reason: 'no category keyword found' };
}

export function guessPriority(t: Texts, category: string, annotated?: Priority): Guess<Priority> {
  if (annotated) return { value: annotated, reason: 'annotation @priority' };
  const r = bestRule(PRIORITY_RULES, t);
  if (r) return { value: r.value, reason: `keyword "${r.keyword}" in ${r.where}` };
  const def = CATEGORY_PRIORITY[category as Category] ?? 'medium';
  return { value: def, reason: `default for category ${category}` };
}

/**
 * How often a script runs, from words: what a person wrote ("every 5 minutes", "nightly") in
 * a "Schedule:" comment, the description, the name or the folders, in that order. Only for a
 * script whose header has no schedule; the result is still a guess for review to show.
 * Each rule: a pattern over lower-case text (words split by anything but letters and digits)
 * and the schedule it means.
 */
export const FREQUENCY_RULES: [RegExp, (m: RegExpExecArray) => string | null][] = [
  [/(?<![a-z0-9])every (\d{1,2}) ?(?:minutes?|mins?)(?![a-z0-9])/, (m) => step(Number(m[1]), 59, (n) => (n === 1 ? '* * * * *' : `*/${n} * * * *`))],
  [/(?<![a-z0-9])every (\d{1,2}) ?(?:hours?|hrs?)(?![a-z0-9])/, (m) => step(Number(m[1]), 23, (n) => (n === 1 ? '@hourly' : `0 */${n} * * *`))],
  [/(?<![a-z0-9])every minute(?![a-z0-9])/, () => '* * * * *'],
  [/(?<![a-z0-9])(?:hourly|every hour)(?![a-z0-9])/, () => '@hourly'],
  [/(?<![a-z0-9])(?:daily|nightly|every (?:day|night)|once a day)(?![a-z0-9])/, () => '@daily'],
  [/(?<![a-z0-9])(?:weekly|every week)(?![a-z0-9])/, () => '@weekly'],
  [/(?<![a-z0-9])(?:monthly|every month)(?![a-z0-9])/, () => '@monthly'],
  [/(?<![a-z0-9])(?:yearly|annually|every year)(?![a-z0-9])/, () => '@yearly'],
];

function step(n: number, max: number, make: (n: number) => string): string | null {
  return n >= 1 && n <= max ? make(n) : null;
}

export function guessSchedule(t: Texts & { scheduleWords?: string }): Guess<string> | null {
  const places: [string, string | null | undefined][] = [
    ['the schedule comment', t.scheduleWords],
    ['description', t.description],
    ['name', t.name],
    ['folders', t.folders],
  ];
  for (const [where, text] of places) {
    if (!text) continue;
    const words = text.toLowerCase().replace(/[^a-z0-9]+/g, ' ');
    for (const [re, make] of FREQUENCY_RULES) {
      const m = re.exec(words);
      const value = m && make(m);
      if (value) return { value, reason: `"${m[0]}" in ${where}` };
    }
  }
  return null;
}
