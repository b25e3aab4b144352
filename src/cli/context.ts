import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { openApp, type App } from '../daemon/app.js';
import { announceJobChanges } from '../daemon/outside-writes.js';
import { isMissingSqliteFile, parseDatabaseUrl } from '../storage/database.js';

export interface GlobalOptions {
  home?: string;
  database?: string;
  nodeId?: string;
  json?: boolean;
}

export interface CliContext {
  /** The global flags, read from the root program. */
  globals(): GlobalOptions;
  /**
   * Open the app (config, database, job manager), run fn, and close it again. A dry run (which
   * promises to write nothing) on a home whose SQLite database does not exist yet works on an
   * empty registry in memory instead of creating the home and its database.
   */
  withApp<T>(fn: (app: App) => Promise<T>, opts?: { dryRun?: boolean }): Promise<T>;
  /**
   * Inside withApp: a change to a job made other than through the JobManager (its dependency
   * links), for the daemons' open dashboards, as the JobManager's own changes are.
   */
  announce(id: number, change: string): void;
}

export function makeContext(program: Command): CliContext {
  const globals = () => program.opts<GlobalOptions>();
  // What the command in progress changes, the daemons' open dashboards hear of (on PostgreSQL; on SQLite the daemon notices).
  let changes: { id: number; change: string }[] = [];
  return {
    globals,
    async withApp(fn, opts = {}) {
      const g = globals();
      const config = loadConfig({ home: g.home, database: g.database, nodeId: g.nodeId });
      const nothingYet = opts.dryRun === true && isMissingSqliteFile(parseDatabaseUrl(config.database));
      const app = await openApp({ config: nothingYet ? { ...config, database: 'sqlite::memory:' } : config });
      changes = [];
      app.jobs.on('changed', (e) => changes.push({ id: e.id, change: e.change }));
      try {
        return await fn(app);
      } finally {
        await announceJobChanges(app.database, changes, `cli-${process.pid}`).catch(() => {});
        await app.close();
      }
    },
    announce(id, change) {
      changes.push({ id, change });
    },
  };
}

/** Repeatable option collector: `--tag a --tag b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
