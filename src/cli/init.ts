import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, resolveHome } from '../config/load.js';
import { openDatabase } from '../storage/database.js';
import type { CliContext } from './context.js';
import { print, printJson } from './output.js';

export const CONFIG_TEMPLATE = `# smart-cron configuration. Every key is optional; the values shown are the defaults.
# database: sqlite:<home>/smart-cron.db     # or postgres://user:pass@host:5432/db
# api: { host: 127.0.0.1, port: 7420 }
# host:
#   reserve_mb: auto                         # memory kept free for the host: auto = max(10 % of RAM, 1024)
#   psi_veto: 10                             # memory pressure (PSI some avg10 %) that holds new runs back
# slots:
#   default: { max_concurrent_jobs: 5,  max_memory_mb: 3072, max_cpu_percent: 80 }
#   heavy:   { max_concurrent_jobs: 2,  max_memory_mb: 4096, max_cpu_percent: 90 }
#   light:   { max_concurrent_jobs: 10, max_memory_mb: 1024, max_cpu_percent: 50 }
# execution: { enforcement: auto, sample_interval_ms: 100, kill_grace_seconds: 10, start_lead_ms: 750 }
# alerts:
#   email: { smtp_url: "smtp://127.0.0.1:25", from: "smart-cron@localhost", to: [] }
#   webhooks: []                             # [{ url, format: json|slack }]
#   high_duration_factor: 2                  # a run is slow over 2 x its baseline duration…
#   high_duration_min_excess_seconds: 1      # …and at least 1 s over it (0: the factor alone)
#   high_memory_factor: 1.5                  # high memory over 1.5 x its baseline peak…
#   high_memory_min_excess_mb: 16            # …and at least 16 MB over it (0: the factor alone)
# retention: { history_days: 90, max_runs_per_job: 10000 }
`;

/** Create the home, config, API token and database; keep whatever exists already. */
export async function initHome(opts: { home?: string; database?: string }): Promise<{ home: string; created: string[]; database: string; tokenPath: string }> {
  const home = resolveHome(opts);
  const created: string[] = [];
  if (!existsSync(home)) {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    created.push(home);
  }
  const configPath = join(home, 'config.yaml');
  if (!existsSync(configPath)) {
    writeFileSync(configPath, CONFIG_TEMPLATE, { mode: 0o600 });
    created.push(configPath);
  }
  const config = loadConfig({ home, database: opts.database });
  if (!existsSync(config.tokenPath)) {
    writeFileSync(config.tokenPath, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    created.push(config.tokenPath);
  }
  chmodSync(config.tokenPath, 0o600);
  mkdirSync(config.runsDir, { recursive: true });
  const db = await openDatabase(config.database);
  await db.close();
  return { home, created, database: db.description, tokenPath: config.tokenPath };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('create the data home: config.yaml with the defaults, the API token and the database')
    .action(async () => {
      const g = ctx.globals();
      const r = await initHome({ home: g.home, database: g.database });
      if (g.json) return printJson(r);
      print(`smart-cron home: ${r.home}`);
      print(`database:        ${r.database}`);
      print(`API token:       ${r.tokenPath} (mode 0600)`);
      print(r.created.length ? `created: ${r.created.join(', ')}` : 'everything was there already; nothing changed');
      print('next: `smart-cron jobs add NAME --schedule "*/5 * * * *" --command "…"`, or `smart-cron discover DIR`');
    });
}
