import type { Command } from 'commander';
import { openApp, type App } from '../daemon/app.js';

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
      try {
        return await fn(app);
      } finally {
        await app.close();
      }
    },
  };
}

/** Repeatable option collector: `--tag a --tag b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
