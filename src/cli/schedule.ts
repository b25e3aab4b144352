import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { CliContext } from './context.js';
import { formatNext, nextCommand } from './next.js';
import { print, printJson } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('next')
    .description('the next run times of a cron expression (a schedule calculator; DST-aware)')
    .argument('<expr>', 'cron expression (5 or 6 fields) or a macro such as @daily; quote it')
    .option('--timezone <tz>', "IANA timezone (default: the home's, config.yaml timezone, else the machine's)")
    .option('--from <iso>', 'start from this instant instead of now (ISO 8601)')
    .option('--count <n>', 'how many run times (1-1000)', '5')
    .action((expr: string, o: { timezone?: string; from?: string; count?: string }) => {
      // Without --timezone, the zone a job without one runs in: the home's, not this shell's TZ.
      const r = nextCommand(expr, { ...o, timezone: o.timezone || loadConfig({ home: ctx.globals().home }).timezone });
      if (ctx.globals().json) return printJson(r);
      print(formatNext(r));
    });
}
