/**
 * What a crontab's shell line really runs: its simple commands, each as words, without what
 * only decides whether, where or how they run. Debian's `test -x /usr/sbin/logrotate &&
 * /usr/sbin/logrotate /etc/logrotate.conf` runs logrotate; `test` and the path it checks are a
 * guard and say nothing about the job (a guard `test -e /run/systemd/system ||` even means the
 * job runs where that path is absent). Naming and classifying an imported entry read this.
 *
 * Left out: guards and builtins (test, [ ], command -v, exit, sleep …), shell keywords (if,
 * then, { …), variable assignments, redirections with their files, and wrappers with their
 * options and arguments (nice -n 19, ionice -c3, timeout 1h, flock -n LOCKFILE, sudo -u USER,
 * env …). `cd DIR` gives the folder the commands after it run in. `sh -c '…'` and
 * `flock LOCK -c '…'` are read for the line they run.
 *
 * It reads, never runs: nothing is expanded, and a line it cannot follow (case, for) gives
 * fewer commands, never an error.
 */

export interface ShellLine {
  /** Each command the line runs, as words: the program first. */
  commands: string[][];
  /** Folders the line cd's into. */
  dirs: string[];
}

/** Words that start or end a compound command; the command proper follows them. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'esac']);
/** Compound commands whose words this reader does not follow: `for x in a b` names no program. */
const UNFOLLOWED = new Set(['for', 'case', 'select', 'function']);
/** Builtins and checks that decide whether or when the job runs, or set up its shell: not the job. */
const NOT_THE_JOB = new Set([
  'test', '[', '[[', 'true', 'false', ':', 'exit', 'return', 'export', 'set', 'unset', 'umask', 'ulimit',
  'source', '.', 'sleep', 'shift', 'wait', 'read', 'trap', 'readonly', 'local', 'declare', 'typeset',
  'alias', 'hash', 'type', 'which', 'eval', 'popd', 'break', 'continue',
]);
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh']);

/**
 * Programs that run the command after their own options and arguments: the options that take
 * a value (as the next word), how many arguments come before the command, and the option
 * whose value is a shell line instead of a command.
 */
const WRAPPERS: Record<string, { valued: string[]; args?: number; lineOption?: string[] }> = {
  nice: { valued: ['-n', '--adjustment'] },
  ionice: { valued: ['-c', '-n', '-p', '-P', '-u', '--class', '--classdata', '--pid', '--pgid', '--uid'] },
  timeout: { valued: ['-s', '-k', '--signal', '--kill-after'], args: 1 },
  flock: { valued: ['-w', '-E', '--wait', '--timeout', '--conflict-exit-code'], args: 1, lineOption: ['-c', '--command'] },
  sudo: { valued: ['-u', '-g', '-C', '-D', '-h', '-p', '-r', '-t', '-T', '-U', '--user', '--group', '--close-from', '--chdir', '--host', '--prompt', '--role', '--type', '--command-timeout', '--other-user'] },
  env: { valued: ['-u', '-C', '--unset', '--chdir'] },
  stdbuf: { valued: ['-i', '-o', '-e', '--input', '--output', '--error'] },
  exec: { valued: ['-a'] },
  command: { valued: [] },
  nohup: { valued: [] },
  time: { valued: [] },
  chronic: { valued: [] },
  setsid: { valued: [] },
};

const ASSIGNMENT = /^[A-Za-z_]\w*\+?=/;

export function readShellLine(line: string): ShellLine {
  const out: ShellLine = { commands: [], dirs: [] };
  for (const words of simpleCommands(line)) take(words, out);
  return out;
}

/** The last word of a path: the program's own name. */
function base(w: string): string {
  return w.slice(w.lastIndexOf('/') + 1);
}

function take(ws: string[], out: ShellLine): void {
  let i = 0;
  while (i < ws.length && (KEYWORDS.has(ws[i]!) || ASSIGNMENT.test(ws[i]!))) i++;
  const w = ws[i];
  if (w === undefined || UNFOLLOWED.has(w) || NOT_THE_JOB.has(w)) return;
  if (w === 'cd' || w === 'pushd') {
    const dir = ws.slice(i + 1).find((x) => !x.startsWith('-'));
    if (dir) out.dirs.push(dir);
    return;
  }
  // `command -v debian-sa1` asks whether it exists: a guard.
  if (w === 'command' && /^-[a-zA-Z]*[vV]/.test(ws[i + 1] ?? '')) return;
  const wrapper = WRAPPERS[base(w)];
  if (wrapper) return unwrap(ws.slice(i + 1), wrapper, out);
  if (SHELLS.has(base(w))) {
    const rest = ws.slice(i + 1);
    const c = rest.findIndex((x) => /^-[a-z]*c[a-z]*$/.test(x));
    const script = rest.slice(c + 1).find((x) => !x.startsWith('-') && !x.startsWith('+'));
    if (c >= 0 && script !== undefined) {
      const inner = readShellLine(script);
      out.commands.push(...inner.commands);
      out.dirs.push(...inner.dirs);
      return;
    }
  }
  out.commands.push(ws.slice(i));
}

function unwrap(ws: string[], wrapper: (typeof WRAPPERS)[string], out: ShellLine): void {
  let i = 0;
  while (i < ws.length && ws[i]!.startsWith('-') && ws[i] !== '-') {
    const opt = ws[i]!;
    i++;
    if (opt === '--') break;
    // -n 19 takes the next word; -n19 and --adjustment=19 carry their value.
    if (wrapper.valued.includes(opt)) i++;
  }
  i += wrapper.args ?? 0;
  if (wrapper.lineOption?.includes(ws[i] ?? '')) {
    const inner = ws[i + 1] === undefined ? null : readShellLine(ws[i + 1]!);
    if (inner) {
      out.commands.push(...inner.commands);
      out.dirs.push(...inner.dirs);
    }
    return;
  }
  // What follows may itself start with assignments (env A=1 cmd) or another wrapper (nice ionice cmd).
  take(ws.slice(i), out);
}

/**
 * The line's simple commands as words, split where the shell splits them (&&, ||, ;, |, &,
 * parentheses, newlines), quotes and backslashes resolved, redirections and their files
 * dropped, `$(…)` and backquotes kept inside their word, a `#` comment ignored.
 */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let cur = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(cur);
    cur = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  let i = 0;
  /** Reads a quoted part or an escape at i into cur; false when line[i] is neither. */
  const quoted = (): boolean => {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) i++;
        cur += line[i++];
      }
      i++;
    } else if (c === '\\') {
      cur += line[i + 1] ?? '';
      i += 2;
    } else if (c === '`') {
      const end = line.indexOf('`', i + 1);
      const stop = end < 0 ? line.length : end + 1;
      cur += line.slice(i, stop);
      i = stop;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      const start = i;
      for (; i < line.length; i++) {
        if (line[i] === '(') depth++;
        else if (line[i] === ')' && --depth === 0) break;
      }
      i++;
      cur += line.slice(start, i);
    } else return false;
    inWord = true;
    return true;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (quoted()) continue;
    if (c === '#' && !inWord) break;
    if (c === '<' || c === '>' || (c === '&' && line[i + 1] === '>')) {
      // A redirection: 2>&1, >>log, </dev/null, &>out. Digits just before it are its file descriptor.
      if (!/^\d+$/.test(cur)) endWord();
      cur = '';
      inWord = false;
      while (i < line.length && '<>&|'.includes(line[i]!)) i++;
      while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
      while (i < line.length && !/[\s;&|()<>]/.test(line[i]!)) if (!quoted()) cur += line[i++];
      cur = '';
      inWord = false;
      continue;
    }
    if (';&|()\n'.includes(c)) {
      endCommand();
      i++;
      continue;
    }
    if (c === ' ' || c === '\t') endWord();
    else {
      cur += c;
      inWord = true;
    }
    i++;
  }
  endCommand();
  return commands;
}
