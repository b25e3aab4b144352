/**
 * The data home: config.yaml (the template with its defaults), the API token and the database.
 * Made by `smart-cron init`, and on the way by the daemon's first start and by commands on a
 * fresh home; what exists is kept.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { loadConfig, parseConfigText, resolveHome } from '../config/load.js';
import { openDatabase, parseDatabaseUrl, redact } from '../storage/database.js';

export const CONFIG_TEMPLATE = `# smart-cron configuration. Every key is optional; the values shown are the defaults.
# database: sqlite:smart-cron.db            # a relative path is in the home; or postgres://user:pass@host:5432/db
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

export interface InitOptions {
  home?: string;
  /** The database to set up, and to record in a config.yaml that names none (flag or environment). */
  database?: string;
  /** This machine's node id, recorded the same way. */
  nodeId?: string;
  /**
   * Record them in a config.yaml that was there already (\`smart-cron init\` itself); a home made
   * on the way (the daemon's first start, \`jobs add\` on a fresh home) records them in the
   * config.yaml it writes only.
   */
  recordInExisting?: boolean;
}

export interface InitResult {
  home: string;
  created: string[];
  database: string;
  tokenPath: string;
  /** config.yaml keys this call wrote (database, node.id). */
  recorded: string[];
  /** Settings given that config.yaml already names otherwise: kept as the file says. */
  differs: { key: string; file: string; given: string }[];
}

/**
 * Create the home, config, API token and database; keep whatever exists already. The database
 * and node id given are written into config.yaml, so that the next command and the daemon use
 * them without the flags (a \`--database postgres://… init\` followed by a plain \`status\` used
 * to open a new SQLite file in the home).
 */
export async function initHome(opts: InitOptions): Promise<InitResult> {
  const home = resolveHome(opts);
  const created: string[] = [];
  if (!existsSync(home)) {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    created.push(home);
  }
  const configPath = join(home, 'config.yaml');
  const fresh = !existsSync(configPath);
  let settled: ReturnType<typeof recordSettings> = { text: CONFIG_TEMPLATE, recorded: [], differs: [] };
  if (fresh || opts.recordInExisting) {
    settled = recordSettings(fresh ? CONFIG_TEMPLATE : readFileSync(configPath, 'utf8'), configPath, home, opts);
  }
  if (fresh) {
    writeFileSync(configPath, settled.text, { mode: 0o600 });
    created.push(configPath);
  } else if (settled.recorded.length) {
    writeFileSync(configPath, settled.text);
  }
  const config = loadConfig({ home, database: opts.database, nodeId: opts.nodeId });
  if (!existsSync(config.tokenPath)) {
    writeFileSync(config.tokenPath, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    created.push(config.tokenPath);
  }
  chmodSync(config.tokenPath, 0o600);
  mkdirSync(config.runsDir, { recursive: true });
  const db = await openDatabase(config.database);
  await db.close();
  return { home, created, database: db.description, tokenPath: config.tokenPath, recorded: settled.recorded, differs: settled.differs };
}

/**
 * config.yaml's text with the database and node id given written in where it names none (the
 * template's commented database line becomes the setting). A value the file already names is
 * left as it is and reported: init keeps what exists. A SQLite path is written absolute (one
 * typed is the current directory's; config.yaml's would be the home's).
 */
function recordSettings(text: string, configPath: string, home: string, given: { database?: string; nodeId?: string }): { text: string; recorded: string[]; differs: InitResult['differs'] } {
  const recorded: string[] = [];
  const differs: InitResult['differs'] = [];
  parseConfigText(text, configPath); // not YAML: the error names the file, as loadConfig's would
  const doc = YAML.parseDocument(text);
  let out = text;
  if (given.database !== undefined) {
    const target = parseDatabaseUrl(given.database, '--database');
    const value = target.dialect === 'sqlite' ? `sqlite:${target.location}` : target.location;
    const inFile = doc.get('database');
    if (inFile === undefined || inFile === null) {
      const line = /^# database: .*$/m;
      if (doc.contents === null && line.test(out)) out = out.replace(line, `database: ${JSON.stringify(value)}`);
      else {
        doc.set('database', value);
        out = doc.toString();
      }
      recorded.push('database');
    } else if (typeof inFile === 'string' && !sameDatabase(inFile, value, home)) {
      differs.push({ key: 'database', file: redact(inFile), given: redact(value) });
    }
  }
  if (given.nodeId !== undefined) {
    const again = YAML.parseDocument(out);
    const inFile = again.getIn(['node', 'id']);
    if (inFile === undefined || inFile === null) {
      again.setIn(['node', 'id'], given.nodeId);
      out = again.toString();
      recorded.push('node.id');
    } else if (String(inFile) !== given.nodeId) {
      differs.push({ key: 'node.id', file: String(inFile), given: given.nodeId });
    }
  }
  return { text: out, recorded, differs };
}

function sameDatabase(inFile: string, given: string, home: string): boolean {
  try {
    return parseDatabaseUrl(inFile, 'database', home).location === parseDatabaseUrl(given).location;
  } catch {
    return false; // loadConfig names a bad one
  }
}
