/**
 * The PostgreSQL test harness and `forEachDatabase`: the same test code against a fresh SQLite
 * file and a fresh PostgreSQL database, so the storage suites are one code path for both.
 *
 * Where the server comes from: scripts/test.mjs starts one cluster for the whole run and passes
 * its admin URL in SMART_CRON_TEST_PG_ADMIN_URL; a test file run on its own starts its own cluster
 * (once per process). Every test gets its own database, so files running at once never collide.
 * No server binary: the PostgreSQL variants are skipped loudly, or fail when
 * SMART_CRON_REQUIRE_POSTGRES=1 (CI).
 */
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openDatabase, type Database, type Dialect, type OpenOptions } from '../../src/storage/database.js';
import { createDatabase, findPostgresBinDir, startPostgres, type PostgresServer } from './pg-cluster.js';
import { tempDir } from './tmp.js';

export { startPostgres, findPostgresBinDir, type PostgresServer } from './pg-cluster.js';

export const SKIP_MESSAGE = 'PostgreSQL suite SKIPPED: no postgres binary found';
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export function postgresRequired(): boolean {
  return process.env.SMART_CRON_REQUIRE_POSTGRES === '1';
}

/** True when a PostgreSQL server can be used (shared one from the runner, or a local binary). */
export function postgresAvailable(): boolean {
  return Boolean(process.env.SMART_CRON_TEST_PG_ADMIN_URL) || findPostgresBinDir() !== null;
}

let shared: Promise<{ url(name: string): Promise<string> }> | undefined;

function sharedServer(): Promise<{ url(name: string): Promise<string> }> {
  if (!shared) {
    const admin = process.env.SMART_CRON_TEST_PG_ADMIN_URL;
    if (admin) {
      const u = new URL(admin);
      shared = Promise.resolve({
        async url(name: string) {
          await createDatabase(admin, name);
          u.pathname = `/${name}`;
          return u.toString();
        },
      });
    } else {
      shared = startPostgres() as Promise<PostgresServer>;
    }
  }
  return shared;
}

let counter = 0;
let warned = false;

function warnSkipped(): void {
  if (warned) return;
  warned = true;
  const bar = '!'.repeat(SKIP_MESSAGE.length + 8);
  process.stderr.write(`\n${bar}\n!!! ${SKIP_MESSAGE} !!!\n${bar}\n\n`);
}

/**
 * A URL to a fresh, empty database of the given dialect, or null when PostgreSQL is unavailable
 * and not required (the caller skips). Throws when it is required but missing.
 */
export async function freshDatabaseUrl(dialect: Dialect, label = 'db'): Promise<string | null> {
  const n = ++counter;
  if (dialect === 'sqlite') return `sqlite:${join(tempDir('smart-cron-sqlite-'), `${label.replace(/[^a-z0-9_-]/gi, '_')}.db`)}`;
  if (!postgresAvailable()) {
    if (postgresRequired()) {
      throw new Error("SMART_CRON_REQUIRE_POSTGRES=1 and no postgres binary found (PATH, /usr/lib/postgresql/*/bin): the PostgreSQL suite may not be skipped");
    }
    warnSkipped();
    return null;
  }
  const server = await sharedServer();
  return server.url(`t${process.pid}_${n}`);
}

export interface TestDb {
  dialect: Dialect;
  url: string;
  /** Opened (and migrated, unless migrate: false) for this test; closed after it. */
  database: Database;
  /** Another connection (pool) to the same database; closed after the test. */
  open(opts?: OpenOptions): Promise<Database>;
}

export interface ForEachOptions {
  migrate?: boolean;
  timeout?: number;
  /** Run only on these dialects. */
  only?: Dialect[];
}

/** Register `name [sqlite]` and `name [postgres]`, each on a fresh database. */
export function forEachDatabase(name: string, fn: (db: TestDb, t: TestContext) => Promise<void>, options: ForEachOptions = {}): void {
  for (const dialect of options.only ?? DIALECTS) {
    test(`${name} [${dialect}]`, { timeout: options.timeout ?? 60_000 }, async (t) => {
      const url = await freshDatabaseUrl(dialect, name.slice(0, 40));
      if (url === null) {
        t.skip(SKIP_MESSAGE);
        return;
      }
      const opened: Database[] = [];
      const open = async (opts: OpenOptions = {}) => {
        const d = await openDatabase(url, { migrate: options.migrate, ...opts });
        opened.push(d);
        return d;
      };
      try {
        const database = await open();
        await fn({ dialect, url, database, open }, t);
      } finally {
        for (const d of opened.reverse()) await d.close().catch(() => {});
      }
    });
  }
}
