/**
 * Walks the given folders and yields every regular file that might be a script. Synchronous
 * on purpose: a scan is one long sequential walk, and the sync calls are several times faster
 * than promise-per-entry for 100,000 files.
 *
 * Links: a link is followed only when its target stays inside one of the roots (so a scan of
 * /srv/app never wanders into /), and every folder is visited once by its real path, which
 * also ends symlink loops. Files are keyed by their real path, so a script reached through
 * two links is one job.
 */
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { sep } from 'node:path';
import { ValidationError } from '../errors.js';
import { compileGlob, type Glob } from './glob.js';
import { runPartsSkips } from './run-parts.js';

/** Folders that hold dependencies, caches or VCS data, never a project's own cron scripts. */
export const DEFAULT_SKIP_DIRS = [
  '.git',
  '.hg',
  '.svn',
  'node_modules',
  'vendor',
  'bower_components',
  '__pycache__',
  '.venv',
  'venv',
  '.tox',
  '.mypy_cache',
  '.pytest_cache',
  '.cache',
  '.idea',
  '.vscode',
  '.next',
  '.nuxt',
] as const;

/**
 * A project's tests and packaging, never its cron jobs: folders that hold tests, and files named
 * as a test runner or a packager finds them (pytest, Jest/Vitest/Mocha, PHPUnit, setuptools).
 * Name patterns, as --exclude reads them. An --include that names tests (its pattern has one of
 * TEST_WORDS: `test_*.py`, `tests/**`, `*Test.php`) takes those it matches; a broad one such as
 * `*.py` does not bring them back.
 */
export const TEST_DIRS = ['tests', 'test', '__tests__', 'spec'] as const;
export const TEST_FILES = [
  'test_*.py',
  '*_test.py',
  'conftest.py',
  'setup.py',
  '__init__.py',
  '*.{test,spec}.{js,mjs,cjs,ts,mts,cts}',
  '*Test.php',
] as const;
const TEST_FILE_GLOBS = TEST_FILES.map((p) => compileGlob(p));
const TEST_WORDS = /test|spec|setup|__init__/i;

/** The skip reason of a test or packaging file, or of a folder of tests (see TEST_FILES). */
export const TEST_SKIP = 'test or packaging file or folder (an --include naming it takes it)';

/** The skip reason of a file in cron.daily (etc.) whose name run-parts does not run. */
export const RUN_PARTS_SKIP = 'in cron.daily etc. but run-parts skips its name (a dot or other character)';

export interface ScanOptions {
  include?: Glob[];
  exclude?: Glob[];
  skipDirs?: readonly string[];
  /** Called now and then with running totals (for a progress line). */
  onProgress?: (p: ScanProgress) => void;
}

export interface ScanProgress {
  dirs: number;
  files: number;
}

export interface FoundFile {
  /** The real path of the root it was found under. */
  root: string;
  /** Real path of the file. */
  path: string;
  /** Real path relative to its root, with "/" separators. */
  rel: string;
}

export interface ScanProblem {
  path: string;
  reason: string;
}

export interface ScanResult {
  roots: string[];
  files: FoundFile[];
  problems: ScanProblem[];
  /** Entries left out, by reason (for the summary line). */
  skipped: Record<string, number>;
  dirs: number;
}

/** Check the roots before anything is scanned: each must exist and be a folder. */
export function resolveRoots(dirs: string[]): string[] {
  if (dirs.length === 0) throw new ValidationError('discover: expected at least one DIR to scan', 'DIR');
  const out: string[] = [];
  for (const d of dirs) {
    let st;
    try {
      st = statSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ValidationError(
        code === 'ENOENT' ? `${d}: no such directory` : `${d}: cannot read it (${code ?? (e as Error).message})`,
        'DIR',
      );
    }
    if (!st.isDirectory()) throw new ValidationError(`${d}: not a directory (expected a folder to scan)`, 'DIR');
    const real = realpathSync(d);
    if (!out.includes(real)) out.push(real);
  }
  return out;
}

export function scan(rootDirs: string[], opts: ScanOptions = {}): ScanResult {
  const roots = resolveRoots(rootDirs);
  const skipDirs = new Set(opts.skipDirs ?? DEFAULT_SKIP_DIRS);
  const include = opts.include ?? [];
  const exclude = opts.exclude ?? [];
  const files: FoundFile[] = [];
  const problems: ScanProblem[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => void (skipped[why] = (skipped[why] ?? 0) + 1);
  const testIncludes = include.filter((g) => TEST_WORDS.test(g.pattern));
  const testDirs = new Set<string>(testIncludes.length ? [] : TEST_DIRS);
  /** Why a folder of this name is not walked, if it is not. */
  const dirSkip = (name: string) => (skipDirs.has(name) ? 'dependency or VCS folder' : testDirs.has(name) ? TEST_SKIP : undefined);
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  let dirs = 0;
  let lastProgress = 0;

  const rootOf = (real: string) => roots.find((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep));
  // Plain string work: path.relative/join resolve against the cwd on every call, a third of a 100k-file scan.
  const relTo = (root: string, p: string) => (p === root ? '' : p.slice(root.endsWith(sep) ? root.length : root.length + 1)).split(sep).join('/');

  const addFile = (real: string, root = rootOf(real)!, rel = relTo(root, real)) => {
    if (seenFiles.has(real)) return skip('already seen through a link');
    if (exclude.some((g) => g.matches(rel))) return skip('excluded');
    if (include.length && !include.some((g) => g.matches(rel))) return skip('not included');
    if (TEST_FILE_GLOBS.some((g) => g.matches(rel)) && !testIncludes.some((g) => g.matches(rel))) return skip(TEST_SKIP);
    // A leftover such as cron.daily/foo.dpkg-old is not a job: the system never runs it.
    if (runPartsSkips(real)) return skip(RUN_PARTS_SKIP);
    seenFiles.add(real);
    files.push({ root, path: real, rel });
  };

  const stack: { dir: string; root: string; rel: string }[] = [];
  for (const top of roots) {
    stack.push({ dir: top, root: top, rel: '' });
    while (stack.length) {
      const { dir, root, rel: dirRel } = stack.pop()!;
      if (seenDirs.has(dir)) {
        skip('folder already visited (link loop or overlapping roots)');
        continue;
      }
      seenDirs.add(dir);
      dirs++;
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        problems.push({ path: dir, reason: `cannot list folder: ${errText(e)}` });
        continue;
      }
      const base = dir.endsWith(sep) ? dir : dir + sep;
      const relBase = dirRel ? `${dirRel}/` : '';
      for (const ent of entries) {
        const full = base + ent.name;
        const rel = relBase + ent.name;
        if (ent.isDirectory()) {
          const why = dirSkip(ent.name);
          if (why) {
            skip(why);
            continue;
          }
          if (exclude.some((g) => g.matches(rel))) {
            skip('excluded');
            continue;
          }
          stack.push({ dir: full, root, rel });
        } else if (ent.isFile()) {
          addFile(full, root, rel);
        } else if (ent.isSymbolicLink()) {
          followLink(full, ent.name);
        } else {
          // FIFOs, sockets and devices: opening a FIFO would block the scan.
          skip('not a regular file');
        }
      }
      if (opts.onProgress && files.length + dirs - lastProgress >= 2000) {
        lastProgress = files.length + dirs;
        opts.onProgress({ dirs, files: files.length });
      }
    }
  }
  opts.onProgress?.({ dirs, files: files.length });
  // readdir order differs between file systems; names given to new jobs must not.
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { roots, files, problems, skipped, dirs };

  function followLink(full: string, name: string): void {
    let real: string;
    try {
      real = realpathSync(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'dangling symlink (its target does not exist)' : code === 'ELOOP' ? 'symlink loop' : errText(e);
      problems.push({ path: full, reason: why });
      return;
    }
    if (!rootOf(real)) {
      skip('link leads out of the scanned folders');
      return;
    }
    let st;
    try {
      st = statSync(real);
    } catch (e) {
      problems.push({ path: full, reason: errText(e) });
      return;
    }
    if (st.isDirectory()) {
      const why = dirSkip(name);
      if (why) return skip(why);
      if (seenDirs.has(real)) return skip('folder already visited (link loop or overlapping roots)');
      const root = rootOf(real)!;
      stack.push({ dir: real, root, rel: relTo(root, real) });
    } else if (st.isFile()) addFile(real);
    else skip('not a regular file');
  }
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EACCES' || err.code === 'EPERM') return `permission denied (${err.code})`;
  return err.code ? `${err.code}: ${err.message.replace(/^\w+: /, '')}` : String(err.message ?? e);
}
