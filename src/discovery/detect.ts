/**
 * Is this file a script, and of which type? Decided from the extension, the shebang, the
 * ELF magic and the executable bit, reading only the head of the file so a 2 GB log
 * costs the same as a 2 KB script.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { ScriptType } from '../storage/schema.js';
import { stripControl } from './control-chars.js';

/** How much of each file is read: enough for any header comment, cheap for huge files. */
export const HEAD_BYTES = 16 * 1024;

export interface FileHead {
  head: Buffer;
  size: number;
  mode: number;
}

/** Reads the head of a file; injectable so tests can make a read fail even when running as root. */
export type HeadReader = (path: string) => FileHead;

export const readHead: HeadReader = (path) => {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const buf = Buffer.allocUnsafe(Math.min(HEAD_BYTES, st.size));
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
    }
    return { head: buf.subarray(0, n), size: st.size, mode: st.mode };
  } finally {
    closeSync(fd);
  }
};

const EXTENSIONS: Record<string, ScriptType> = {
  php: 'php',
  sh: 'bash',
  bash: 'bash',
  py: 'python',
  js: 'node',
  mjs: 'node',
  cjs: 'node',
  ts: 'node',
  mts: 'node',
  cts: 'node',
};

/**
 * Extensions that are never a cron script, skipped without a stat: in a large tree most
 * files are these, and a stat each is most of the scan's cost.
 */
const NOT_SCRIPTS = new Set(
  ('txt md markdown rst csv tsv json jsonl xml yml yaml toml ini conf cfg lock log map html htm css scss less svg ' +
    'png jpg jpeg gif webp ico bmp tif tiff pdf doc docx xls xlsx ppt odt zip gz tgz bz2 xz zst 7z rar tar ' +
    'mp3 mp4 wav ogg webm mov avi woff woff2 ttf otf eot sql sqlite db bak tmp swp o a so dll class jar pyc wasm ' +
    'jsx tsx vue svelte twig blade inc tpl phtml go rs c h cc cpp hpp java kt swift cs').split(' '),
);

/**
 * Files with a script extension that are libraries, not something cron runs. Tests and packaging
 * are the scanner's rule (TEST_FILES in scanner.ts), which an --include can override.
 */
const NOT_ENTRY_POINTS = /(\.d\.[cm]?ts|\.min\.js)$/;

const INTERPRETERS: [RegExp, ScriptType][] = [
  [/^php(\d[\d.]*)?(-cli)?$/, 'php'],
  [/^(ba|da|z|k|a)?sh$/, 'bash'],
  [/^(python|pypy)(\d[\d.]*)?$/, 'python'],
  [/^(node|nodejs|tsx|ts-node)$/, 'node'],
];

export interface Detection {
  type: ScriptType;
  /** Why: "extension .php", "shebang #!/usr/bin/env python3", "ELF executable". */
  reason: string;
  /** The interpreter named by the shebang, when there is one. */
  interpreter?: string;
}

export type DetectResult = { script: true; detection: Detection; head: FileHead } | { script: false; why: string };

export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/** Decide without reading when the name alone says no (most files of a large tree). */
export function detect(path: string, read: HeadReader = readHead): DetectResult {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const ext = extensionOf(base);
  const byExt = EXTENSIONS[ext];
  if (byExt && NOT_ENTRY_POINTS.test(base)) return { script: false, why: 'library file' };
  if (!byExt && NOT_SCRIPTS.has(ext)) return { script: false, why: 'not a script' };
  if (!byExt) {
    // Without a script extension only an executable can be a script: one stat, no read.
    const st = statSync(path);
    if ((st.mode & 0o111) === 0) return { script: false, why: 'not a script' };
  }
  const fh = read(path);
  if (fh.size === 0) return { script: false, why: 'empty file' };
  const exec = (fh.mode & 0o111) !== 0;
  const h = fh.head;
  if (h.length >= 4 && h[0] === 0x7f && h[1] === 0x45 && h[2] === 0x4c && h[3] === 0x46) {
    return exec ? { script: true, detection: { type: 'executable', reason: 'ELF executable' }, head: fh } : { script: false, why: 'binary without exec bit' };
  }
  if (h.subarray(0, 8192).includes(0)) return { script: false, why: 'binary data' };
  const shebang = parseShebang(h);
  if (shebang) {
    const type = INTERPRETERS.find(([re]) => re.test(shebang.interpreter))?.[1];
    if (type) return { script: true, detection: { type, reason: `shebang ${shebang.line}`, interpreter: shebang.interpreter }, head: fh };
    if (exec) return { script: true, detection: { type: 'executable', reason: `shebang ${shebang.line}`, interpreter: shebang.interpreter }, head: fh };
    if (!byExt) return { script: false, why: 'not executable' };
  }
  if (byExt) return { script: true, detection: { type: byExt, reason: `extension .${ext}` }, head: fh };
  if (exec && h.subarray(0, 5).toString('latin1').toLowerCase() === '<?php') {
    return { script: true, detection: { type: 'php', reason: 'executable starting with <?php' }, head: fh };
  }
  return { script: false, why: exec ? 'executable text without a shebang' : 'not a script' };
}

export function parseShebang(head: Buffer): { line: string; interpreter: string } | null {
  if (head.length < 3 || head[0] !== 0x23 || head[1] !== 0x21) return null;
  const end = head.indexOf(0x0a);
  // Kept in discovery_info (type_reason) and shown by review: no control characters.
  const line = stripControl(head.subarray(0, end < 0 ? Math.min(head.length, 256) : end).toString('utf8')).trim();
  const words = line.slice(2).trim().split(/\s+/);
  let prog = words[0] ?? '';
  let base = prog.slice(prog.lastIndexOf('/') + 1);
  if (base === 'env') {
    // `#!/usr/bin/env -S node --flag`, `#!/usr/bin/env VAR=1 python3`
    prog = words.slice(1).find((w) => !w.startsWith('-') && !w.includes('=')) ?? '';
    base = prog.slice(prog.lastIndexOf('/') + 1);
  }
  return base ? { line, interpreter: base } : null;
}
