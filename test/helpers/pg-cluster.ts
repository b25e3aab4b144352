/**
 * A throwaway PostgreSQL cluster: initdb into a temp dir, a free port on 127.0.0.1, the unix
 * socket in the same dir, `pg_ctl start -w`; stopped (`pg_ctl stop -m fast`) and removed when
 * the process exits, pass or fail. As root, initdb refuses to run, so the cluster runs as the
 * `postgres` system user when there is one, else `nobody`.
 *
 * No node:test import here: scripts/test.mjs uses this module to start one shared cluster
 * for a whole run.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { freePort } from './net.js';

export interface PostgresServer {
  /** Create a fresh database (once per name) and return its URL. */
  url(dbName: string): Promise<string>;
  /** The URL of the maintenance database `postgres` (for admin work). */
  adminUrl: string;
  port: number;
  /** Stop the server and remove its files. Safe to call twice. */
  stop(): Promise<void>;
  /** Stop and start the server on the same port and data (connections drop). */
  restart(): Promise<void>;
  /** Stop only (data kept), for tests of a database going away; restart() brings it back. */
  halt(): Promise<void>;
}

const REQUIRED = ['postgres', 'initdb', 'pg_ctl'];

function hasAll(dir: string): boolean {
  return REQUIRED.every((b) => existsSync(join(dir, b)));
}

/** The directory holding postgres, initdb and pg_ctl, or null when this machine has no server. */
export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string | null {
  // SMART_CRON_TEST_POSTGRES_BIN: a bin directory to use, or "none" to act as if there were no server.
  const forced = env.SMART_CRON_TEST_POSTGRES_BIN;
  if (forced) return forced === 'none' || !hasAll(forced) ? null : forced;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, 'postgres');
    if (!existsSync(p)) continue;
    // /usr/local/bin/postgres is often a symlink into /usr/lib/postgresql/N/bin; initdb lives beside the target.
    for (const d of [dirname(realpathSync(p)), dir]) if (hasAll(d)) return d;
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const d = join(root, v, 'bin');
      if (hasAll(d)) return d;
    }
  }
  return null;
}


/** The unprivileged user to run the cluster as when we are root; null when we are not root. */
function clusterUser(): { name: string; uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    if (line) {
      const [, , uid, gid] = line.split(':');
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error('running as root and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
}

function run(bin: string, args: string[], user: string | null): SpawnSyncReturns<string> {
  const [cmd, argv] = user ? ['runuser', ['-u', user, '--', bin, ...args]] : [bin, args];
  // LC_ALL=C: initdb refuses some inherited locales; cwd '/': the unprivileged user may not read ours.
  return spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/', env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, timeout: 120_000 });
}

function check(r: SpawnSyncReturns<string>, what: string, logFile?: string): void {
  if (r.status === 0) return;
  let log = '';
  if (logFile && existsSync(logFile)) log = `\n--- server log ---\n${readFileSync(logFile, 'utf8').slice(-4000)}`;
  throw new Error(`${what} failed (exit ${r.status ?? r.signal}): ${r.error?.message ?? ''}${r.stderr}${r.stdout}${log}`);
}

const live = new Set<() => void>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const stopAll = () => {
    for (const stop of [...live]) stop();
  };
  process.on('exit', stopAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stopAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Start a throwaway cluster. Throws when no server binary exists (see findPostgresBinDir). */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBinDir();
  if (!bin) throw new Error('no postgres binary found (looked on PATH and under /usr/lib/postgresql/*/bin)');
  const user = clusterUser();
  const dir = mkdtempSync(join(tmpdir(), 'smart-cron-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const who = user?.name ?? null;
  let stopped = false;
  let running = false;

  const pgCtl = (args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, ...args], who);
  const stopSync = (mode: 'fast' | 'immediate') => {
    if (running) {
      pgCtl(['stop', '-m', mode, '-w']);
      running = false;
    }
  };
  const cleanup = () => {
    if (stopped) return;
    stopped = true;
    live.delete(cleanup);
    stopSync('fast');
    rmSync(dir, { recursive: true, force: true });
  };
  hookExit();
  live.add(cleanup);

  try {
    check(
      run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '-N'], who),
      'initdb',
    );
  } catch (e) {
    cleanup();
    throw e;
  }

  let port = 0;
  const start = async () => {
    const opts = (p: number) =>
      `-p ${p} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    let last: SpawnSyncReturns<string> | undefined;
    // The free port can be taken between probing and binding: try a few.
    for (let i = 0; i < 5; i++) {
      const p = port || (await freePort());
      last = pgCtl(['start', '-w', '-t', '60', '-l', logFile, '-o', opts(p)]);
      if (last.status === 0) {
        port = p;
        running = true;
        return;
      }
      if (port) break; // a restart must keep its port
    }
    check(last!, 'pg_ctl start', logFile);
  };
  try {
    await start();
  } catch (e) {
    cleanup();
    throw e;
  }

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const createdDbs = new Map<string, string>();
  return {
    port,
    adminUrl,
    async url(dbName: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) throw new Error(`bad test database name "${dbName}" (lowercase, digits, _)`);
      const known = createdDbs.get(dbName);
      if (known) return known;
      await createDatabase(adminUrl, dbName);
      const url = `postgres://postgres@127.0.0.1:${port}/${dbName}`;
      createdDbs.set(dbName, url);
      return url;
    },
    async stop() {
      cleanup();
    },
    async halt() {
      stopSync('fast');
    },
    async restart() {
      stopSync('fast');
      await start();
    },
  };
}

/** CREATE DATABASE through the maintenance database. */
export async function createDatabase(adminUrl: string, dbName: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await client.end();
  }
}
