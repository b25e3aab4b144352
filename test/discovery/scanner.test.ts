/**
 * The scanner on real files in a temp folder: a project's tests and packaging are left out with
 * their own skip reason, and an --include that names and matches one takes it all the same.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { compileGlob } from '../../src/discovery/glob.js';
import { scan, TEST_SKIP } from '../../src/discovery/scanner.js';
import { tempDir } from '../helpers/tmp.js';

// What pointing discovery at /opt/app finds: its cron scripts, and beside them its tests and packaging.
const SCRIPTS = ['bin/nightly_report.py', 'cron/purge.sh', 'cron/sync.js', 'app/Console/SendMail.php', 'lib/latest.php', 'testing/smoke.sh', 'contest.py'];
const TESTS = [
  'test_orders.py',
  'app/orders_test.py',
  'conftest.py',
  'setup.py',
  'app/__init__.py',
  'web/cart.test.js',
  'web/cart.test.ts',
  'web/cart.test.mjs',
  'web/cart.spec.js',
  'web/cart.spec.ts',
  'app/OrderTest.php',
];
// Files of any name under folders of tests: counted once per folder, not walked.
const IN_TEST_DIRS = ['tests/run_all.sh', 'app/test/fixtures/seed.py', 'web/__tests__/cart.js', 'spec/billing.php'];

let root: string;

before(() => {
  root = join(tempDir('sc-scan-'), 'app');
  for (const rel of [...SCRIPTS, ...TESTS, ...IN_TEST_DIRS]) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), '#!/bin/sh\ntrue\n', { mode: 0o755 });
  }
  // A link named as a folder of tests is one too.
  symlinkSync('../tests', join(root, 'lib/tests'));
});

const rels = (r: ReturnType<typeof scan>) => r.files.map((f) => f.rel).sort();

test('tests and packaging are left out, counted under their own reason; scripts with similar names are not', () => {
  const r = scan([root]);
  assert.deepEqual(rels(r), [...SCRIPTS].sort());
  // Each file by name, each folder of tests once (its files are not walked), and the link to one.
  assert.equal(r.skipped[TEST_SKIP], TESTS.length + IN_TEST_DIRS.length + 1);
  assert.deepEqual(r.problems, []);
});

test('the rule is by name at any depth, never the root itself: scanning a tests folder takes its files', () => {
  const r = scan([join(root, 'tests')]);
  assert.deepEqual(rels(r), ['run_all.sh']);
  assert.equal(r.skipped[TEST_SKIP], undefined);
});

test('an --include that matches a test file or a file in a tests folder takes it', () => {
  const cases: [string[], string[]][] = [
    [['test_*.py'], ['test_orders.py']],
    [['tests/**'], ['tests/run_all.sh']],
    [['*.spec.ts', 'spec/*.php'], ['spec/billing.php', 'web/cart.spec.ts']],
    [['*Test.php', 'SendMail.php'], ['app/Console/SendMail.php', 'app/OrderTest.php']],
  ];
  for (const [include, want] of cases) {
    const r = scan([root], { include: include.map((g) => compileGlob(g)) });
    assert.deepEqual(rels(r), want, include.join(' '));
  }
});

test('a broad --include (*.py) does not bring tests and packaging back: only one that names them does', () => {
  const r = scan([root], { include: [compileGlob('*.py')] });
  assert.deepEqual(rels(r), ['bin/nightly_report.py', 'contest.py']);
  // test_orders, orders_test, conftest, setup, __init__; and the folders tests, app/test, web/__tests__, spec, lib/tests.
  assert.equal(r.skipped[TEST_SKIP], 10);
});

test('--exclude still wins over an --include', () => {
  const r = scan([root], { include: [compileGlob('test_*.py')], exclude: [compileGlob('test_orders.py', '--exclude')] });
  assert.deepEqual(rels(r), []);
  assert.equal(r.skipped.excluded, 1);
});
