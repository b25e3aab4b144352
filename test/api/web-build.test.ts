/**
 * staleDashboard: in a checkout whose web/src changed after the dashboard was built, the daemon
 * says it serves the older build; an installed package (no web/src) or no build says nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { staleDashboard } from '../../src/api/server.js';
import { tempDir } from '../helpers/tmp.js';

test('the dashboard build is stale once a web/src file changed after it, and only then', () => {
  const root = tempDir('smart-cron-webbuild-');
  const web = join(root, 'dist/web');
  const src = join(root, 'web/src');
  mkdirSync(web, { recursive: true });
  mkdirSync(join(src, 'pages'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<div id="app"></div>');
  writeFileSync(join(src, 'pages/Overview.tsx'), 'export {};');
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(src, 'pages/Overview.tsx'), old, old);
  utimesSync(join(src, 'pages'), old, old);
  assert.equal(staleDashboard(web, src), null, 'built after the sources');
  utimesSync(join(src, 'pages/Overview.tsx'), new Date(), new Date());
  assert.equal(staleDashboard(web, src), join('web', 'src', 'pages', 'Overview.tsx'));
  assert.equal(staleDashboard(web, join(root, 'no-sources')), null, 'an installed package has no web/src');
  assert.equal(staleDashboard(join(root, 'not-built'), src), null, 'nothing built: nothing served, nothing to say');
});
