/**
 * Getting jobs in: `discover DIR…`, `import-crontab`, `apply -f`, `export`, and `review`
 * to enable what was found. Everything found or imported is registered disabled; the
 * logic lives in src/discovery, this file only reads flags and prints.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { escapeControl } from '../discovery/control-chars.js';
import { importCrontabs, rewriteCrontab } from '../discovery/crontab-import.js';
import { readCrontabs } from '../discovery/crontab-sources.js';
import { discover, type DiscoverReport } from '../discovery/discover.js';
import { compileGlob } from '../discovery/glob.js';
import { applyJobs, exportJobs, exportYaml, parseJobsFile } from '../discovery/jobs-file.js';
import { reviewEnable, reviewList, type ReviewRow } from '../discovery/review.js';
import { resolveRoots } from '../discovery/scanner.js';
import { ValidationError } from '../errors.js';
import { presentJob } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { collect, type CliContext } from './context.js';
import { count, formatTable, print, printJson, when } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('discover')
    .description('find cron scripts under DIR… and register them disabled for review (`smart-cron review`)')
    .argument('<dirs...>', 'folders to scan')
    .option('--dry-run', 'show what would be registered; write nothing')
    .option('--include <glob>', 'only files matching (repeatable; "*.php", "cron/**")', collect)
    .option('--exclude <glob>', 'skip files and folders matching (repeatable)', collect)
    .option('--include-removed', 'register again the scripts whose jobs a person removed (left out otherwise)')
    .action(async (dirs: string[], o: { dryRun?: boolean; include?: string[]; exclude?: string[]; includeRemoved?: boolean }) => {
      // Bad input is reported before the database is opened.
      resolveRoots(dirs);
      for (const g of o.include ?? []) compileGlob(g, '--include');
      for (const g of o.exclude ?? []) compileGlob(g, '--exclude');
      const tty = process.stderr.isTTY === true;
      const progress = tty
        ? (p: { phase: string; files: number; dirs: number; scripts: number }) =>
            process.stderr.write(`\r${p.phase === 'scan' ? `scanning: ${p.dirs} folders, ${p.files} files` : `reading: ${p.files} files, ${p.scripts} scripts`}\x1b[K`)
        : undefined;
      const run = async (jobs: JobManager) => {
        const r = await discover(jobs, dirs, { dryRun: o.dryRun, include: o.include, exclude: o.exclude, includeRemoved: o.includeRemoved, onProgress: progress });
        if (tty) process.stderr.write('\r\x1b[K');
        if (ctx.globals().json) return printJson(r);
        printDiscover(r);
      };
      await ctx.withApp((app) => run(app.jobs), { dryRun: o.dryRun });
    });

  program
    .command('import-crontab')
    .description('turn crontab entries into disabled jobs (FILE, - for stdin, or your crontab; --system: /etc/crontab and /etc/cron.d)')
    .argument('[files...]', 'crontab files or cron.d folders; - reads stdin')
    .option('--system', 'system format (a user field before the command); without FILE: /etc/crontab and /etc/cron.d/*')
    .option('--rewrite', 'print the crontab to install afterwards, imported lines commented out (summary goes to stderr)')
    .option('--dry-run', 'show what would be imported; write nothing')
    .option('--skip-invalid', 'import the good lines even if some are bad')
    .option('--include-removed', 'import again the entries whose jobs a person removed (left out otherwise)')
    .action(async (files: string[], o: { system?: boolean; rewrite?: boolean; dryRun?: boolean; skipInvalid?: boolean; includeRemoved?: boolean }) => {
      const parsed = readCrontabs(files, { system: o.system });
      if (o.rewrite && parsed.length !== 1) throw new ValidationError(`--rewrite: give exactly one crontab (got ${parsed.length})`, 'rewrite');
      await ctx.withApp(async (app) => {
        const r = await importCrontabs(app.jobs, parsed, { dryRun: o.dryRun, skipInvalid: o.skipInvalid, includeRemoved: o.includeRemoved });
        const out = o.rewrite ? (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`) : print;
        if (ctx.globals().json && !o.rewrite) return printJson({ ...r, jobs: r.jobs.map(({ def: _d, info: _i, ...rest }) => rest) });
        for (const x of r.invalid) out(`skipped ${x.file}:${x.line}: ${x.reason}`);
        for (const d of r.removed) out(`left out ${d.file === '-' ? 'stdin' : d.file}:${d.line}: its job ${shown(d.name)} was removed ${d.removed_at.slice(0, 10)} (--include-removed imports it again)`);
        if (r.jobs.length === 0 && r.removed.length === 0) out('no crontab entries found');
        else {
          out(
            formatTable(r.jobs, [
              { header: 'line', get: (j) => `${j.file === '-' ? 'stdin' : j.file.slice(j.file.lastIndexOf('/') + 1)}:${j.line}` },
              { header: 'job', get: (j) => j.name, max: 50 },
              { header: o.dryRun ? 'would be' : 'change', get: (j) => (j.change === 'updated' && j.changed.length ? `updated: ${j.changed.join(',')}` : j.change), max: 30 },
              { header: 'in crontab', get: (j) => (j.active_in_crontab ? 'active' : 'commented out') },
              { header: 'schedule', get: (j) => j.schedule },
              { header: 'user', get: (j) => j.run_as_user },
              { header: 'category', get: (j) => `${j.category} (${j.category_reason})`, max: 44 },
              { header: 'priority', get: (j) => `${j.priority} (${j.priority_reason})`, max: 40 },
            ]),
          );
        }
        for (const j of r.jobs) for (const w of j.warnings) out(`warning: ${shown(j.name)}: ${shown(w)}`);
        for (const m of r.missing) {
          const was = m.line !== null ? ` (was line ${m.line}${m.crontab_line ? `: ${m.crontab_line}` : ''})` : '';
          const kept = m.enabled ? 'kept, and still enabled: it runs under smart-cron until disabled or removed' : 'kept with its history';
          out(`missing: ${shown(m.name)}: no longer in the crontab${shown(was)}; ${kept} (remove it: smart-cron jobs remove ${shown(m.name)})`);
        }
        if (r.jobs.length || r.missing.length) {
          const c = r.counts;
          out(
            `${c.new} new, ${c.updated} updated, ${c.unchanged} unchanged, ${c.missing} missing${o.dryRun ? ' (dry run: nothing written)' : ''}` +
              `${r.jobs.length ? '; all disabled until enabled (`smart-cron review`)' : ''}`,
          );
        }
        if (o.rewrite) process.stdout.write(rewriteCrontab(parsed[0]!, r.jobs));
      }, { dryRun: o.dryRun });
    });

  program
    .command('apply')
    .description('make the jobs match a jobs.yaml (validated in full before anything is written)')
    .requiredOption('-f, --file <path>', 'jobs.yaml (a list of jobs, or "jobs:"); - reads stdin')
    .option('--prune', 'remove jobs applied from a file earlier that this file no longer has')
    .option('--dry-run', 'show the diff; write nothing')
    .action(async (o: { file: string; prune?: boolean; dryRun?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new ValidationError(`${o.file}: cannot read (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`, 'file');
      }
      const jobs = parseJobsFile(text, o.file === '-' ? 'stdin' : o.file);
      await ctx.withApp(async (app) => {
        const r = await applyJobs(app.jobs, jobs, { prune: o.prune, dryRun: o.dryRun });
        if (ctx.globals().json) return printJson(r);
        const verb = o.dryRun ? 'would ' : '';
        for (const n of r.added) print(`+ ${n} (${verb}add)`);
        for (const c of r.changed) print(`~ ${c.name} (${verb}change: ${c.fields.join(', ')})`);
        for (const n of r.removed) print(`- ${n} (${verb}remove)`);
        for (const n of r.not_in_file) print(`? ${n} is not in the file (kept; --prune removes it)`);
        print(`${r.added.length} added, ${r.changed.length} changed, ${r.unchanged} unchanged, ${r.removed.length} removed${o.dryRun ? ' (dry run: nothing written)' : ''}`);
      }, { dryRun: o.dryRun });
    });

  program
    .command('export')
    .description('print every job as a jobs.yaml that `apply -f` accepts (JSON with --json)')
    .action(async () => {
      await ctx.withApp(async (app) => {
        const defs = await exportJobs(app.jobs);
        if (ctx.globals().json) return printJson({ jobs: defs });
        process.stdout.write(exportYaml(defs));
      });
    });

  program
    .command('review')
    .description('list discovered and imported jobs still disabled, with their guesses and why; enable them')
    .option('--category <c>', 'only this category')
    .option('--enable <names...>', 'enable these jobs')
    .option('--enable-category <c>', 'enable every job under review in this category')
    .action(async (o: { category?: string; enable?: string[]; enableCategory?: string }) => {
      if (o.enable && o.enableCategory) throw new ValidationError('review: give --enable NAME… or --enable-category C, not both', 'enable');
      await ctx.withApp(async (app) => {
        const now = app.clock.now();
        if (o.enable || o.enableCategory) {
          // Categories are lowercase (the job schema says so): `Maintenance` means maintenance.
          const r = await reviewEnable(app.jobs, { names: o.enable, category: o.enableCategory?.toLowerCase() });
          if (ctx.globals().json) return printJson({ enabled: r.enabled.map((j) => presentJob(j, now)), skipped: r.skipped });
          for (const j of r.enabled) print(`enabled: ${j.name}, next run ${when(j.next_scheduled_run, now)}`);
          for (const s of r.skipped) print(`left disabled: ${s.name} (${s.reason})`);
          return;
        }
        const rows = await reviewList(app.jobs, { category: o.category?.toLowerCase() });
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print('nothing to review (find jobs with `smart-cron discover DIR` or `smart-cron import-crontab`)');
        printReview(rows);
      });
    });
}

/**
 * Names, paths and texts from scanned folders, for a terminal: a control character shows as
 * an escape (\x1b), so a file cannot move the cursor or rewrite the lines around it.
 */
function shown(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : escapeControl(text);
}

/** "why" after a value, when discovery's reason still explains it. */
function because(value: string, reason: string | null): string {
  return shown(`${value}${reason ? ` (${reason})` : ''}`)!;
}

/** A guessed schedule and why it was guessed; the "default @daily: …" source says it as "guessed: …". */
function scheduleCell(schedule: string, guessed: boolean, reason: string | null): string {
  if (!guessed) return shown(schedule)!;
  if (!reason) return shown(`${schedule} (guessed)`)!;
  return because(schedule, reason.startsWith('guessed') ? reason : `guessed: ${reason.replace(/^default [^:]*: /, '')}`);
}

function printDiscover(r: DiscoverReport): void {
  if (r.jobs.length) {
    print(
      formatTable(r.jobs, [
        { header: 'job', get: (j) => shown(j.name), max: 44 },
        { header: r.dry_run ? 'would be' : 'change', get: (j) => (j.change === 'updated' && j.changed.length ? `updated: ${j.changed.join(',')}` : j.change), max: 30 },
        { header: 'type', get: (j) => j.script_type },
        { header: 'schedule', get: (j) => scheduleCell(j.schedule, j.schedule_guessed, null), max: 28 },
        { header: 'category', get: (j) => because(j.category, j.category_reason), max: 44 },
        { header: 'priority', get: (j) => because(j.priority, j.priority_reason), max: 44 },
        { header: 'memory', get: (j) => `${j.estimated_memory_mb} MB`, align: 'right' },
        { header: 'timeout', get: (j) => `${j.timeout_seconds}s`, align: 'right' },
      ]),
    );
  }
  for (const j of r.jobs) for (const w of j.warnings) print(`warning: ${shown(j.name)}: ${shown(w)}`);
  for (const p of r.problems) print(`problem: ${shown(p.path)}: ${shown(p.reason)}`);
  const skipped = Object.entries(r.skipped);
  if (skipped.length) print(`skipped: ${skipped.map(([why, n]) => `${why}: ${n}`).join('; ')}`);
  for (const d of r.removed) print(`left out: ${shown(d.script_path)}: its job ${shown(d.job_name)} was removed ${d.removed_at.slice(0, 10)}`);
  if (r.removed.length) print('(--include-removed registers them again)');
  const c = r.counts;
  print(
    `${count(r.scanned.files, 'file')} in ${count(r.scanned.dirs, 'folder')}, ${count(r.scanned.scripts, 'script')}: ${c.new} new, ${c.updated} updated, ${c.unchanged} unchanged, ${c.missing} missing` +
      `${r.problems.length ? `, ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}` : ''}${r.dry_run ? ' (dry run: nothing written)' : ''}`,
  );
  if (!r.dry_run && c.new) print('all are disabled: enable them with `smart-cron review --enable NAME…` after a look');
}

function printReview(rows: ReviewRow[]): void {
  print(
    formatTable(rows, [
      { header: 'job', get: (r) => shown(`${r.name}${r.missing ? ' (missing)' : ''}`), max: 44 },
      { header: 'type', get: (r) => r.type },
      { header: 'schedule', get: (r) => scheduleCell(r.schedule, r.schedule_guessed, r.schedule_reason), max: 60 },
      { header: 'category', get: (r) => because(r.category, r.category_reason), max: 44 },
      { header: 'priority', get: (r) => because(r.priority, r.priority_reason), max: 44 },
      { header: 'estimate', get: (r) => `${r.estimated_memory_mb} MB, ${r.timeout_seconds}s` },
      { header: 'description', get: (r) => shown(r.description), max: 50 },
    ]),
  );
  for (const r of rows) for (const w of r.warnings) print(`warning: ${shown(r.name)}: ${shown(w)}`);
  const guessed = rows.filter((r) => r.schedule_guessed).length;
  print(`${rows.length} job${rows.length === 1 ? '' : 's'} to review${guessed ? `; ${guessed} with a guessed schedule (set one: \`smart-cron jobs set NAME schedule="…"\`)` : ''}`);
  print('enable: smart-cron review --enable NAME…   or   smart-cron review --enable-category CATEGORY');
}
