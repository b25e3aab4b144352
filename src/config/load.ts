import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import Value from 'typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../errors.js';
import { describeValue, explainErrors } from './explain.js';
import { ConfigSchema, DEFAULT_SLOTS, type FileConfig } from './schema.js';

export interface Config extends FileConfig {
  home: string;
  configPath: string;
  /** The database URL in force: flag, else env, else config.yaml, else SQLite in the home. */
  database: string;
  nodeId: string;
  tokenPath: string;
  runsDir: string;
  /** The host reserve in MB with 'auto' resolved: max(10 % of RAM, 1024). */
  reserveMb: number;
  /** node.lease_seconds in ms: the scheduler lease, and how old a heartbeat may be before its node counts as unresponsive. */
  leaseMs: number;
}

export interface ConfigInputs {
  home?: string;
  database?: string;
  nodeId?: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveHome(inputs: ConfigInputs): string {
  const env = inputs.env ?? process.env;
  return resolve(inputs.home ?? env.SMART_CRON_HOME ?? join(homedir(), '.smart-cron'));
}

/** Load and validate the configuration; a bad file raises a ConfigError naming file, field, value and expectation. */
export function loadConfig(inputs: ConfigInputs = {}): Config {
  const env = inputs.env ?? process.env;
  const home = resolveHome(inputs);
  const configPath = join(home, 'config.yaml');
  let raw: unknown = {};
  if (existsSync(configPath)) {
    raw = parseConfigText(readFileSync(configPath, 'utf8'), configPath);
  }
  const file = validateConfig(withDefaultSlots(raw, configPath), configPath);
  const database = inputs.database ?? env.SMART_CRON_DATABASE_URL ?? file.database ?? `sqlite:${join(home, 'smart-cron.db')}`;
  const nodeId = inputs.nodeId ?? env.SMART_CRON_NODE_ID ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(nodeId)) {
    throw new ConfigError(`node id "${nodeId}" is invalid (expected letters, digits, '.', '_' or '-', up to 128)`, 'node-id');
  }
  const totalMb = totalmem() / 1024 / 1024;
  const reserveMb = file.host.reserve_mb === 'auto' ? Math.max(0.1 * totalMb, 1024) : file.host.reserve_mb;
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
  };
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
    const base = DEFAULT_SLOTS[name];
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
  const value = Value.Default(ConfigSchema, Value.Clone(raw)) as unknown;
  const problem = explainErrors(ConfigSchema, value);
  if (problem) throw new ConfigError(`${path}: ${problem.message}`, problem.field);
  return value as FileConfig;
}
