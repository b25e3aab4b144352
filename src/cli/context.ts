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
}

export function makeContext(program: Command): CliContext {
  const globals = () => program.opts<GlobalOptions>();
  return {
    globals,
    async withApp(fn) {
      const g = globals();
      const app = await openApp({ home: g.home, database: g.database, nodeId: g.nodeId });
      // What this command changes, the daemons' open dashboards hear of (on PostgreSQL; on SQLite the daemon notices).
      const changes: { id: number; change: string }[] = [];
      app.jobs.on('changed', (e) => changes.push({ id: e.id, change: e.change }));
      try {
        return await fn(app);
      } finally {
        await announceJobChanges(app.database, changes, `cli-${process.pid}`).catch(() => {});
        await app.close();
      }
    },
  };
}

/** Repeatable option collector: `--tag a --tag b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
