/**
 * `smart-cron nodes`: the daemons sharing this database; `nodes remove ID` forgets one that is
 * gone for good (a machine retired, a node id mistyped once). A node's row stays after its
 * daemon stops, so that `nodes` can say it stopped; without removal such rows stayed for ever.
 */
import type { Command } from 'commander';
import { ConflictError, NotFoundError } from '../errors.js';
import { isStale, NodesRepo, STALE_AFTER_MS } from '../storage/repos/nodes.js';
import type { CliContext } from './context.js';
import { formatTable, print, printJson, relative, when } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  const nodes = program
    .command('nodes')
    .description('the daemons sharing this database: heartbeat, status and live load (`nodes remove ID` forgets a stale one)')
    .action(async () => {
      await ctx.withApp(async (app) => {
        const now = app.clock.now();
        const { leaseMs } = app.config;
        const rows = (await new NodesRepo(app.database.db).overview(now, leaseMs)).map((r) => ({ ...r, stale: isStale(r, now) }));
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print('no nodes yet (each daemon registers itself when it starts)');
        print(
          formatTable(rows, [
            { header: 'node', get: (r) => r.id },
            { header: 'status', get: (r) => (r.stale ? `${r.status}, stale` : r.status) },
            { header: 'heartbeat', get: (r) => when(r.heartbeat_at, now) },
            { header: 'running', get: (r) => r.running_runs, align: 'right' },
            { header: 'reserved', get: (r) => `${Math.round(r.reserved_memory_mb)} MB`, align: 'right' },
            { header: 'enforcement', get: (r) => r.enforcement },
            { header: 'labels', get: (r) => Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(',') },
            { header: 'version', get: (r) => r.version },
          ]),
        );
        const stale = rows.filter((r) => r.stale);
        if (stale.length) {
          print(`(stale: ${stale.map((r) => r.id).join(', ')}: not up for over ${relative(STALE_AFTER_MS).replace(/^in /, '')}; \`smart-cron nodes remove ID\` forgets a node, its runs stay in the history)`);
        }
      });
    });

  nodes
    .command('remove')
    .description('forget a node that is gone (not up, no running runs); its runs stay in the history')
    .argument('<id>', 'the node id, as `nodes` lists it')
    .action(async (id: string) => {
      await ctx.withApp(async (app) => {
        const now = app.clock.now();
        const all = await new NodesRepo(app.database.db).overview(now, app.config.leaseMs);
        const node = all.find((n) => n.id === id);
        if (!node) throw new NotFoundError(`nodes remove: no node "${id}" (${all.length ? `the nodes: ${all.map((n) => n.id).join(', ')}` : 'no node has registered yet'})`, 'id');
        if (node.status === 'up') {
          throw new ConflictError(`nodes remove: node ${id} is up (heartbeat ${when(node.heartbeat_at, now)}): stop its daemon first (a node that stops answering reads unresponsive after node.lease_seconds)`, 'id');
        }
        const running = await app.database.db.selectFrom('smart_cron_job_history').select('id').where('node', '=', id).where('status', '=', 'running').orderBy('id').execute();
        if (running.length) {
          const ids = running.map((r) => `#${r.id}`).join(', ');
          throw new ConflictError(
            `nodes remove: node ${id} has ${running.length} running run${running.length === 1 ? '' : 's'} (${ids}): the next daemon with that node id adopts ${running.length === 1 ? 'it' : 'them'}, or another node marks ${running.length === 1 ? 'it' : 'them'} lost once ${id} is down; remove it after that`,
            'id',
          );
        }
        await app.database.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('smart_cron_execution_slots').where('node', '=', id).execute();
          await trx.deleteFrom('smart_cron_leases').where('holder', '=', id).execute();
          await trx.deleteFrom('smart_cron_nodes').where('id', '=', id).execute();
        });
        if (ctx.globals().json) return printJson({ removed: id, status: node.status, heartbeat_at: node.heartbeat_at });
        print(`removed node ${id} (${node.status}, last heartbeat ${when(node.heartbeat_at, now)}); its runs stay in the history`);
      });
    });
}
