/**
 * Fuzz the text parsers and validators with thousands of generated inputs: cron expressions
 * (parseSchedule + nextRun), crontab files (parseCrontab, entryToJob), config files
 * (parseConfigText / validateConfig / loadConfig), job definitions (validateJobDefinition,
 * validateJobPatch). Nothing may crash: every rejection is a SmartCronError with a message
 * and the field it is about. The seed is printed; replay with SMART_CRON_FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig, parseConfigText, validateConfig } from '../../src/config/load.js';
import { entryToJob } from '../../src/discovery/crontab-import.js';
import { parseCrontab } from '../../src/discovery/crontab.js';
import { SmartCronError } from '../../src/errors.js';
import { JobFields, validateJobDefinition, validateJobPatch } from '../../src/jobs/definition.js';
import { parseSchedule } from '../../src/schedule/cron.js';
import { tempDir } from '../helpers/tmp.js';
import { cases, chance, fuzzSeed, int, mulberry32, NASTY_NUMBERS, NASTY_STRINGS, pick, randJson, randString, type Rng } from './gen.js';

const SEED = fuzzSeed();
// The yaml library warns (process.emitWarning) about odd but legal input; thousands of them are noise here.
process.removeAllListeners('warning');
process.stdout.write(`# fuzz seed ${SEED} (replay: SMART_CRON_FUZZ_SEED=${SEED})\n`);

/** Run fn; a throw must be a SmartCronError naming a field with a message. Returns the error or null. */
function expectCleanRejection(what: string, input: unknown, fn: () => unknown): SmartCronError | null {
  try {
    fn();
    return null;
  } catch (e) {
    const show = typeof input === 'string' ? JSON.stringify(input.slice(0, 300)) : JSON.stringify(input, (_k, v) => (typeof v === 'string' && v.length > 100 ? `${v.slice(0, 100)}…` : v))?.slice(0, 400);
    assert.ok(e instanceof SmartCronError, `${what}: ${show} threw a non-SmartCronError (seed ${SEED}): ${(e as Error)?.stack ?? e}`);
    assert.ok(e.message.length > 0, `${what}: ${show}: empty message`);
    // The field is named; an empty key ("": 1) is named as "" in the message.
    assert.ok(typeof e.field === 'string' && (e.field.length > 0 || e.message.includes('""')), `${what}: ${show}: the error names no field: ${e.message}`);
    return e;
  }
}

// ------------------------------------------------------------------ cron expressions

const CRON_ATOMS = ['*', '?', 'L', 'W', '1W', 'LW', '5L', 'L-3', '1#2', 'MON#5', 'MON', 'sun', 'JAN', 'dec', '0', '59', '60', '61', '23', '24', '31', '32', '7', '8', '13', '-1', '99999999999999999999', '1e3', '0x1', '', ' '];
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@reboot', '@every', '@', '@DAILY', '@minutely'];
const ZONES = [undefined, null, 'UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Apia', 'Asia/Kathmandu', '', 'Mars/Olympus', '../../etc/passwd', 'UTC+5', 'Etc/GMT+14', 'europe/berlin', '💥', 'a'.repeat(300)];

const VALID_CRON = ['* * * * *', '*/5 * * * *', '0 3 * * *', '30 2 * * 1-5', '0 0 1 * *', '@daily', '@reboot', '@hourly', '15 14 1 * *', '0 22 * * 1-5', '5 4 * * sun', '0 */2 * * *', '0 0 */2 * MON'];

function cronField(r: Rng): string {
  const k = int(r, 0, 9);
  if (k === 0) return pick(r, CRON_ATOMS);
  if (k === 1) return `*/${pick(r, [0, 1, 2, 5, 7, 15, 60, 61, 1000, -1])}`;
  if (k === 2) return `${int(r, -2, 62)}-${int(r, -2, 62)}`;
  if (k === 3) return `${int(r, 0, 60)}-${int(r, 0, 60)}/${int(r, 0, 30)}`;
  if (k === 4) return Array.from({ length: int(r, 1, 5) }, () => String(int(r, 0, 61))).join(',');
  if (k === 5) return randString(r, 6);
  if (k === 6) return `${pick(r, CRON_ATOMS)},${pick(r, CRON_ATOMS)}`;
  return String(int(r, 0, 59));
}

function cronExpr(r: Rng): string {
  if (chance(r, 0.1)) return pick(r, MACROS) + (chance(r, 0.2) ? ` ${randString(r, 5)}` : '');
  if (chance(r, 0.05)) return randString(r, 60);
  const n = pick(r, [5, 5, 5, 6, 6, 0, 1, 4, 7, 8]);
  const sep = () => pick(r, [' ', ' ', ' ', '  ', '\t', ' \n ']);
  return Array.from({ length: n }, () => cronField(r)).join(sep());
}

test('cron expressions: parseSchedule and nextRun never crash; rejections name the field', { timeout: 120_000 }, () => {
  const r = mulberry32(SEED);
  let ok = 0;
  let rejected = 0;
  const t0 = Date.now();
  for (let i = 0; i < cases(2000); i++) {
    const expr = chance(r, 0.15) ? pick(r, VALID_CRON) : cronExpr(r);
    const tz = pick(r, ZONES);
    let sched: ReturnType<typeof parseSchedule> | null = null;
    const err = expectCleanRejection('parseSchedule', { expr, tz }, () => (sched = parseSchedule(expr, tz)));
    if (err) {
      rejected++;
      assert.ok(['schedule', 'timezone'].includes(err.field!), `parseSchedule ${JSON.stringify({ expr, tz })}: field ${err.field}`);
      continue;
    }
    ok++;
    const s = sched as unknown as ReturnType<typeof parseSchedule>;
    // The next runs exist, are strictly increasing and strictly after "from".
    const from = pick(r, [Date.UTC(2026, 2, 29, 0, 30), Date.UTC(2026, 9, 25, 0, 30), Date.UTC(2024, 1, 29), Date.UTC(2099, 11, 31, 23, 59, 59), 0, Date.UTC(2026, 0, 1) + int(r, 0, 365 * 86400) * 1000]);
    const runs = s.nextRuns(from, 5);
    let prev = from;
    for (const t of runs) {
      assert.ok(Number.isFinite(t) && t > prev, `${JSON.stringify({ expr, tz, from })}: next runs not increasing: ${runs}`);
      prev = t;
    }
  }
  process.stdout.write(`# cron: ${ok} accepted, ${rejected} rejected in ${Date.now() - t0} ms\n`);
  assert.ok(ok > 50 && rejected > 100, 'the generator covers both accepted and rejected expressions');
});

// ------------------------------------------------------------------ crontab files

function crontabLine(r: Rng, system: boolean): string {
  const k = int(r, 0, 11);
  if (k === 0) return '';
  if (k === 1) return `# ${randString(r, 30)}`;
  if (k === 2) return `${pick(r, ['SHELL', 'PATH', 'MAILTO', 'CRON_TZ', 'TZ', 'HOME', 'X', '1BAD', 'A B'])}${pick(r, ['=', ' = ', '=  '])}${pick(r, ['"/bin/bash"', "'x'", '', 'Europe/Berlin', 'Nowhere/Zone', randString(r, 15)])}`;
  if (k === 3) return randString(r, 80);
  if (k === 4) return `# ${cronExpr(r)} ${system ? 'root ' : ''}/usr/bin/thing --flag`;
  if (k === 5) return `#[smart-cron ${randString(r, 12)}] ${cronExpr(r)} cmd`;
  if (k === 6) return `# |  |  |  |  |`;
  const user = system ? `${pick(r, ['root', 'www-data', 'nobody', '', 'Bad User', '0', '💥'])} ` : '';
  const cmd = pick(r, ['/usr/bin/true', 'cd /srv && php artisan schedule:run >> /dev/null 2>&1', 'echo "a%b%c"', 'printf 50\\%', '%', 'mysqldump db | gzip > /tmp/$(date +\\%F).gz', '../../etc/passwd', '', ' ', randString(r, 40), 'a'.repeat(5000)]);
  const when = chance(r, 0.6) ? pick(r, VALID_CRON) : cronExpr(r);
  return `${when}${pick(r, [' ', '\t', '   '])}${user}${cmd}`;
}

test('crontab files: parseCrontab never throws; imported entries validate or are rejected cleanly', { timeout: 120_000 }, () => {
  const r = mulberry32(SEED ^ 0x9e3779b9);
  let entries = 0;
  let problems = 0;
  const t0 = Date.now();
  for (let i = 0; i < cases(250); i++) {
    const system = chance(r, 0.4);
    const eol = pick(r, ['\n', '\r\n', '\n\n']);
    const text = Array.from({ length: int(r, 0, 12) }, () => crontabLine(r, system)).join(eol) + (chance(r, 0.5) ? eol : '');
    let parsed: ReturnType<typeof parseCrontab>;
    try {
      parsed = parseCrontab(text, { file: '/etc/cron.d/fuzz', system });
    } catch (e) {
      assert.fail(`parseCrontab threw (seed ${SEED}, system ${system}) on ${JSON.stringify(text.slice(0, 500))}: ${(e as Error).stack}`);
    }
    for (const p of parsed.problems) {
      problems++;
      assert.ok(typeof p.reason === 'string' && p.reason.length > 0, `problem without a reason: ${JSON.stringify(p)}`);
      assert.ok(p.line >= 1, `problem line ${p.line}`);
    }
    for (const e of parsed.entries) {
      entries++;
      // Every entry parseCrontab accepts has a schedule parseSchedule accepts.
      expectCleanRejection('parseSchedule(entry)', e, () => parseSchedule(e.schedule, e.timezone));
      let job: ReturnType<typeof entryToJob> | undefined;
      try {
        job = entryToJob(e, '/etc/cron.d/fuzz', 'fuzz');
      } catch (err) {
        assert.ok(err instanceof SmartCronError, `entryToJob threw a non-SmartCronError on ${JSON.stringify(e.raw)}: ${(err as Error).stack}`);
      }
      if (job) expectCleanRejection('validateJobDefinition(imported)', job.def, () => validateJobDefinition(job!.def));
    }
  }
  process.stdout.write(`# crontab: ${entries} entries, ${problems} problems in ${Date.now() - t0} ms\n`);
  assert.ok(entries > 50 && problems > 50);
});

// ------------------------------------------------------------------ config files

const CONFIG_SHAPE: Record<string, string[]> = {
  api: ['host', 'port', 'allow_remote', 'public_url'],
  host: ['reserve_mb', 'psi_veto'],
  execution: ['enforcement', 'sample_interval_ms', 'kill_grace_seconds', 'output_tail_bytes', 'log_max_bytes', 'start_lead_ms'],
  node: ['labels', 'heartbeat_seconds', 'lease_seconds'],
  alerts: ['email', 'webhooks', 'retry_backoff_ms', 'rate_limit_per_hour', 'missed_grace_seconds', 'hanging_factor', 'consecutive_failure_threshold'],
  retention: ['history_days', 'max_runs_per_job'],
};

function configValue(r: Rng): unknown {
  return pick(r, [() => pick(r, NASTY_NUMBERS), () => int(r, -10, 100_000), () => randString(r, 20), () => 'auto', () => chance(r, 0.5), () => null, () => randJson(r, 2), () => [], () => ({})])();
}

function configDoc(r: Rng): unknown {
  if (chance(r, 0.05)) return randJson(r);
  const doc: Record<string, unknown> = {};
  for (const [section, keys] of Object.entries(CONFIG_SHAPE)) {
    if (!chance(r, 0.4)) continue;
    if (chance(r, 0.1)) {
      doc[section] = configValue(r);
      continue;
    }
    const o: Record<string, unknown> = {};
    for (const k of keys) if (chance(r, 0.3)) o[k] = configValue(r);
    if (chance(r, 0.1)) o[randString(r, 8)] = configValue(r);
    doc[section] = o;
  }
  if (chance(r, 0.4)) {
    const slots: Record<string, unknown> = {};
    for (let i = int(r, 0, 3); i > 0; i--) {
      const name = pick(r, ['default', 'heavy', 'light', 'custom', 'Bad', '', '../x', 'a'.repeat(40), '💥', randString(r, 8)]);
      slots[name] = chance(r, 0.2) ? configValue(r) : { max_concurrent_jobs: configValue(r), max_memory_mb: configValue(r), max_cpu_percent: configValue(r) };
    }
    doc.slots = chance(r, 0.1) ? configValue(r) : slots;
  }
  if (chance(r, 0.2)) doc.database = pick(r, ['sqlite:/tmp/x.db', 'postgres://u@h/db', '', 'mysql://x', randString(r, 20), 5]);
  if (chance(r, 0.1)) doc[randString(r, 10)] = configValue(r);
  return doc;
}

function yamlText(r: Rng, doc: unknown): string {
  let text: string;
  try {
    text = stringify(doc);
  } catch {
    text = String(doc);
  }
  if (chance(r, 0.3)) {
    // Mutate the text: cut it, insert a random character or a broken construct.
    const at = int(r, 0, text.length);
    text = text.slice(0, at) + pick(r, ['', ':', '- ', '{', '[', '"', '\t', '&a', '*a', '!!binary ', '? ', '\0', '%YAML 9.9\n', '<<: *x', randString(r, 5)]) + text.slice(chance(r, 0.5) ? at : int(r, at, text.length));
  }
  return text;
}

test('config files: parseConfigText, validateConfig and loadConfig reject bad files with a ConfigError naming the field', { timeout: 120_000 }, () => {
  const r = mulberry32(SEED ^ 0x85ebca6b);
  const home = tempDir('smart-cron-fuzz-config-');
  let ok = 0;
  let rejected = 0;
  const t0 = Date.now();
  for (let i = 0; i < cases(700); i++) {
    const doc = configDoc(r);
    const text = yamlText(r, doc);
    const viaFile = i % 5 === 0;
    const err = viaFile
      ? expectCleanRejection('loadConfig', text, () => {
          writeFileSync(join(home, 'config.yaml'), text);
          loadConfig({ home, env: {}, nodeId: 'fuzz' });
        })
      : expectCleanRejection('parse+validate', text, () => validateConfig(parseConfigText(text, 'config.yaml'), 'config.yaml'));
    if (err) {
      rejected++;
      assert.equal(err.code, 'CONFIG', `config rejection with code ${err.code}: ${err.message}`);
    } else ok++;
  }
  process.stdout.write(`# config: ${ok} accepted, ${rejected} rejected in ${Date.now() - t0} ms\n`);
  assert.ok(ok > 20 && rejected > 150);
});

// ------------------------------------------------------------------ job definitions

const FIELD_NAMES = Object.keys(JobFields);

function jobValue(r: Rng, field: string): unknown {
  if (chance(r, 0.5)) return configValue(r);
  switch (field) {
    case 'command':
      return chance(r, 0.5) ? Array.from({ length: int(r, 0, 3) }, () => randString(r, 20)) : randString(r, 20);
    case 'script_path':
    case 'working_dir':
      return pick(r, ['../../etc/passwd', '/etc/passwd', './x.sh', '', '\0', 'a'.repeat(5000), '/srv/app/cron/backup.sh']);
    case 'schedule':
      return cronExpr(r);
    case 'env':
    case 'node_selector':
      return { [randString(r, 8)]: chance(r, 0.7) ? randString(r, 8) : randJson(r, 2) };
    case 'tags':
    case 'alert_emails':
      return Array.from({ length: int(r, 0, 3) }, () => (chance(r, 0.8) ? randString(r, 12) : randJson(r, 2)));
    default:
      return randJson(r, 1);
  }
}

function jobDef(r: Rng): unknown {
  if (chance(r, 0.05)) return randJson(r);
  const def: Record<string, unknown> = {};
  if (chance(r, 0.9)) def.name = chance(r, 0.5) ? `job-${int(r, 0, 99)}` : randString(r, 30);
  if (chance(r, 0.9)) def.schedule = chance(r, 0.5) ? '*/5 * * * *' : cronExpr(r);
  if (chance(r, 0.6)) def.command = ['/bin/true'];
  for (let i = int(r, 0, 5); i > 0; i--) {
    const f = pick(r, FIELD_NAMES);
    def[f] = jobValue(r, f);
  }
  if (chance(r, 0.05)) def[randString(r, 10)] = 1;
  if (chance(r, 0.03)) Object.defineProperty(def, '__proto__', { value: { enabled: true }, enumerable: true });
  return def;
}

test('job definitions: validateJobDefinition and validateJobPatch reject bad input with a ValidationError naming the field', { timeout: 120_000 }, () => {
  const r = mulberry32(SEED ^ 0xc2b2ae35);
  let ok = 0;
  let rejected = 0;
  const t0 = Date.now();
  for (let i = 0; i < cases(2000); i++) {
    const def = jobDef(r);
    const patch = i % 3 === 0;
    const err = patch ? expectCleanRejection('validateJobPatch', def, () => validateJobPatch(def)) : expectCleanRejection('validateJobDefinition', def, () => validateJobDefinition(def));
    if (err) {
      rejected++;
      assert.equal(err.code, 'VALIDATION');
      // The field named is one the input has (or the whole job, or a required one it lacks).
      const top = err.field!.split(/[.[/]/)[0]!;
      assert.ok(top === 'job' || top === '' || FIELD_NAMES.includes(top) || top === 'name' || (def && typeof def === 'object' && top in (def as object)) || err.message.includes(top), `field "${err.field}" for ${JSON.stringify(def)?.slice(0, 300)}: ${err.message}`);
    } else ok++;
  }
  process.stdout.write(`# job definitions: ${ok} accepted, ${rejected} rejected in ${Date.now() - t0} ms\n`);
  assert.ok(ok > 50 && rejected > 300);
});

void NASTY_STRINGS;

// ------------------------------------------------------------------ reduced cases the fuzzer found

test('found by fuzzing: a YAML alias without its anchor is a ConfigError, not a ReferenceError', () => {
  // yaml throws ReferenceError("Unresolved alias …") for `a: *x`; parseConfigText let it through,
  // so `smart-cron` with such a config.yaml crashed with exit 1 and a stack instead of exit 2.
  for (const text of ['a: *x\n', '*x', 'f<<: *xse\n']) {
    const err = expectCleanRejection('parseConfigText', text, () => parseConfigText(text, 'config.yaml'));
    assert.ok(err, `${JSON.stringify(text)} was accepted`);
    assert.match(err.message, /config\.yaml: not valid YAML: .*alias/i);
  }
});
