/**
 * The `smart-cron` command. Each command group lives in its own file and registers
 * itself here; errors map to exit codes in one place (0 ok, 1 failure, 2 bad usage or input,
 * 3 the database is unavailable: errors.ts).
 */
// First: it holds V8's young generation small while the rest loads (see there).
import { startupDone } from '../startup-heap.js';
import { Command, CommanderError, type HelpContext } from 'commander';
import { exitCodeFor, SmartCronError } from '../errors.js';
import { VERSION } from '../version.js';
import * as alerts from './alerts.js';
import { makeContext, type CliContext } from './context.js';
import { commandPath, homeFor, unmakeHome } from './home.js';
import { guardPipes } from './pipes.js';
import * as discover from './discover.js';
import * as daemon from './daemon.js';
import * as deps from './deps.js';
import * as health from './health.js';
import * as init from './init.js';
import * as jobs from './jobs.js';
import * as logs from './logs.js';
import * as nodes from './nodes.js';
import * as runs from './runs.js';
import * as schedule from './schedule.js';

type Registrar = (program: Command, ctx: CliContext) => void;

/** Every command group, in the order `--help` lists them. */
const GROUPS: Registrar[] = [init.register, daemon.register, jobs.register, runs.register, logs.register, schedule.register, health.register, alerts.register, nodes.register, discover.register, deps.register];

/**
 * commander answers `--help` before it looks for the command named: `smart-cron schedul --help`
 * and `smart-cron help schedul` printed the top-level help as if the name were right. A command
 * with subcommands now says the name is unknown (with its suggestion), as it does without help.
 */
class SmartCronCommand extends Command {
  constructor(name?: string) {
    super(name);
    // `alerts bogus`: commander hands `bogus` to the default subcommand (list) as an argument,
    // which answered "too many arguments for 'list'". A word that names no subcommand, given to
    // a default that takes no arguments, is an unknown command, as `jobs bogus` is.
    this.hook('preSubcommand', (group, sub) => {
      const named = group.args[0];
      const isDefault = (group as unknown as { _defaultCommandName?: string })._defaultCommandName === sub.name();
      if (isDefault && sub.registeredArguments.length === 0 && named !== undefined && named !== sub.name() && !named.startsWith('-')) {
        (group as unknown as { unknownCommand(): never }).unknownCommand();
      }
    });
  }

  override createCommand(name?: string): Command {
    return new SmartCronCommand(name);
  }

  override outputHelp(context?: HelpContext): void;
  override outputHelp(cb: (str: string) => string): void;
  override outputHelp(context?: HelpContext | ((str: string) => string)): void {
    // `smart-cron NAME --help`, or `smart-cron help NAME`
    const named = this.args[0] === 'help' ? this.args[1] : this.args[0];
    if (this.commands.length > 0 && named !== undefined && !named.startsWith('-') && !this.commands.some((c) => c.name() === named || c.aliases().includes(named))) {
      // commander's own error, with its "did you mean" (not in its typings; pinned major, and
      // test/cli/jobs.test.ts checks the message)
      this.args = [named];
      (this as unknown as { unknownCommand(): never }).unknownCommand();
    }
    super.outputHelp(context as HelpContext); // (the callback form is deprecated and unused here)
  }
}

export function buildProgram(): Command {
  const program = new SmartCronCommand('smart-cron')
    .description('a supervisor for cron jobs: runs them inside memory and CPU budgets, records every run, and alerts')
    .option('--home <dir>', 'data home (env SMART_CRON_HOME, default ~/.smart-cron)')
    .option('--database <url>', 'sqlite:PATH or postgres://… (env SMART_CRON_DATABASE_URL)')
    .option('--node-id <id>', 'this machine\'s name among nodes (env SMART_CRON_NODE_ID, default the hostname)')
    .option('--json', 'print JSON with the snake_case column names')
    .version(VERSION, '-V, --version', 'print smart-cron\'s version')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false });
  const ctx = makeContext(program);
  for (const register of GROUPS) register(program, ctx);
  applyToAll(program, (c) => {
    c.exitOverride();
    // One line per mistake: commander's "(Did you mean …?)" joins the error line.
    c.configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`${s.replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)').trimEnd()}\n`),
    });
  });
  return program;
}

function applyToAll(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const c of cmd.commands) applyToAll(c, fn);
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  // The daemon ends its start-up itself, once it is up; any other command's ends here.
  let madeHome: string | null = null;
  program.hook('preAction', async (_, action) => {
    const daemon = action.name() === 'daemon';
    guardPipes(daemon);
    if (!daemon) startupDone();
    madeHome = await homeFor(commandPath(action), program.opts(), action.opts());
  });
  try {
    await program.parseAsync(argv);
    // An action may set its own exit code (run --wait: 1 when the run failed; doctor): keep it.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // A command that made the home and then failed (a bad job definition): the home goes again.
    unmakeHome(madeHome);
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (e.exitCode === 0) return 0;
      return 2;
    }
    const msg = e instanceof SmartCronError ? e.message : e instanceof Error ? e.message : String(e);
    process.stderr.write(`smart-cron: ${msg}\n`);
    if (!(e instanceof SmartCronError) && process.env.SMART_CRON_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return exitCodeFor(e);
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main().then((code) => {
    process.exitCode = code;
  });
}
