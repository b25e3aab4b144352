/**
 * What a person (CLI, API, jobs.yaml) or discovery may say about a job: one TypeBox
 * schema, used to validate every way a job comes in, and by the API's OpenAPI document.
 */
import Type, { type Static, type TLiteral, type TUnion } from 'typebox';
import Value from 'typebox/value';
import { explainErrors } from '../config/explain.js';
import { ValidationError } from '../errors.js';
import { canonicalTimezone } from '../schedule/names.js';

import { EMAIL, EMAIL_PATTERN, ENV_NAME, ENV_NAME_PATTERN, JOB_NAME, JOB_NAME_PATTERN, NODE_ID, NODE_ID_PATTERN, NODE_LABEL, NODE_LABEL_PATTERN, USER_NAME, USER_NAME_PATTERN } from '../shapes.js';

export { ENV_NAME, ENV_NAME_PATTERN } from '../shapes.js';
const Name = Type.String({ pattern: JOB_NAME_PATTERN, description: JOB_NAME });
const Bool = Type.Boolean();

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export const SCRIPT_TYPES = ['php', 'bash', 'python', 'node', 'executable'] as const;
export const SOURCES = ['discovered', 'crontab', 'manual', 'file'] as const;

/** 16 TiB: more memory than any machine this runs on, and a number every cgroup file takes. */
const MAX_MEMORY_MB = 16 * 1024 * 1024;

/** A union of string literals, typed as such (a mapped array would lose the literal types). */
const lit = <const T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;

/** Every field a job definition may carry, all optional; `name` and `schedule` are checked by JobDefinition. */
export const JobFields = {
  description: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  command: Type.Array(Type.String(), { minItems: 1 }),
  shell: Bool,
  script_path: Type.String({ minLength: 1 }),
  script_type: lit(SCRIPT_TYPES),
  // The daemon's working directory is not the shell's the job was added from: a relative path would
  // be read against it, and every run fail.
  working_dir: Type.Union([Type.String({ pattern: '^/', maxLength: 4096, description: 'an absolute path (starting with /)' }), Type.Null()]),
  run_as_user: Type.Union([Type.String({ pattern: USER_NAME_PATTERN, description: USER_NAME }), Type.Null()]),
  env: Type.Record(Type.String({ pattern: ENV_NAME_PATTERN }), Type.String(), { additionalProperties: false, 'x-keys': ENV_NAME }),
  schedule: Type.String({ minLength: 1 }),
  timezone: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  misfire_policy: lit(['skip', 'run_once', 'run_all'] as const),
  max_catchup_runs: Type.Integer({ minimum: 1, maximum: 10000 }),
  overlap_policy: lit(['forbid', 'allow', 'replace', 'queue'] as const),
  starting_deadline_seconds: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  category: Type.String({ pattern: '^[a-z][a-z0-9_/-]{0,39}$', description: 'a category of lowercase letters, digits and _ / - that starts with a letter (at most 40 characters)' }),
  priority: lit(PRIORITIES),
  slot: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', description: 'a slot name of lowercase letters, digits, _ and - that starts with a letter (at most 32 characters)' }),
  cpu_weight: Type.Number({ minimum: 0, maximum: 100 }),
  memory_weight: Type.Number({ minimum: 0, maximum: 100 }),
  timeout_seconds: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }),
  estimated_memory_mb: Type.Number({ minimum: 0, maximum: MAX_MEMORY_MB }),
  estimated_cpu_percent: Type.Number({ minimum: 0, maximum: 100 }),
  estimated_duration_seconds: Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 7 * 24 * 3600 }), Type.Null()]),
  // Bounded as estimated_memory_mb: a limit the kernel cannot take (1e308 is written as Infinity) fails every run.
  memory_limit_mb: Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: MAX_MEMORY_MB }), Type.Null()]),
  alert_on_failure: Bool,
  alert_on_timeout: Bool,
  alert_on_high_memory: Bool,
  alert_on_high_duration: Bool,
  alert_on_missed: Bool,
  alert_on_hanging: Bool,
  alert_emails: Type.Array(Type.String({ pattern: EMAIL_PATTERN, description: EMAIL })),
  consecutive_failure_threshold: Type.Integer({ minimum: 1, maximum: 1000 }),
  missed_grace_seconds: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  circuit_failure_threshold: Type.Integer({ minimum: 1, maximum: 1000 }),
  circuit_cooldown_seconds: Type.Integer({ minimum: 1 }),
  retries: Type.Integer({ minimum: 0, maximum: 100 }),
  retry_backoff_seconds: Type.Integer({ minimum: 0, maximum: 86400 }),
  retry_on_timeout: Bool,
  retry_on_memory: Bool,
  requires_mode: lit(['skip', 'wait'] as const),
  requires_wait_seconds: Type.Integer({ minimum: 0 }),
  mutex_group: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()]),
  manual_respects_overlap: Bool,
  node_selector: Type.Record(Type.String({ pattern: NODE_LABEL_PATTERN }), Type.String(), { additionalProperties: false, 'x-keys': NODE_LABEL }),
  pinned_node: Type.Union([Type.String({ pattern: NODE_ID_PATTERN, description: NODE_ID }), Type.Null()]),
  enabled: Bool,
  tags: Type.Array(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$', description: 'a tag of letters, digits and . _ : / - that starts with a letter or digit (at most 64 characters)' })),
};

export type JobFieldName = keyof typeof JobFields;

const OptionalFields = Type.Partial(Type.Object(JobFields)).properties;

/**
 * Some fields of a job, and nothing else: a misspelt field is refused, naming it (the API's
 * PATCH body; its OpenAPI document says additionalProperties: false, as the server does).
 */
export const JobPatch = Type.Object(OptionalFields, { additionalProperties: false });
export type JobPatch = Static<typeof JobPatch>;

/** A definition: name and schedule, any other field, nothing else (the API's POST body, jobs.yaml entries). */
export const JobDefinition = Type.Object({ ...OptionalFields, name: Name, schedule: JobFields.schedule }, { additionalProperties: false });
export type JobDefinition = { name: string; schedule: string } & JobPatch;

export function validateJobDefinition(input: unknown, where = 'job'): JobDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(`${where}: expected a mapping of job settings`, where);
  }
  const problem = explainErrors(JobDefinition, input);
  if (problem) throw new ValidationError(`${where}: ${problem.message}`, problem.field);
  const def = canonicalZone(Value.Clone(input) as JobDefinition);
  checkProgram(def, where);
  checkCommandShape(def, where);
  return def;
}

/** A timezone is stored as the tz database spells it (`australia/lord_howe` -> `Australia/Lord_Howe`); parseSchedule judges its validity. */
function canonicalZone<T extends JobPatch>(def: T): T {
  if (typeof def.timezone === 'string') def.timezone = canonicalTimezone(def.timezone);
  return def;
}

export function validateJobPatch(input: unknown, where = 'job'): JobPatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(`${where}: expected a mapping of job settings`, where);
  }
  const problem = explainErrors(JobPatch, input);
  if (problem) throw new ValidationError(`${where}: ${problem.message}`, problem.field);
  const patch = canonicalZone(Value.Clone(input) as JobPatch);
  checkProgram(patch, where);
  return patch;
}

/**
 * A command's first item is the program (with shell, the shell line); blank, every run would
 * fail "empty command". Later items are arguments, and an empty argument is a real one.
 */
function checkProgram(p: JobPatch, where: string): void {
  const program = p.command?.[0];
  if (program !== undefined && program.trim() === '') {
    throw new ValidationError(`${where}: command.0 = ${JSON.stringify(program)}: expected the program to run (a name or path; with shell, the shell line), not ${program === '' ? 'empty' : 'blank'} text`, 'command.0');
  }
}

export function checkCommandShape(def: JobPatch & { name?: string }, where: string): void {
  if (def.command && def.script_path) {
    throw new ValidationError(`${where}: give either command or script_path, not both`, 'command');
  }
  if (def.shell && def.command && def.command.length !== 1) {
    throw new ValidationError(`${where}: with shell, command must be one shell line (got ${def.command.length} items)`, 'command');
  }
}

/** The names a user can set; used by `jobs set key=value` to explain a typo. */
export const SETTABLE_FIELDS = Object.keys(JobFields) as JobFieldName[];
