/**
 * Which commands may make the data home, and what the others say when it is not there.
 *
 * A mistyped --home used to give an empty, valid-looking home (made by opening its database,
 * 0755 instead of init's 0700): `status` said "jobs: 0". Now a command that only reads or changes
 * what is there refuses a home that does not exist, and a command that registers jobs makes the
 * home as `init` does (config.yaml, API token, mode 0700); if that command then fails, the home
 * it made goes again (a mistake changes nothing). With a database named by --database or
 * SMART_CRON_DATABASE_URL (PostgreSQL, most often), a CLI on a machine without a home of its own
 * is fine; a named SQLite file must exist for a command that only reads, as a home must.
 */
import { existsSync, rmSync } from 'node:fs';
import { envSetting, resolveHome } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { isMissingSqliteFile, parseDatabaseUrl } from '../storage/database.js';
import type { GlobalOptions } from './context.js';
import { initHome } from '../daemon/home.js';

/** Commands that make the home themselves, or need none. */
const OWN_HOME = new Set(['init', 'daemon', 'install-service', 'next', 'help']);
/** Commands that register jobs: on a fresh home they make it first, as `init` does (a dry run writes nothing). */
const MAKE_HOME = new Set(['jobs add', 'discover', 'import-crontab', 'apply']);

/** The command's words below the program: "jobs add", "status". */
export function commandPath(cmd: { name(): string; parent: unknown }): string {
  const words: string[] = [];
  for (let c: { name(): string; parent: unknown } | null = cmd; c && (c as { parent: unknown }).parent; c = c.parent as typeof c) words.unshift(c.name());
  return words.join(' ');
}

/**
 * Checks the home (and a named SQLite file) before the command runs; returns the home it made,
 * which the caller removes if the command fails.
 */
export async function homeFor(path: string, g: GlobalOptions, opts: { dryRun?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (OWN_HOME.has(path.split(' ')[0]!)) return null;
  const makes = MAKE_HOME.has(path);
  const database = g.database ?? envSetting(env, 'SMART_CRON_DATABASE_URL');
  if (database !== undefined && !makes) {
    const field = g.database !== undefined ? '--database' : 'SMART_CRON_DATABASE_URL';
    const target = parseDatabaseUrl(database, field);
    if (isMissingSqliteFile(target)) {
      throw new ConfigError(`${field}: no SQLite database at ${target.location} (expected an existing file; \`smart-cron init\` or the daemon makes one)`, 'database');
    }
  }
  const home = resolveHome({ home: g.home, env });
  if (existsSync(home)) return null;
  if (makes) {
    if (opts.dryRun) return null;
    await initHome({ home, database });
    return home;
  }
  if (database !== undefined) return null;
  throw new ConfigError(
    `no smart-cron home at ${home} (expected one made by \`smart-cron init\` or by the daemon's first start; check --home or SMART_CRON_HOME)`,
    'home',
  );
}

/** Undo homeFor's home after the command failed: it did not exist before this command. */
export function unmakeHome(home: string | null): void {
  if (home) rmSync(home, { recursive: true, force: true });
}
