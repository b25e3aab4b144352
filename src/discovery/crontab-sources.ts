/**
 * Where crontabs come from: files (user format unless they are /etc/crontab or in a cron.d
 * folder), stdin ("-"), the current user's crontab (`crontab -l`), or with --system
 * /etc/crontab and /etc/cron.d/* (the user field becomes run_as_user).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ValidationError } from '../errors.js';
import { parseCrontab, type ParsedCrontab } from './crontab.js';
import { RUN_PARTS_NAME } from './run-parts.js';

export const SYSTEM_CRONTAB = '/etc/crontab';
export const SYSTEM_CRON_D = '/etc/cron.d';
/** cron (like run-parts) ignores cron.d files whose names have dots, e.g. foo.dpkg-old or .placeholder. */
const CRON_D_NAME = RUN_PARTS_NAME;

export interface SourceOptions {
  /** System format (a user field) for every file, and the system files when no file is given. */
  system?: boolean;
  /** Read "-" from here (tests pass a string). */
  stdin?: () => string;
  /** `crontab -l` for the current user, injectable. */
  userCrontab?: () => string;
  /** What --system reads (tests point it elsewhere): the system crontab and the cron.d folder. */
  systemSources?: readonly [string, string];
}

export function readCrontabs(files: string[], opts: SourceOptions = {}): (ParsedCrontab & { label?: string })[] {
  const out: (ParsedCrontab & { label?: string })[] = [];
  if (files.length === 0) {
    // --system on its own: what the host has of the two (a container may have /etc/cron.d only).
    if (opts.system) {
      const [crontab, cronD] = opts.systemSources ?? [SYSTEM_CRONTAB, SYSTEM_CRON_D];
      files = [crontab, cronD].filter((f) => existsSync(f));
      if (files.length === 0) throw new ValidationError(`--system: neither ${crontab} nor ${cronD} exists on this host (expected cron's system crontab or its cron.d folder)`, 'system');
    } else {
      const text = (opts.userCrontab ?? currentUserCrontab)();
      return [{ ...parseCrontab(text, { file: 'crontab -l', system: false }), label: process.env.USER || 'user' }];
    }
  }
  for (const f of files) {
    if (f === '-') {
      out.push(parseCrontab((opts.stdin ?? (() => readFileSync(0, 'utf8')))(), { file: '-', system: Boolean(opts.system) }));
      continue;
    }
    let st;
    try {
      st = statSync(f);
    } catch (e) {
      throw new ValidationError(`${f}: cannot read the crontab (${codeText(e)})`, 'FILE');
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(f).sort()) {
        if (!CRON_D_NAME.test(name)) continue;
        const p = join(f, name);
        if (statSync(p).isFile()) out.push(parseCrontab(readText(p), { file: p, system: true }));
      }
      continue;
    }
    const system = Boolean(opts.system) || f === SYSTEM_CRONTAB || f.endsWith('/etc/crontab') || basename(dirname(f)) === 'cron.d';
    out.push(parseCrontab(readText(f), { file: f, system }));
  }
  return out;
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new ValidationError(`${p}: cannot read the crontab (${codeText(e)})`, 'FILE');
  }
}

function currentUserCrontab(): string {
  try {
    return execFileSync('crontab', ['-l'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new ValidationError('no FILE given and the `crontab` command is not installed (pass a FILE, or - for stdin)', 'FILE');
    const msg = (err.stderr ?? '').trim();
    if (/no crontab/i.test(msg)) return '';
    throw new ValidationError(`crontab -l failed: ${msg || err.message}`, 'FILE');
  }
}

function codeText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.code ?? err.message;
}
