import { join } from 'node:path';
import type { Command } from 'commander';
import { envSetting } from '../config/load.js';
import { initHome } from '../daemon/home.js';
import type { CliContext } from './context.js';
import { print, printJson } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('create the data home: config.yaml with the defaults, the API token and the database')
    .action(async () => {
      const g = ctx.globals();
      const r = await initHome({
        home: g.home,
        database: g.database ?? envSetting(process.env, 'SMART_CRON_DATABASE_URL'),
        nodeId: g.nodeId ?? envSetting(process.env, 'SMART_CRON_NODE_ID'),
        recordInExisting: true,
      });
      for (const d of r.differs) {
        process.stderr.write(`note: ${join(r.home, 'config.yaml')} names ${d.key} ${d.file}, kept; this command used ${d.given} (edit config.yaml to change it)\n`);
      }
      if (g.json) return printJson(r);
      print(`smart-cron home: ${r.home}`);
      print(`database:        ${r.database}`);
      print(`API token:       ${r.tokenPath} (mode 0600)`);
      if (r.recorded.length) print(`config.yaml:     ${r.recorded.join(' and ')} recorded (later commands and the daemon use ${r.recorded.length === 1 ? 'it' : 'them'} without the flag${r.recorded.length === 1 ? '' : 's'})`);
      if (r.created.length) print(`created: ${r.created.join(', ')}`);
      else if (!r.recorded.length) print('everything was there already; nothing changed');
      print('next: `smart-cron jobs add NAME --schedule "*/5 * * * *" --command "…"`, or `smart-cron discover DIR`');
    });
}
