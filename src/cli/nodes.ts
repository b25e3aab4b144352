import type { Command } from 'commander';
import { NodesRepo } from '../storage/repos/nodes.js';
import type { CliContext } from './context.js';
import { formatTable, print, printJson, when } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('nodes')
    .description('the daemons sharing this database: heartbeat, status and live load')
    .action(async () => {
      await ctx.withApp(async (app) => {
        const now = app.clock.now();
        const { leaseMs } = app.config;
        const rows = await new NodesRepo(app.database.db).overview(now, leaseMs);
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print('no nodes yet (each daemon registers itself when it starts)');
        print(
          formatTable(rows, [
            { header: 'node', get: (r) => r.id },
            { header: 'status', get: (r) => r.status },
            { header: 'heartbeat', get: (r) => when(r.heartbeat_at, now) },
            { header: 'running', get: (r) => r.running_runs, align: 'right' },
            { header: 'reserved', get: (r) => `${Math.round(r.reserved_memory_mb)} MB`, align: 'right' },
            { header: 'enforcement', get: (r) => r.enforcement },
            { header: 'labels', get: (r) => Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(',') },
            { header: 'version', get: (r) => r.version },
          ]),
        );
      });
    });
}
