import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
} from 'kysely';
import type { Database as BetterSqlite3Database } from 'better-sqlite3';

/**
 * SQLite transactions begin IMMEDIATE: a transaction that reads and then writes (registering a
 * job while the daemon records runs) takes the write lock up front and waits for it (busy_timeout)
 * instead of failing with SQLITE_BUSY_SNAPSHOT when another process wrote in between.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * After SQLITE_FULL or an I/O error SQLite has often rolled the transaction back itself; a
   * second rollback would fail with "cannot rollback - no transaction is active" and hide the
   * error that matters (disk full, read-only filesystem) from the caller and the log.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } catch (e) {
      if (!/no transaction is active/i.test((e as Error).message)) throw e;
    }
  }
}

/**
 * Kysely's SQLite driver prepares every query anew; the daemon and the API run the same few
 * hundred statements over and over, and preparing was a tenth of the dispatcher's CPU. This
 * keeps the most recent prepared statements by their SQL (a statement busy in an iteration is
 * never handed out twice; SQLite re-prepares a cached one itself after a schema change).
 */
function withStatementCache(native: BetterSqlite3Database, max = 500): SqliteDatabase {
  const cache = new Map<string, ReturnType<BetterSqlite3Database['prepare']>>();
  return {
    close: () => native.close(),
    prepare(sql: string) {
      const hit = cache.get(sql);
      cache.delete(sql);
      if (hit && !hit.busy) {
        cache.set(sql, hit);
        return hit;
      }
      const stmt = native.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
      return stmt;
    },
  };
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, SmartCronError, UnavailableError } from '../errors.js';
import type { Dialect } from './dialect.js';
import { CodeMigrationProvider } from './migrations/index.js';
import type { DB } from './schema.js';

export type { Dialect } from './dialect.js';

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Where it lives, with any password removed: safe to print. */
  description: string;
  close(): Promise<void>;
}

export interface DatabaseTarget {
  dialect: Dialect;
  /** sqlite: the file path (or ':memory:'); postgres: the connection string. */
  location: string;
}

/**
 * `sqlite:PATH`, a bare path, or `postgres://…` / `postgresql://…`. A SQLite path may start
 * with `~/` (no shell expands it after `sqlite:`); a relative one is taken from `base`, the
 * current directory unless the URL comes from a file (config.yaml: its folder, the home).
 */
export function parseDatabaseUrl(url: string, field = 'database', base = process.cwd()): DatabaseTarget {
  const local = (path: string) => resolve(base, path.startsWith('~/') ? join(homedir(), path.slice(2)) : path);
  const u = url.trim();
  if (/^postgres(ql)?:\/\//i.test(u)) {
    try {
      new URL(u);
    } catch {
      throw new ConfigError(`${field}: "${redact(u)}" is not a valid PostgreSQL URL (expected postgres://user:pass@host:5432/db)`, field);
    }
    return { dialect: 'postgres', location: u };
  }
  if (/^sqlite:/i.test(u)) {
    const path = u.replace(/^sqlite:(\/\/)?/i, '');
    if (!path) throw new ConfigError(`${field}: "sqlite:" needs a file path (expected sqlite:/path/to/smart-cron.db)`, field);
    return { dialect: 'sqlite', location: path === ':memory:' ? path : local(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    throw new ConfigError(
      `${field}: unsupported database URL scheme in "${redact(u)}" (expected sqlite:PATH or postgres://…)`,
      field,
    );
  }
  if (!u) throw new ConfigError(`${field}: empty database URL (expected sqlite:PATH or postgres://…)`, field);
  return { dialect: 'sqlite', location: local(u) };
}

/** A SQLite database whose file is not there yet (opening it would create the file and its folder). */
export function isMissingSqliteFile(target: DatabaseTarget): boolean {
  return target.dialect === 'sqlite' && target.location !== ':memory:' && !existsSync(target.location);
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

/** The database a URL names, as Database.description says it (safe to print), without opening it. */
export function describeDatabase(url: string): string {
  const target = parseDatabaseUrl(url);
  return target.dialect === 'sqlite' ? `sqlite:${target.location}` : redact(target.location);
}

/**
 * Why a PostgreSQL server could not be used, in words, with what to check. pg's error for a
 * refused connection to a name with several addresses (localhost: ::1 and 127.0.0.1) is an
 * AggregateError with an empty message: its parts say it.
 */
function unreachable(e: unknown): string {
  const err = e as Error & { code?: string; errors?: Error[] };
  const text = err.message || err.errors?.map((x) => x.message).join('; ') || err.code || String(e);
  const codes = [err.code, ...(err.errors ?? []).map((x) => (x as { code?: string }).code)];
  if (codes.some((c) => c === 'ECONNREFUSED' || c === 'ENOTFOUND' || c === 'EHOSTUNREACH' || c === 'ETIMEDOUT' || c === 'EAI_AGAIN')) return `${text} (is PostgreSQL running there, and is the host and port right?)`;
  // 28P01 wrong password, 28000 no such role or not allowed by pg_hba.conf, 3D000 no such database.
  if (err.code === '28P01' || err.code === '28000') return `${text} (check the user and password in the URL)`;
  if (err.code === '3D000') return `${text} (create it, or fix the database name in the URL)`;
  if (/timeout/i.test(text)) return `${text} (is the server reachable from here?)`;
  return text;
}

export interface OpenOptions {
  /** Run pending migrations (default true). */
  migrate?: boolean;
  /** PostgreSQL pool size (default from the URL's ?pool=, else 10). */
  poolSize?: number;
}

export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  const database = target.dialect === 'sqlite' ? await openSqlite(target.location) : await openPostgres(target.location, opts);
  if (opts.migrate !== false) await migrate(database);
  return database;
}

async function openSqlite(path: string): Promise<Database> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let native;
  try {
    native = new BetterSqlite3(path);
  } catch (e) {
    throw new UnavailableError(`database unavailable: cannot open SQLite file ${path}: ${(e as Error).message}`, 'database');
  }
  native.pragma('journal_mode = WAL');
  native.pragma('synchronous = NORMAL');
  native.pragma('foreign_keys = ON');
  native.pragma('busy_timeout = 5000');
  const db = new Kysely<DB>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(native) }) });
  return {
    db,
    dialect: 'sqlite',
    description: `sqlite:${path}`,
    close: () => db.destroy(),
  };
}

/** A postgres:// URL without the parameters that are smart-cron's (pool, statement_timeout), for pg. */
export function pgConnectionString(url: string): string {
  const u = new URL(url);
  u.searchParams.delete('pool');
  u.searchParams.delete('statement_timeout');
  return u.toString();
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Database> {
  const pg = await import('pg');
  const { Pool, types } = pg.default;
  // COUNT(*) and SUM() come back as int8/numeric text; smart-cron's numbers fit a double.
  types.setTypeParser(20, (v: string) => Number(v));
  types.setTypeParser(1700, (v: string) => Number(v));
  const u = new URL(url);
  const poolSize = opts.poolSize ?? (Number(u.searchParams.get('pool')) || 10);
  const statementTimeout = Number(u.searchParams.get('statement_timeout')) || undefined;
  const pool = new Pool({
    connectionString: pgConnectionString(url),
    max: poolSize,
    statement_timeout: statementTimeout,
    connectionTimeoutMillis: 10_000,
  });
  // A client losing its connection (the server restarting, say) must not crash the daemon: the
  // query it was running fails and is retried by its caller; the next query reconnects. pg emits
  // 'error' on idle clients through the pool, and on checked-out clients on the client itself.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => {});
    throw new UnavailableError(`database unavailable: could not connect to ${redact(url)}: ${unreachable(e)}`, 'database');
  }
  return { db, dialect: 'postgres', description: redact(url), close: () => db.destroy() };
}

export async function migrate(database: Database): Promise<void> {
  const migrator = new Migrator({
    db: database.db,
    provider: new CodeMigrationProvider(database.dialect),
    migrationTableName: 'smart_cron_migrations',
    migrationLockTableName: 'smart_cron_migrations_lock',
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's SQLite migration lock is a no-op and SQLite runs DDL migrations outside a
  // transaction: two processes opening a new database at once (a daemon and a CLI command) can
  // both start the first migration, and the loser fails on a table the winner just made. It
  // finds the migrations applied once the winner is done: retry for a while.
  for (let i = 0; error && database.dialect === 'sqlite' && i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    // No migration named: it failed before the first one, making or locking the migrations table.
    const failed = results?.find((r) => r.status === 'Error');
    const what = failed ? `database migration ${failed.migrationName}` : "setting up the database (smart-cron's migration tables, before any migration)";
    const text = (error as Error).message ?? String(error);
    const hint = /permission denied/i.test(text) ? ' (smart-cron creates and changes its own tables: the role needs to own the database, or CREATE on its schema)' : '';
    throw new SmartCronError('FAILURE', `${what} failed on ${database.description}: ${text}${hint}`, 'database');
  }
}
