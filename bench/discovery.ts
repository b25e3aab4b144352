/**
 * How long `discover --dry-run` takes over a large project tree: 100,000 files in a temp
 * folder (mostly data, images, docs and library code, 1 in 50 a cron-style script, plus a
 * node_modules the scan must skip), against a temp SQLite database.
 *
 *   node --import tsx bench/discovery.ts [--files N]
 *
 * Prints `discovery_100k_files_seconds <v>` (goal: < 10 s) and the number of scripts found.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { VirtualClock } from '../src/clock.js';
import { discover } from '../src/discovery/discover.js';
import { JobManager } from '../src/jobs/manager.js';
import { openDatabase } from '../src/storage/database.js';

const i = process.argv.indexOf('--files');
const FILES = i >= 0 ? Number(process.argv[i + 1]) : 100_000;
const PER_DIR = 50;

const KINDS: [string, string, number][] = [
  ['csv', 'id,name\n1,a\n', 0o644],
  ['json', '{"a":1}\n', 0o644],
  ['md', '# Notes\n', 0o644],
  ['png', '\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 0o644],
  ['txt', 'plain text\n', 0o644],
  ['log', 'line\n', 0o644],
  ['html', '<p>x</p>\n', 0o644],
  ['', 'no extension, not executable\n', 0o644],
];
const SCRIPTS: [string, string, number][] = [
  ['php', '<?php\n/**\n * Processes the order queue.\n * @cron */5 * * * *\n */\nwork();\n', 0o644],
  ['sh', '#!/bin/sh\n# Backs up the uploads folder.\ntar czf /tmp/u.tgz /srv/u\n', 0o755],
  ['py', '"""Sends the daily digest."""\nimport os\n', 0o644],
  ['js', '// Syncs the product feed.\nmodule.exports = 1;\n', 0o644],
  ['', '#!/usr/bin/env bash\n# Cleans old sessions.\nfind /tmp -delete\n', 0o755],
];

function build(root: string): number {
  let scripts = 0;
  for (let n = 0; n < FILES; n++) {
    const dir = join(root, n < FILES * 0.1 ? 'node_modules' : 'app', `d${Math.floor(n / (PER_DIR * 20))}`, `s${Math.floor(n / PER_DIR)}`);
    if (n % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    const isScript = n >= FILES * 0.1 && n % 50 === 7;
    const [ext, text, mode] = isScript ? SCRIPTS[(n / 50) % SCRIPTS.length | 0]! : KINDS[n % KINDS.length]!;
    const p = join(dir, `f${n}${ext ? `.${ext}` : ''}`);
    writeFileSync(p, text);
    if (mode !== 0o644) chmodSync(p, mode);
    if (isScript) scripts++;
  }
  return scripts;
}

const tmp = mkdtempSync(join(tmpdir(), 'sc-bench-disc-'));
try {
  const root = join(tmp, 'tree');
  const t0 = performance.now();
  const planted = build(root);
  const built = (performance.now() - t0) / 1000;
  const db = await openDatabase(`sqlite:${join(tmp, 'bench.db')}`);
  const jm = new JobManager(db, new VirtualClock());
  const start = performance.now();
  const r = await discover(jm, [root], { dryRun: true });
  const seconds = (performance.now() - start) / 1000;
  await db.close();
  process.stderr.write(`built ${FILES} files in ${built.toFixed(1)}s; scanned ${r.scanned.files} files in ${r.scanned.dirs} folders; ${r.scanned.scripts} scripts (planted ${planted})\n`);
  if (r.scanned.scripts !== planted) throw new Error(`found ${r.scanned.scripts} scripts, planted ${planted}`);
  process.stdout.write(`discovery_100k_files_seconds ${seconds.toFixed(2)}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
