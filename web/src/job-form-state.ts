/**
 * The job form's state, validation and request bodies, kept free of Preact so the tests can
 * run them under Node (test/web/job-form.test.ts). On edit only the changed fields are sent:
 * every field a person sets is remembered as theirs, and re-discovery must keep updating the rest.
 *
 * Imports carry `.js` so the server's type-check (NodeNext) can follow them from the tests.
 */
// The CLI's own splitting: the same argv as `--command`.
import { splitWords } from './words.js';
import { SETTING_DEFAULTS } from '../../src/jobs/settings.js';
import { EMAIL_PATTERN, ENV_NAME as ENV_NAME_WORDS, ENV_NAME_PATTERN, NODE_LABEL_PATTERN, USER_NAME_PATTERN } from '../../src/shapes.js';
import { commandLine } from './format.js';
import type { Job } from './types.js';

export type Kind = 'command' | 'shell' | 'script';
/** What happens when a tick comes while the last run still goes, and after downtime (the registry's values, in words). */
export const OVERLAP: [string, string][] = [
  ['forbid', 'skip the new tick (forbid)'],
  ['queue', 'run it after the one going (queue)'],
  ['allow', 'run both at once (allow)'],
  ['replace', 'stop the one going, start anew (replace)'],
];
export const MISFIRE: [string, string][] = [
  ['skip', 'skip the missed ticks (skip)'],
  ['run_once', 'run once for them all (run once)'],
  ['run_all', 'run each missed tick (run all)'],
];
/** When a job it requires has not succeeded (jobs/definition.ts requires_mode). */
export const REQUIRES_MODE: [string, string][] = [
  ['skip', 'skip the run (skip)'],
  ['wait', 'wait for it, up to the time below (wait)'],
];
/** How a script is started (execution/shim.ts argvForScript); '' = not set: run directly, by its #! line. */
export const SCRIPT_TYPES: [string, string][] = [
  ['', 'run it directly, by its #! line (not set)'],
  ['bash', 'bash'],
  ['php', 'php'],
  ['python', 'python3'],
  ['node', 'node'],
  ['executable', 'run it directly (executable)'],
];
export const ALERTS = ['failure', 'timeout', 'high_memory', 'high_duration', 'missed', 'hanging'] as const;
export const ALERT_LABEL: Record<(typeof ALERTS)[number], string> = {
  failure: 'a run fails',
  timeout: 'a run times out',
  high_memory: 'memory > 1.5 × baseline',
  high_duration: 'duration > 2 × baseline',
  missed: 'a run is missed',
  hanging: 'a run hangs',
};

/** What an environment variable's name, a node label, an e-mail address and a user name must look like (the schema's own). */
export const ENV_NAME = new RegExp(ENV_NAME_PATTERN);
export const NODE_LABEL = new RegExp(NODE_LABEL_PATTERN);
export const EMAIL = new RegExp(EMAIL_PATTERN);
const USER_NAME = new RegExp(USER_NAME_PATTERN);

export interface FormState {
  name: string;
  description: string;
  kind: Kind;
  command: string;
  script_path: string;
  script_type: string;
  working_dir: string;
  run_as_user: string;
  /** NAME=value, one a line. */
  env: string;
  schedule: string;
  timezone: string;
  max_catchup_runs: string;
  starting_deadline_seconds: string;
  priority: string;
  category: string;
  slot: string;
  timeout_seconds: string;
  estimated_memory_mb: string;
  memory_limit_mb: string;
  estimated_cpu_percent: string;
  estimated_duration_seconds: string;
  cpu_weight: string;
  memory_weight: string;
  overlap_policy: string;
  misfire_policy: string;
  retries: string;
  retry_backoff_seconds: string;
  retry_on_timeout: boolean;
  retry_on_memory: boolean;
  circuit_failure_threshold: string;
  circuit_cooldown_seconds: string;
  requires_mode: string;
  requires_wait_seconds: string;
  mutex_group: string;
  manual_respects_overlap: boolean;
  tags: string;
  enabled: boolean;
  alerts: Record<(typeof ALERTS)[number], boolean>;
  /** Addresses separated by commas, spaces or lines. */
  alert_emails: string;
  consecutive_failure_threshold: string;
  missed_grace_seconds: string;
  /** label=value, one a line. */
  node_selector: string;
  pinned_node: string;
}

type Body = Record<string, unknown>;

/** The registry's defaults of the settings the form keeps in its folded sections (shared with the job page and the CLI). A new job sends none of them that the user left at its default. */
export const DEFAULTS = SETTING_DEFAULTS;
type Extra = keyof typeof DEFAULTS;

/** What a number field takes (the schema's bounds) and says when given something else. */
interface NumberSpec {
  whole?: boolean;
  min?: number;
  /** Must be above `min`, not equal to it. */
  above?: boolean;
  max?: number;
  /** Empty means null (the API's "not set"). */
  nullable?: boolean;
  /** The expected value in words, for the message. */
  expect: string;
}

const WEEK = 7 * 24 * 3600;
export const NUMBERS: Record<string, NumberSpec> = {
  max_catchup_runs: { whole: true, min: 1, max: 10000, expect: 'a whole number from 1 to 10000' },
  starting_deadline_seconds: { whole: true, min: 1, nullable: true, expect: 'whole seconds, at least 1 (empty: no deadline)' },
  cpu_weight: { min: 0, max: 100, expect: 'a number from 0 to 100' },
  memory_weight: { min: 0, max: 100, expect: 'a number from 0 to 100' },
  estimated_cpu_percent: { min: 0, max: 100, expect: 'a percentage from 0 to 100' },
  estimated_duration_seconds: { min: 0, above: true, max: WEEK, nullable: true, expect: `seconds above 0, at most ${WEEK} (7 days; empty: not stated)` },
  consecutive_failure_threshold: { whole: true, min: 1, max: 1000, expect: 'a whole number from 1 to 1000' },
  missed_grace_seconds: { whole: true, min: 0, nullable: true, expect: "whole seconds, 0 or more (empty: the daemon's default)" },
  circuit_failure_threshold: { whole: true, min: 1, max: 1000, expect: 'a whole number from 1 to 1000' },
  circuit_cooldown_seconds: { whole: true, min: 1, expect: 'whole seconds, at least 1' },
  requires_wait_seconds: { whole: true, min: 0, expect: 'whole seconds, 0 or more' },
};

const numText = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
const pairLines = (map: Record<string, string> | null | undefined) =>
  Object.entries(map ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

export function initialState(job?: Job): FormState {
  const d = DEFAULTS;
  return {
    name: job?.name ?? '',
    description: job?.description ?? '',
    kind: job?.script_path ? 'script' : job?.shell ? 'shell' : 'command',
    command: job && !job.script_path ? commandLine(job) : '',
    script_path: job?.script_path ?? '',
    script_type: job?.script_type ?? '',
    working_dir: job?.working_dir ?? '',
    run_as_user: job?.run_as_user ?? '',
    env: pairLines(job?.env),
    schedule: job?.schedule ?? '',
    timezone: job?.timezone ?? '',
    max_catchup_runs: numText(job?.max_catchup_runs ?? d.max_catchup_runs),
    starting_deadline_seconds: numText(job?.starting_deadline_seconds),
    priority: job?.priority ?? 'medium',
    category: job?.category ?? '',
    slot: job?.slot ?? 'auto',
    timeout_seconds: job ? String(job.timeout_seconds) : '',
    estimated_memory_mb: job ? String(job.estimated_memory_mb) : '',
    memory_limit_mb: job?.memory_limit_mb ? String(job.memory_limit_mb) : '',
    estimated_cpu_percent: numText(job?.estimated_cpu_percent ?? d.estimated_cpu_percent),
    estimated_duration_seconds: numText(job?.estimated_duration_seconds),
    cpu_weight: numText(job?.cpu_weight ?? d.cpu_weight),
    memory_weight: numText(job?.memory_weight ?? d.memory_weight),
    // New jobs start with the registry's defaults.
    overlap_policy: job?.overlap_policy ?? 'forbid',
    misfire_policy: job?.misfire_policy ?? 'skip',
    retries: String(job?.retries ?? 0),
    retry_backoff_seconds: String(job?.retry_backoff_seconds ?? 30),
    retry_on_timeout: job?.retry_on_timeout ?? d.retry_on_timeout,
    retry_on_memory: job?.retry_on_memory ?? d.retry_on_memory,
    circuit_failure_threshold: numText(job?.circuit_failure_threshold ?? d.circuit_failure_threshold),
    circuit_cooldown_seconds: numText(job?.circuit_cooldown_seconds ?? d.circuit_cooldown_seconds),
    requires_mode: job?.requires_mode ?? d.requires_mode,
    requires_wait_seconds: numText(job?.requires_wait_seconds ?? d.requires_wait_seconds),
    mutex_group: job?.mutex_group ?? '',
    manual_respects_overlap: job?.manual_respects_overlap ?? d.manual_respects_overlap,
    tags: job?.tags.join(', ') ?? '',
    enabled: job?.enabled ?? true,
    // New jobs start with every alert on, as the registry's defaults do.
    alerts: Object.fromEntries(ALERTS.map((a) => [a, job ? job[`alert_on_${a}`] : true])) as FormState['alerts'],
    alert_emails: (job?.alert_emails ?? []).join(', '),
    consecutive_failure_threshold: numText(job?.consecutive_failure_threshold ?? d.consecutive_failure_threshold),
    missed_grace_seconds: numText(job?.missed_grace_seconds),
    node_selector: pairLines(job?.node_selector),
    pinned_node: job?.pinned_node ?? '',
  };
}

/** A number input into body[key]; `whole`: the message when it must be a whole number and is not. */
function numberField(body: Body, key: string, text: string, nullable: boolean, errors: Record<string, string>, whole?: string): void {
  const t = text.trim();
  if (t === '') {
    if (nullable) body[key] = null;
    return;
  }
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) errors[key] = 'expected a positive number';
  else if (whole && !Number.isInteger(n)) errors[key] = whole;
  else body[key] = n;
}

/**
 * A number within the schema's bounds, or the error: what is wrong with the text, then what
 * was expected ("\"1.5\" is not a whole number: expected a whole number from 1 to 10000").
 */
export function parseNumber(text: string, spec: NumberSpec): { value: number | null } | { error: string } {
  const t = text.trim();
  if (t === '') return spec.nullable ? { value: null } : { error: `empty: expected ${spec.expect}` };
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
  let wrong: string | null = null;
  if (!Number.isFinite(n)) wrong = `"${t}" is not a number`;
  else if (spec.whole && !Number.isInteger(n)) wrong = `"${t}" is not a whole number`;
  else if (spec.min !== undefined && (spec.above ? n <= spec.min : n < spec.min)) wrong = `${t} is too small`;
  else if (spec.max !== undefined && n > spec.max) wrong = `${t} is too large`;
  return wrong ? { error: `${wrong}: expected ${spec.expect}` } : { value: n };
}

/**
 * `NAME=value` lines into a map (blank lines skipped; the value is taken as written, up to the
 * line's end). `what` names the key in messages; `valid` checks it.
 */
export function parsePairs(text: string, what: { key: string; valid: RegExp; expect: string }): { value: Record<string, string> } | { error: string } {
  const out: Record<string, string> = {};
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const at = `line ${i + 1}`;
    const eq = line.indexOf('=');
    if (eq < 0) return { error: `${at}: "${line.trim()}" has no "=": expected ${what.key}=value` };
    const key = line.slice(0, eq).trim();
    if (key === '') return { error: `${at}: nothing before "=": expected ${what.key}=value` };
    if (!what.valid.test(key)) return { error: `${at}: "${key}" is not ${what.expect}` };
    const first = seen.get(key);
    if (first !== undefined) return { error: `${at}: ${key} is set twice (also on line ${first}): expected each ${what.key} once` };
    seen.set(key, i + 1);
    out[key] = line.slice(eq + 1);
  }
  return { value: out };
}

export const parseEnv = (text: string) =>
  parsePairs(text, { key: 'NAME', valid: ENV_NAME, expect: ENV_NAME_WORDS });
export const parseNodeSelector = (text: string) =>
  parsePairs(text, { key: 'label', valid: NODE_LABEL, expect: 'a node label (letters, digits and . _ / -, starting with a letter or digit, at most 63 characters)' });

/** Email addresses separated by commas, semicolons, spaces or lines. */
export function parseEmails(text: string): { value: string[] } | { error: string } {
  const list = text.split(/[\s,;]+/).filter(Boolean);
  const bad = list.find((a) => !EMAIL.test(a));
  return bad === undefined ? { value: list } : { error: `"${bad}" is not an email address: expected name@host` };
}

/** The whole definition as the API takes it, or the client-side errors (by field). */
export function toBody(s: FormState): { body: Body; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const body: Body = { schedule: s.schedule.trim(), priority: s.priority, slot: s.slot.trim() || 'auto', enabled: s.enabled };
  if (s.name.trim()) body.name = s.name.trim();
  body.description = s.description.trim() || null;
  if (s.kind === 'script') {
    if (!s.script_path.trim()) errors.script_path = 'give the path of the script';
    else body.script_path = s.script_path.trim();
    // Not set (null) cannot be sent back: the API takes only a type here.
    if (s.script_type) body.script_type = s.script_type;
  } else if (!s.command.trim()) {
    errors.command = 'give the command to run';
  } else if (s.kind === 'shell') {
    body.command = [s.command.trim()];
    body.shell = true;
  } else {
    try {
      body.command = splitWords(s.command);
      body.shell = false;
    } catch (e) {
      errors.command = (e as Error).message;
    }
  }
  body.working_dir = s.working_dir.trim() || null;
  body.run_as_user = s.run_as_user.trim() || null;
  if (body.run_as_user !== null && !USER_NAME.test(body.run_as_user as string)) {
    errors.run_as_user = `"${body.run_as_user as string}" is not a user name: expected lowercase letters, digits and _ . - (starting with a letter or _)`;
  }
  const env = parseEnv(s.env);
  if ('error' in env) errors.env = env.error;
  else body.env = env.value;
  // Empty: the host's timezone (null, so that clearing it on edit is sent).
  body.timezone = s.timezone.trim() || null;
  if (s.category.trim()) body.category = s.category.trim();
  numberField(body, 'timeout_seconds', s.timeout_seconds, false, errors, 'expected whole seconds');
  numberField(body, 'estimated_memory_mb', s.estimated_memory_mb, false, errors);
  numberField(body, 'memory_limit_mb', s.memory_limit_mb, true, errors);
  for (const [k, spec] of Object.entries(NUMBERS)) {
    const r = parseNumber(s[k as keyof FormState] as string, spec);
    if ('error' in r) errors[k] = r.error;
    else body[k] = r.value;
  }
  body.overlap_policy = s.overlap_policy;
  body.misfire_policy = s.misfire_policy;
  for (const k of ['retries', 'retry_backoff_seconds'] as const) numberField(body, k, s[k], false, errors, 'expected a whole number');
  body.retry_on_timeout = s.retry_on_timeout;
  body.retry_on_memory = s.retry_on_memory;
  body.requires_mode = s.requires_mode;
  const group = s.mutex_group.trim();
  if (group.length > 100) errors.mutex_group = `${group.length} characters is too long: expected a group name of at most 100 characters`;
  body.mutex_group = group || null;
  body.manual_respects_overlap = s.manual_respects_overlap;
  body.tags = s.tags.split(/[\s,]+/).filter(Boolean);
  for (const a of ALERTS) body[`alert_on_${a}`] = s.alerts[a];
  const emails = parseEmails(s.alert_emails);
  if ('error' in emails) errors.alert_emails = emails.error;
  else body.alert_emails = emails.value;
  const selector = parseNodeSelector(s.node_selector);
  if ('error' in selector) errors.node_selector = selector.error;
  else body.node_selector = selector.value;
  body.pinned_node = s.pinned_node.trim() || null;
  if (!body.schedule) errors.schedule = 'give a cron expression';
  return { body, errors };
}

/** JSON with object keys sorted: a map whose lines were reordered is the same map. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** Only what differs from the job as loaded. */
export function changes(body: Body, original: Body): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) {
    if (!same(v, original[k])) out[k] = v;
  }
  // Changing between command and shell line changes both keys together.
  if ('command' in out || 'shell' in out) {
    if (body.command !== undefined) out.command = body.command;
    if (body.shell !== undefined) out.shell = body.shell;
  }
  return out;
}

/**
 * The body for a new job: the folded sections' settings (and an empty timezone) only when the
 * user set them, so that the job keeps following the defaults it was not told otherwise about
 * (a consecutive_failure_threshold that is sent becomes the job's own, instead of the daemon's).
 */
export function forCreate(body: Body): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) {
    if (k in DEFAULTS && same(v, DEFAULTS[k as Extra])) continue;
    if (k === 'timezone' && v === null) continue;
    out[k] = v;
  }
  return out;
}

/** The folded sections of the form, with the fields each holds (in FormState's names). */
export const SECTIONS = {
  environment: { title: 'Environment and user', fields: ['working_dir', 'run_as_user', 'env'] },
  catchup: { title: 'Catch-up and deadlines', fields: ['max_catchup_runs', 'starting_deadline_seconds'] },
  cost: { title: 'Cost estimates', fields: ['estimated_cpu_percent', 'estimated_duration_seconds', 'cpu_weight', 'memory_weight'] },
  retries: { title: 'Retries and circuit breaker', fields: ['retry_on_timeout', 'retry_on_memory', 'circuit_failure_threshold', 'circuit_cooldown_seconds'] },
  coordination: { title: 'Coordination', fields: ['requires_mode', 'requires_wait_seconds', 'mutex_group', 'manual_respects_overlap'] },
  alerting: { title: 'Alert emails and thresholds', fields: ['alert_emails', 'consecutive_failure_threshold', 'missed_grace_seconds'] },
  placement: { title: 'Cluster placement', fields: ['node_selector', 'pinned_node'] },
} as const satisfies Record<string, { title: string; fields: readonly (keyof FormState)[] }>;
export type SectionId = keyof typeof SECTIONS;

/** The section a field is folded into (undefined: always shown). */
export function sectionOf(field: string | null | undefined): SectionId | undefined {
  if (!field) return undefined;
  return (Object.keys(SECTIONS) as SectionId[]).find((id) => (SECTIONS[id].fields as readonly string[]).includes(field));
}

/** The fields of a section whose value is not the registry's default (a new job's: none). */
export function notDefault(s: FormState, id: SectionId): string[] {
  const fresh = initialState();
  return SECTIONS[id].fields.filter((f) => !same(normalise(s[f]), normalise(fresh[f])));
}

/** Text compared as the number or the lines it stands for ("1.0" is 1; trailing blank lines are nothing). */
function normalise(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
}

/** Every field the form shows an input for: an API error about another field is shown at the top. */
export const FIELDS = new Set<string>([
  'name',
  'description',
  'command',
  'script_path',
  'script_type',
  'working_dir',
  'run_as_user',
  'env',
  'schedule',
  'timezone',
  'max_catchup_runs',
  'starting_deadline_seconds',
  'priority',
  'category',
  'slot',
  'timeout_seconds',
  'estimated_memory_mb',
  'memory_limit_mb',
  'estimated_cpu_percent',
  'estimated_duration_seconds',
  'cpu_weight',
  'memory_weight',
  'overlap_policy',
  'misfire_policy',
  'retries',
  'retry_backoff_seconds',
  'retry_on_timeout',
  'retry_on_memory',
  'circuit_failure_threshold',
  'circuit_cooldown_seconds',
  'requires_mode',
  'requires_wait_seconds',
  'mutex_group',
  'manual_respects_overlap',
  'tags',
  'alerts',
  'alert_emails',
  'consecutive_failure_threshold',
  'missed_grace_seconds',
  'node_selector',
  'pinned_node',
]);

/** The API names fields like `tags.0`, `env.FOO` or `alert_on_failure`; the form shows them at the input they came from. */
export function formField(field: string | null): string | null {
  if (!field) return null;
  const top = field.replace(/^(body|job)[./]/, '').split(/[./[]/)[0]!;
  if (top === 'shell') return 'command';
  if (top.startsWith('alert_on_')) return 'alerts';
  return top;
}
