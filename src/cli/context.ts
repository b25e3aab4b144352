import type { Command } from 'commander';
import { openApp, type App } from '../daemon/app.js';
import { announceJobChanges } from '../daemon/outside-writes.js';

export interface GlobalOptions {
  home?: string;
  database?: string;
  nodeId?: string;
  json?: boolean;
}

export interface CliContext {
  /** The global flags, read from the root program. */
  globals(): GlobalOptions;
  /** Open the app (config, database, job manager), run fn, and close it again. */
  withApp<T>(fn: (app: App) => Promise<T>): Promise<T>;
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
    async withApp(fn) {
      const g = globals();
      const app = await openApp({ home: g.home, database: g.database, nodeId: g.nodeId });
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
