import { accessSync, constants, existsSync, readFileSync, readlinkSync } from 'node:fs';
import { homedir, hostname, totalmem } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import Value from 'typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { redactUrl } from '../redact.js';
import { ConfigError } from '../errors.js';
import { setDefaultTimezone } from '../schedule/cron.js';
import { canonicalTimezone, systemTimezone } from '../schedule/names.js';
import { isValidTimezone } from '../schedule/zone.js';
import { parseDatabaseUrl } from '../storage/database.js';
import { closest, describeValue, explainErrors } from './explain.js';
import { ConfigSchema, DEFAULT_SLOTS, NODE_ID, NODE_ID_PATTERN, type FileConfig } from './schema.js';

const SLOT_KEYS = DEFAULT_SLOTS.default!;

/**
 * The lease is this many heartbeats at least. Failover marks a node down (and its running runs
 * lost) once its heartbeat has stood still for a whole lease of watching, and the watcher looks
 * once per heartbeat of its own: with fewer, a single late heartbeat (a slow write, a busy
 * event loop) would be taken for a dead node.
 */
export const MIN_LEASE_HEARTBEATS = 3;

export interface Config extends FileConfig {
  home: string;
  configPath: string;
  /** The database URL in force: flag, else env, else config.yaml, else SQLite in the home. */
  database: string;
  /** This machine's name among nodes: flag, else env, else config.yaml's node.id, else the hostname. */
  nodeId: string;
  tokenPath: string;
  runsDir: string;
  /** The host reserve in MB with 'auto' resolved: max(10 % of RAM, 1024). */
  reserveMb: number;
  /** node.lease_seconds in ms: the scheduler lease, and how old a heartbeat may be before its node counts as unresponsive. */
  leaseMs: number;
  /** The zone of jobs without their own: config.yaml's `timezone`, else the machine's (never the TZ variable). */
  timezone: string;
}

export interface ConfigInputs {
  home?: string;
  database?: string;
  nodeId?: string;
  env?: NodeJS.ProcessEnv;
}

/** An environment setting: an empty one (`SMART_CRON_HOME= smart-cron …`) is unset, not "the current directory". */
export function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

export function resolveHome(inputs: ConfigInputs): string {
  const env = inputs.env ?? process.env;
  if (inputs.home !== undefined && inputs.home.trim() === '') {
    throw new ConfigError('--home: an empty path (expected the smart-cron home folder, e.g. ~/.smart-cron)', 'home');
  }
  return resolve(inputs.home ?? envSetting(env, 'SMART_CRON_HOME') ?? join(homedir(), '.smart-cron'));
}

/** Load and validate the configuration; a bad file raises a ConfigError naming file, field, value and expectation. */
export function loadConfig(inputs: ConfigInputs = {}): Config {
  const env = inputs.env ?? process.env;
  const home = resolveHome(inputs);
  const configPath = join(home, 'config.yaml');
  const text = readConfigFile(configPath);
  const raw: unknown = text === null ? {} : parseConfigText(text, configPath);
  const file = validateConfig(withDefaultSlots(raw, configPath), configPath);
  const database = inputs.database ?? envSetting(env, 'SMART_CRON_DATABASE_URL') ?? (file.database !== undefined ? fileDatabase(file.database, home, configPath) : `sqlite:${join(home, 'smart-cron.db')}`);
  checkDatabaseFolder(database, home);
  // config.yaml's node.id was checked with the rest of the file; a flag, environment or host name here, named as such.
  const envNodeId = envSetting(env, 'SMART_CRON_NODE_ID');
  const [nodeId, nodeIdFrom] =
    inputs.nodeId !== undefined ? [inputs.nodeId, '--node-id'] : envNodeId !== undefined ? [envNodeId, 'SMART_CRON_NODE_ID'] : file.node.id !== undefined ? [file.node.id, 'node.id'] : [hostname(), "this machine's host name (set node.id in config.yaml or --node-id)"];
  if (!new RegExp(NODE_ID_PATTERN).test(nodeId)) {
    throw new ConfigError(`${nodeIdFrom}: node id "${nodeId}" is invalid (expected ${NODE_ID})`, 'node-id');
  }
  const timezone = homeTimezone(file.timezone, configPath);
  // The schedule layer's default for this process: the CLI and the daemon of a home agree.
  setDefaultTimezone(timezone);
  const totalMb = totalmem() / 1024 / 1024;
  const reserveMb = file.host.reserve_mb === 'auto' ? Math.max(0.1 * totalMb, 1024) : file.host.reserve_mb;
  // As for the database: a relative password_file is the home's, so doctor, the CLI's `alerts
  // test` and the daemon (started in / by systemd) all read the same file.
  const email = file.alerts.email;
  if (email.password_file !== undefined && !isAbsolute(email.password_file)) email.password_file = resolve(home, email.password_file);
  return {
    ...file,
    home,
    configPath,
    database,
    nodeId,
    tokenPath: join(home, 'api-token'),
    runsDir: join(home, 'runs'),
    reserveMb,
    leaseMs: file.node.lease_seconds * 1000,
    timezone,
  };
}

/** config.yaml's timezone in the tz database's spelling, else the machine's; a bad name is an error naming the file and key. */
function homeTimezone(name: string | undefined, configPath: string): string {
  if (name === undefined) return systemTimezone();
  if (!isValidTimezone(name)) {
    throw new ConfigError(`${configPath}: timezone = "${name}": unknown timezone (expected an IANA name such as Europe/Berlin or UTC; leave it out for the machine's)`, 'timezone');
  }
  return canonicalTimezone(name);
}

/** config.yaml's text, or null when there is none (the defaults); any other trouble is an error naming the file. */
function readConfigFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // A link to nowhere is a config.yaml someone meant to have: running on the defaults would hide that.
      let target: string | null = null;
      try {
        target = readlinkSync(path);
      } catch {
        return null;
      }
      throw new ConfigError(`${path}: a symbolic link to ${resolve(dirname(path), target)}, which does not exist (expected a YAML file)`, 'config.yaml');
    }
    if (code === 'EISDIR') throw new ConfigError(`${path}: a directory (expected a YAML file of settings)`, 'config.yaml');
    throw new ConfigError(`${path}: cannot read (${code ?? (e as Error).message})`, 'config.yaml');
  }
}

/**
 * config.yaml's database: a relative SQLite path is the home's (the file's folder), not the
 * current directory's, so the CLI and the daemon (started in / by systemd) open the same file.
 * (A path typed with --database or SMART_CRON_DATABASE_URL is the typist's current directory's.)
 */
function fileDatabase(url: string, home: string, configPath: string): string {
  // `sqlite:<home>/…`, as the README and older templates wrote it: the home, not a folder named "<home>".
  url = url.replace(/^sqlite:<home>\//, 'sqlite:');
  try {
    const target = parseDatabaseUrl(url, 'database', home);
    return target.dialect === 'sqlite' ? `sqlite:${target.location}` : url;
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${configPath}: ${e.message}`, 'database');
    throw e;
  }
}

/**
 * Opening a SQLite file creates its folder when missing: welcome for the home (a first
 * `smart-cron status` sets it up), not for a typo elsewhere (`--database /nonexistent/dir/x.db
 * status` must not leave /nonexistent/dir behind). Outside the home the folder must exist.
 */
function checkDatabaseFolder(database: string, home: string): void {
  const target = parseDatabaseUrl(database);
  if (target.dialect !== 'sqlite' || target.location === ':memory:') return;
  const folder = dirname(target.location);
  const inHome = folder === home || folder.startsWith(home.endsWith(sep) ? home : home + sep);
  if (!inHome && !existsSync(folder)) {
    throw new ConfigError(`database folder ${folder} does not exist (create it, or give a database file in an existing folder)`, 'database');
  }
}

/**
 * Slots in config.yaml add to the built-in three (default, heavy, light) rather than replace
 * them, and a built-in slot given only in part keeps its other defaults.
 */
function withDefaultSlots(raw: unknown, path: string): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const doc = raw as Record<string, unknown>;
  const slots = doc.slots;
  if (slots === undefined || !slots || typeof slots !== 'object' || Array.isArray(slots)) return raw;
  const merged: Record<string, unknown> = { ...DEFAULT_SLOTS };
  for (const [name, v] of Object.entries(slots as Record<string, unknown>)) {
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) {
      throw new ConfigError(`${path}: slots: slot name "${name}" is not valid (expected lower-case letters, digits, '_' or '-', starting with a letter)`, `slots.${name}`);
    }
    // A job's `slot: auto` means "pick light, default or heavy by its weights": a slot of that name could never be chosen.
    if (name === 'auto') {
      throw new ConfigError(`${path}: slots: "auto" cannot be a slot name (a job's slot auto means "choose light, default or heavy by its weights"); choose another name`, 'slots.auto');
    }
    const base = DEFAULT_SLOTS[name];
    const guess = base ? undefined : closest(name, Object.keys(DEFAULT_SLOTS));
    // A new slot needs its whole budget; one given in part and named like a built-in one is most likely a typo of it.
    if (guess && !(v && typeof v === 'object' && Object.keys(SLOT_KEYS).every((k) => k in v))) {
      throw new ConfigError(`${path}: slots.${name}: not a built-in slot (did you mean "${guess}"?); a new slot needs all of ${Object.keys(SLOT_KEYS).join(', ')}`, `slots.${name}`);
    }
    merged[name] = base && v && typeof v === 'object' && !Array.isArray(v) ? { ...base, ...(v as object) } : v;
  }
  return { ...doc, slots: merged };
}

export function parseConfigText(text: string, path: string): unknown {
  try {
    const doc = parseYaml(text) as unknown;
    return doc ?? {};
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new ConfigError(
        `${path}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`,
        'config.yaml',
      );
    }
    // yaml throws a plain ReferenceError for an alias without its anchor (`a: *x`): still bad input, not a crash.
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`, 'config.yaml');
  }
}

/** Validate a parsed config document, fill defaults, and report the first problem precisely. */
export function validateConfig(raw: unknown, path: string): FileConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${path}: expected a mapping of settings at the top level, got ${describeValue(raw)}`, 'config.yaml');
  }
  const value = Value.Default(ConfigSchema, withoutEmptyKeys(ConfigSchema, Value.Clone(raw))) as unknown;
  const problem = explainErrors(ConfigSchema, value) ?? settingsProblem(value as FileConfig);
  if (problem) throw new ConfigError(`${path}: ${problem.message}`, problem.field);
  return value as FileConfig;
}

/**
 * A key left empty in YAML (`alerts:` with all its children commented out) is null: it means
 * the same as the key left out, its defaults, in every section alike. (Only named settings: an
 * empty entry of a map or list, such as a slot, is still an error.)
 */
function withoutEmptyKeys(schema: unknown, value: unknown): unknown {
  const props = (schema as { properties?: Record<string, unknown> }).properties;
  if (!props || !value || typeof value !== 'object' || Array.isArray(value)) return value;
  const doc = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(doc)) {
    if (!(k in props)) continue;
    if (v === null) delete doc[k];
    else withoutEmptyKeys(props[k], v);
  }
  return doc;
}

/** What the schema cannot say, one key at a time: the first problem, or null. */
function settingsProblem(c: FileConfig): { field: string; message: string } | null {
  const { heartbeat_seconds: beat, lease_seconds: lease } = c.node;
  if (lease < MIN_LEASE_HEARTBEATS * beat) {
    return {
      field: 'node.lease_seconds',
      message: `node.lease_seconds = ${lease} with node.heartbeat_seconds = ${beat}: the lease must be at least ${MIN_LEASE_HEARTBEATS} heartbeats long (lease_seconds >= ${MIN_LEASE_HEARTBEATS * beat}; the defaults are 30 and 5), or other nodes take one late heartbeat for a dead node`,
    };
  }
  const web = 'an http:// or https:// URL with a host and an optional port from 1 to 65535';
  return (
    urlProblem(c.alerts.email.smtp_url, 'alerts.email.smtp_url', 'an smtp:// or smtps:// URL with a host and an optional port from 1 to 65535, such as smtp://mail.example.org:587') ??
    c.alerts.webhooks.map((w, i) => urlProblem(w.url, `alerts.webhooks.${i}.url`, `${web}, such as https://hooks.example.org/smart-cron`)).find(Boolean) ??
    (c.api.public_url === undefined ? null : urlProblem(c.api.public_url, 'api.public_url', `${web}, such as https://cron.example.org`))
  );
}

/** The schema's pattern sees only the scheme: a mail or webhook would fail on the rest much later, at its first alert. */
function urlProblem(url: string, field: string, expected: string): { field: string; message: string } | null {
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    // not a URL at all
  }
  if (host) return null;
  return { field, message: `${field} = ${JSON.stringify(redactUrl(url))}: expected ${expected}` };
}

/**
 * What in the alert settings cannot work as things stand, though config.yaml is valid: a
 * password_file that cannot be read (missing, or not readable by this user). Not a load error:
 * the file may be provisioned after boot, and jobs must run without mail; the daemon warns at
 * start and `doctor` fails on it.
 */
export function alertSettingsProblems(alerts: FileConfig['alerts']): string[] {
  const file = alerts.email.password_file;
  if (file === undefined) return [];
  try {
    accessSync(file, constants.R_OK);
    return [];
  } catch (e) {
    return [`alerts.email.password_file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): alert mails will fail until it can be read`];
  }
}
