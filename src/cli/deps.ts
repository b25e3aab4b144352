/**
 * `smart-cron deps`: links between jobs. `deps NAME` prints the graph around a job;
 * `deps add NAME --requires OTHER [--within 6h]` or `--after OTHER [--on success|failure|always]`;
 * `deps remove NAME OTHER`.
 */
import type { Command } from 'commander';
import type { App } from '../daemon/app.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import {
  DEPENDENCY_KINDS,
  DEPENDENCY_ONS,
  DependencyRepo,
  describeDependents,
  notLinked,
  windowSeconds,
  type DependencyKind,
  type DependencyLink,
  type DependencyOn,
  type DependencyTreeNode,
} from '../jobs/dependencies.js';
import { formatSeconds } from '../durations.js';
import type { CliContext } from './context.js';
import { print, printJson } from './output.js';

const ONS: readonly DependencyOn[] = DEPENDENCY_ONS;
const KINDS: readonly DependencyKind[] = DEPENDENCY_KINDS;

interface AddOptions {
  requires?: string;
  within?: string;
  after?: string;
  on?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const deps = program
    .command('deps')
    .description('links between jobs: what a job requires, what runs after what (`deps NAME` shows the graph around a job)')
    .argument('[name]', 'job name or id')
    .option('--depth <n>', 'levels to show each way', '3')
    .action(async (name: string | undefined, o: { depth: string }) => {
      if (!name) throw new ValidationError('deps: expected a job name (e.g. `smart-cron deps backup`), or one of: add, remove', 'name');
      const depth = Number(o.depth);
      if (!Number.isInteger(depth) || depth < 1 || depth > 20) throw new ValidationError(`--depth: "${o.depth}" is not a whole number from 1 to 20`, 'depth');
      await ctx.withApp(async (app) => {
        const job = await app.jobs.getJob(name);
        const tree = await new DependencyRepo(app.database.db).tree(job.id, depth);
        if (ctx.globals().json) return printJson({ job: { id: job.id, name: job.name }, ...tree });
        print(formatTree(job.name, tree));
      });
    });

  deps
    .command('add')
    .description('make NAME depend on another job: --requires OTHER [--within 6h], or --after OTHER [--on success|failure|always]')
    .argument('<name>', 'the dependent job (name or id)')
    .option('--requires <other>', "NAME's scheduled runs need a success of OTHER (skipped, or waiting with requires_mode wait, until then)")
    .option('--within <duration>', 'with --requires: the success must be this recent (30m, 6h, 2d, or seconds)')
    .option('--after <other>', 'NAME runs when a run of OTHER ends (with several, once all of them have)')
    .option('--on <outcome>', 'with --after: success (default), failure or always')
    .action(async (name: string, o: AddOptions) => {
      const spec = addSpec(o);
      await ctx.withApp(async (app) => {
        const job = await app.jobs.getJob(name);
        const other = await app.jobs.getJob(spec.other);
        let res;
        try {
          res = await new DependencyRepo(app.database.db).add(job.id, other.id, spec.kind, spec, app.clock.now());
        } catch (e) {
          if (e instanceof ConflictError) throw new ConflictError(`deps add: ${e.message}`, e.field);
          if (e instanceof ValidationError) throw new ValidationError(`deps add: ${e.message}`, e.field);
          throw e;
        }
        if (res.change !== 'unchanged') ctx.announce(job.id, 'dependencies');
        const link: DependencyLink = { job: { id: other.id, name: other.name }, kind: res.row.kind, on: res.row.on, window_seconds: res.row.window_seconds };
        if (ctx.globals().json) return printJson({ change: res.change, job: { id: job.id, name: job.name }, depends_on: link });
        const verb = res.change === 'new' ? 'added' : res.change === 'updated' ? 'updated' : 'unchanged';
        print(`${verb}: ${job.name} ${relation(link)} ${other.name}${suffix(link)}`);
        if (!job.enabled) print(`note: ${job.name} is disabled; it will not run until enabled`);
      });
    });

  deps
    .command('remove')
    .description('remove the links from NAME to OTHER')
    .argument('<name>', 'the dependent job (name or id)')
    .argument('<other>', 'the job it depends on (name or id)')
    .option('--kind <kind>', 'only this kind: requires or triggers')
    .action(async (name: string, otherName: string, o: { kind?: string }) => {
      if (o.kind !== undefined && !KINDS.includes(o.kind as DependencyKind)) {
        throw new ValidationError(`--kind: "${o.kind}" is not a dependency kind (expected requires or triggers)`, 'kind');
      }
      await ctx.withApp(async (app) => {
        const job = await app.jobs.getJob(name);
        const other = await app.jobs.getJob(otherName);
        const removed = await new DependencyRepo(app.database.db).remove(job.id, other.id, o.kind as DependencyKind | undefined);
        if (removed.length === 0) throw new NotFoundError(`deps remove: ${notLinked(job.name, other.name, o.kind as DependencyKind | undefined)} (see \`smart-cron deps ${job.name}\`)`, 'other');
        ctx.announce(job.id, 'dependencies');
        if (ctx.globals().json) return printJson({ job: { id: job.id, name: job.name }, depends_on: { id: other.id, name: other.name }, removed: removed.map((r) => r.kind) });
        for (const r of removed) print(`removed: ${job.name} ${relation({ kind: r.kind })} ${other.name}`);
      });
    });
}

function addSpec(o: AddOptions): { other: string; kind: DependencyKind; window_seconds?: number | null; on?: DependencyOn } {
  if ((o.requires === undefined) === (o.after === undefined)) {
    throw new ValidationError('deps add: give exactly one of --requires OTHER or --after OTHER', o.requires === undefined ? 'requires' : 'after');
  }
  if (o.requires !== undefined) {
    if (o.on !== undefined) throw new ValidationError('--on goes with --after (a --requires link always needs a success; use --within for how recent)', 'on');
    return { other: o.requires, kind: 'requires', window_seconds: windowSeconds(o.within, '--within') };
  }
  if (o.within !== undefined) throw new ValidationError('--within goes with --requires (an --after link runs on each matching end of OTHER)', 'within');
  if (o.on !== undefined && !ONS.includes(o.on as DependencyOn)) throw new ValidationError(`--on: "${o.on}" is not an outcome (expected success, failure or always)`, 'on');
  return { other: o.after!, kind: 'triggers', on: (o.on as DependencyOn | undefined) ?? 'success' };
}

function relation(l: Pick<DependencyLink, 'kind'>): string {
  return l.kind === 'requires' ? 'requires a success of' : 'runs after';
}

function suffix(l: DependencyLink): string {
  if (l.kind === 'requires') return l.window_seconds ? ` within ${formatSeconds(l.window_seconds)}` : '';
  return outcome(l.on);
}

/** A triggers link's outcome in words: " on success", " on failure"; `always` is not an outcome ("runs after it on always"). */
function outcome(on: DependencyOn): string {
  return on === 'always' ? ', whatever the outcome' : ` on ${on}`;
}

function label(l: DependencyLink, dir: 'up' | 'down'): string {
  if (l.kind === 'requires') return `${dir === 'up' ? 'required' : 'requires it'}${l.window_seconds ? `, a success within ${formatSeconds(l.window_seconds)}` : ', a success'}`;
  return `${dir === 'up' ? 'triggers' : 'runs after it'}${outcome(l.on)}`;
}

/** The graph around a job as an indented tree, upstream then downstream. */
export function formatTree(name: string, tree: { upstream: DependencyTreeNode[]; downstream: DependencyTreeNode[] }): string {
  const lines = [name];
  const walk = (nodes: DependencyTreeNode[], dir: 'up' | 'down', indent: string) => {
    for (const n of nodes) {
      lines.push(`${indent}${dir === 'up' ? '←' : '→'} ${n.job.name}  (${label(n, dir)})${n.truncated ? ' …' : ''}`);
      walk(n.children, dir, `${indent}    `);
    }
  };
  lines.push(`  upstream (what ${name} depends on):${tree.upstream.length ? '' : ' none'}`);
  walk(tree.upstream, 'up', '    ');
  lines.push(`  downstream (what depends on ${name}):${tree.downstream.length ? '' : ' none'}`);
  walk(tree.downstream, 'down', '    ');
  return lines.join('\n');
}

/**
 * For `jobs remove` / `jobs disable`: the jobs that depend on this one, printed as a warning on
 * stderr (so --json output stays clean) and returned for the JSON answer.
 */
export async function warnDependents(app: App, job: { id: number; name: string }, action: 'removing' | 'disabling'): Promise<string[]> {
  const list = await new DependencyRepo(app.database.db).dependents(job.id);
  if (list.length === 0) return [];
  const effect = action === 'removing' ? 'their links to it are removed too' : 'while it is disabled its schedule neither renews their requirements nor triggers them (a manual run of it still does)';
  process.stderr.write(`warning: ${action} ${job.name}: ${describeDependents(list)} depend${list.length === 1 ? 's' : ''} on it; ${effect}\n`);
  return [...new Set(list.map((d) => d.name))];
}
