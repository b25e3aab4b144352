import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guessCategory, guessPriority, guessSchedule } from '../../src/discovery/classify.js';
import { nameFromPath } from '../../src/discovery/analyze.js';
import { parseShebang } from '../../src/discovery/detect.js';
import { estimateCost } from '../../src/discovery/estimate.js';
import { compileGlob } from '../../src/discovery/glob.js';
import { cronInText, parseDuration, parseMemory, parseMetadata } from '../../src/discovery/metadata.js';
import { reasonFor, standingReasons, warningsOf } from '../../src/discovery/reasons.js';

test('cron expressions in prose: found when they are one, not when prose only looks like fields', () => {
  const cases: [string, string | null][] = [
    ['Run every 5 minutes: */5 * * * *', '*/5 * * * *'],
    ['crontab: 15 3 * * * /usr/bin/php x.php', '15 3 * * *'],
    ['Schedule: 0 9 * * mon-fri', '0 9 * * mon-fri'],
    ['Runs @hourly', '@hourly'],
    ['version 1 2 3 4 5 of the tool', null],
    ['for the new log and more', null],
    ['at 61 * * * * it breaks', null],
    ['email me@daily.example.com', null],
    // Six fields are the seconds-first form, as @cron takes them: never five of them and a star.
    ['Schedule: 0 0 */6 * * *', '0 0 */6 * * *'],
    ['Runs at: 30 0 */6 * * *', '30 0 */6 * * *'],
    ['0 3 * * * sun', '0 3 * * * sun'],
    ['crontab: 15 3 * * * www-data /usr/bin/x', '15 3 * * *'],
    ['crontab: 15 3 * * * www /usr/bin/x', '15 3 * * *'],
    ['at 0 0 */6 * * 100 it breaks', null],
  ];
  for (const [line, want] of cases) assert.equal(cronInText(line), want, line);
});

test('header styles of each language give the description and annotations', () => {
  const cases: [string, string | null, string | undefined][] = [
    ['<?php\n/**\n * Does A. And more.\n * @cron 0 1 * * *\n */', 'Does A.', '0 1 * * *'],
    ['#!/bin/bash\n# Does B!\n# @schedule @weekly\nrun', 'Does B!', '@weekly'],
    ['#!/usr/bin/env python3\n"""Does C\nover two lines.\n\n@cron 5 * * * *\n"""', 'Does C over two lines.', '5 * * * *'],
    ["'use strict';\n// Does D.\n// @cron 1 2 3 4 5\nx()", 'Does D.', '1 2 3 4 5'],
    ['/* Does E. */\nimport x from "y";', 'Does E.', undefined],
    ['# Copyright 2020 Me\n# License: MIT\n\n# Does F.\nx', 'Does F.', undefined],
    ['echo no header\n# Too late.', null, undefined],
    // An editor's byte order mark before the shebang or the first comment.
    ['\uFEFF#!/bin/bash\n# Does G.\n# @cron 0 5 * * *\nx', 'Does G.', '0 5 * * *'],
    ['\uFEFF<?php\n/** Does H. */', 'Does H.', undefined],
  ];
  for (const [text, description, schedule] of cases) {
    const m = parseMetadata(text);
    assert.equal(m.description, description, text);
    assert.equal(m.annotations.schedule, schedule, text);
  }
});

test('a "Description:" line is the description; a "Schedule:" line that is no schedule is said, not dropped', () => {
  const lsb = parseMetadata('#!/bin/bash\n# rotate.sh\n# Description: rotate the logs. Keeps 7.\n# Schedule: every night\nx');
  assert.equal(lsb.description, 'rotate the logs.');
  assert.equal(lsb.scheduleWords, 'every night', 'words for the guess');
  assert.deepEqual(lsb.warnings, []);
  const typo = parseMetadata('#!/usr/bin/python3\n"""Sync CRM contacts."""\n# schedule: 61 * * * *\n');
  assert.equal(typo.commentSchedule, undefined);
  assert.equal(typo.description, 'Sync CRM contacts.');
  assert.deepEqual(typo.warnings, ['comment "schedule: 61 * * * *": minute field "61" in "61 * * * *": 61 is out of range (expected 0-59); ignored']);
  assert.match(parseMetadata('# cron = @fortnightly\n').warnings[0] ?? '', /^comment "cron = @fortnightly": unknown macro "@fortnightly"/);
  // Prose that only starts like a label is prose.
  assert.equal(parseMetadata('# Runs: nightly, via cron.\n').description, 'Runs: nightly, via cron.');
});

test('a schedule in words, when the header has none: schedule comment, then description, name, folders', () => {
  const cases: [Parameters<typeof guessSchedule>[0], string | null, string | null][] = [
    [{ name: 'sync', description: 'Sync CRM contacts every hour.' }, '@hourly', '"every hour" in description'],
    [{ name: 'poll', description: 'Polls the feed every 5 minutes' }, '*/5 * * * *', '"every 5 minutes" in description'],
    [{ name: 'x', description: 'Runs every 6 hours' }, '0 */6 * * *', '"every 6 hours" in description'],
    [{ name: 'x', description: 'every 90 minutes' }, null, null],
    [{ name: 'nightly-dump' }, '@daily', '"nightly" in name'],
    [{ name: 'hourly_stats' }, '@hourly', '"hourly" in name'],
    [{ name: 'x', folders: 'jobs/weekly' }, '@weekly', '"weekly" in folders'],
    [{ name: 'daily', scheduleWords: 'every month', description: 'hourly' }, '@monthly', '"every month" in the schedule comment'],
    [{ name: 'dailymotion-import', description: 'Imports the monthlyreport feed' }, null, null],
    [{ name: 'process_queue', description: null }, null, null],
  ];
  for (const [texts, value, reason] of cases) {
    const g = guessSchedule(texts);
    assert.deepEqual(g && [g.value, g.reason], value === null ? null : [value, reason], JSON.stringify(texts));
  }
});

test('durations, sizes and shebangs', () => {
  assert.deepEqual(['90', '90s', '5m', '2h', '1.5h', 'soon', '0'].map(parseDuration), [90, 90, 300, 7200, 5400, null, null]);
  assert.deepEqual(['512', '512M', '2G', '1.5gb', '2048k', 'lots'].map(parseMemory), [512, 512, 2048, 1536, 2, null]);
  const sb = (s: string) => parseShebang(Buffer.from(s))?.interpreter ?? null;
  assert.deepEqual(['#!/bin/sh\n', '#!/usr/bin/env -S node --no-warnings\n', '#!/usr/bin/env VAR=1 python3\n', '#!/usr/bin/php8.2\n', 'echo'].map(sb), ['sh', 'node', 'python3', 'php8.2', null]);
});

test('category, priority and estimate rules (the seed\'s example included)', () => {
  const t = { name: 'process_queue', description: 'Processes the queue.', folders: 'queue/bin' };
  const c = guessCategory(t);
  assert.deepEqual(c, { value: 'business', reason: 'keyword "queue" in name' });
  assert.deepEqual(guessPriority(t, c.value), { value: 'medium', reason: 'default for category business' });
  const e = estimateCost({ category: 'business', type: 'php', sizeBytes: 2000, texts: [t.name, t.description] });
  assert.deepEqual([e.estimated_memory_mb, e.timeout_seconds, e.memory_weight], [512, 300, 1]);
  assert.equal(guessCategory({ name: 'render_templates' }).value, 'other', '"temp" is a whole word only');
  assert.equal(guessCategory({ name: 'x' }, 'custom').reason, 'annotation @category');
  assert.equal(guessPriority({ name: 'renew_ssl' }, 'maintenance').value, 'critical');
  const heavy = estimateCost({ category: 'import_export', type: 'python', sizeBytes: 200_000, texts: ['bulk_import'] });
  assert.ok(heavy.memory_weight > 1.5, 'big imports land in the heavy slot');
  assert.ok(estimateCost({ category: 'monitoring', type: 'bash', texts: [] }).memory_weight < 0.5, 'checks land in the light slot');
});

test('globs: names at any depth, paths from the root, ** across folders', () => {
  const cases: [string, string, boolean][] = [
    ['*.php', 'a/b/c.php', true],
    ['*.php', 'a/b/c.py', false],
    ['cron/**', 'cron/a/b.sh', true],
    ['cron/*', 'cron/a/b.sh', false],
    ['a/**/b.sh', 'a/b.sh', true],
    ['{bin,sbin}/*', 'sbin/x', true],
    ['[!t]*.sh', 'x/test.sh', false],
    ['f?o', 'foo', true],
  ];
  for (const [g, p, want] of cases) assert.equal(compileGlob(g).matches(p), want, `${g} ~ ${p}`);
  for (const bad of ['[abc', '{a,b', 'a}', 'x\\', '  ']) assert.throws(() => compileGlob(bad), /--include: (bad|empty) glob/, bad);
});

test('discovery reasons: what still stands, the crontab line as the schedule reason, warnings', () => {
  const info = { schedule_source: 'comment "Schedule: 0 2 * * *"', category_reason: 'keyword "dump" in name', priority_reason: 'default for category backup', estimate_reason: 'backup baseline', warnings: ['@memory "lots": expected a size; ignored'] };
  assert.deepEqual(standingReasons(info).map(([g]) => g), ['schedule', 'category', 'priority', 'memory']);
  // A field a person set is theirs: its reason no longer explains it.
  assert.deepEqual(standingReasons(info, ['priority', 'timeout_seconds']).map(([g]) => g), ['schedule', 'category']);
  assert.deepEqual(warningsOf(info), ['@memory "lots": expected a size; ignored']);
  assert.equal(reasonFor({ file: '/etc/crontab', line: 12 }, 'schedule'), 'crontab line /etc/crontab:12');
  assert.deepEqual(standingReasons({}), []);
});

test('control characters in a header never reach the description, the warnings or the schedule source', () => {
  const m = parseMetadata('#!/bin/sh\n# Clears \x1b[2Jthe\x07 screen\u202e.\n# Schedule: 0 2 * * *\x07\n# @memory \x1b[31mlots\n');
  assert.equal(m.description, 'Clears [2Jthe screen.');
  assert.deepEqual(m.commentSchedule, { expression: '0 2 * * *', line: 'Schedule: 0 2 * * *' });
  assert.deepEqual(m.warnings, ['@memory "[31mlots": expected megabytes or a size such as 512M, 2G; ignored']);
  assert.equal(parseShebang(Buffer.from('#!/bin/sh\x1b]0;owned\x07\n'))?.line, '#!/bin/sh]0;owned');
});

test('a cron step in a PHP docblock ends the comment there: said how to fix, and the annotations after it still count', () => {
  const m = parseMetadata('<?php\n/**\n * Sends the queued mails.\n * @cron */5 * * * *\n * @memory 300M\n * @timeout 2m\n */\n', 'php');
  assert.deepEqual(m.warnings, ['`*/` in "@cron */5 * * * *" ends the PHP comment: write the step as 0-59/5, or use a # comment']);
  assert.deepEqual(m.annotations, { schedule: '*/5 * * * *', estimated_memory_mb: 300, timeout_seconds: 120 });
  assert.equal(m.description, 'Sends the queued mails.');
  // The step of another field, on one line; JavaScript has no # comments.
  assert.deepEqual(parseMetadata('/** @cron 0 */6 * * * */\nrun()', 'node').warnings, ['`*/` in "@cron 0 */6 * * *" ends the JavaScript comment: write the step as 0-23/6, or use a // comment']);
  assert.deepEqual(parseMetadata('<?php\n/**\n * @cron 0-59/5 * * * *\n */', 'php').warnings, [], 'the fix is quiet');
});

test('a found script’s job name is never a number (a job id) nor a name an API route takes', () => {
  assert.equal(nameFromPath('cron/backup.sh'), 'cron/backup');
  assert.equal(nameFromPath('15.sh'), 'script-15');
  assert.equal(nameFromPath('list.sh'), 'script-list', 'GET /api/jobs/list is the list');
  assert.equal(nameFromPath('history'), 'script-history');
  assert.equal(nameFromPath('tools/list.sh'), 'tools/list', 'only the whole name clashes');
});
