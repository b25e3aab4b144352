import { ValidationError } from '../errors.js';

/**
 * Split a command line into argv the way a POSIX shell would split words (quotes and
 * backslashes), without expanding anything: `--command` never runs a shell.
 */
export function splitWords(line: string, field = 'command'): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ValidationError(`${field}: unterminated ${quote === '"' ? 'double' : 'single'} quote in "${line}"`, field);
  if (inWord) out.push(cur);
  return out;
}
