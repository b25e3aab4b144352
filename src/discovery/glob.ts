/**
 * --include / --exclude patterns. Node 20 has no stable glob matcher, so this is a small
 * one with gitignore-like rules: a pattern without "/" matches a file or folder name at any
 * depth; a pattern with "/" matches the path relative to the root. `**` crosses folders,
 * `*` and `?` do not; `[a-z]`, `[!x]` and `{a,b}` work as in a shell.
 */
import { ValidationError } from '../errors.js';

export interface Glob {
  readonly pattern: string;
  /** True for a path relative to the root (posix separators) or, for name patterns, its last part. */
  matches(relPath: string): boolean;
}

export function compileGlob(pattern: string, flag = '--include'): Glob {
  const p = pattern.trim();
  if (!p) throw new ValidationError(`${flag}: empty glob pattern (expected e.g. "*.php" or "cron/**")`, flag);
  const anchored = p.includes('/');
  const body = p.replace(/^\.?\//, '').replace(/\/$/, '');
  const re = new RegExp(`^${toRegex(body, pattern, flag)}$`);
  return {
    pattern,
    matches(relPath) {
      if (anchored) return re.test(relPath);
      const slash = relPath.lastIndexOf('/');
      return re.test(slash < 0 ? relPath : relPath.slice(slash + 1));
    },
  };
}

function toRegex(p: string, original: string, flag: string): string {
  const bad = (why: string) => new ValidationError(`${flag}: bad glob "${original}": ${why}`, flag);
  let out = '';
  let braces = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      if (i + 1 >= p.length) throw bad('it ends with a lone backslash');
      out += escapeRe(p[++i]!);
    } else if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        // "**/" also matches zero folders, so "a/**/b" matches "a/b".
        if (p[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) throw bad(`unclosed "[" at position ${i + 1}`);
      let cls = p.slice(i + 1, end);
      if (cls.startsWith('!') || cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      out += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}') {
      if (braces === 0) throw bad(`"}" at position ${i + 1} without a "{"`);
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += escapeRe(c);
  }
  if (braces > 0) throw bad('unclosed "{"');
  try {
    new RegExp(out);
  } catch (e) {
    throw bad((e as Error).message);
  }
  return out;
}

function escapeRe(c: string): string {
  return /[.+^$()|[\]{}\\*?]/.test(c) ? `\\${c}` : c;
}
