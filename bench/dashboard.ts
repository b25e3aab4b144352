/**
 * Dashboard first render at scale: 10,000 jobs and 100,000 runs in a temp SQLite file, the
 * API and the built dashboard on 127.0.0.1, and Chromium loading it signed in. Measures from
 * navigation start until the page shows its data, by the page's own clock (median of 5 loads,
 * each in a fresh tab).
 *
 *   node --import tsx bench/dashboard.ts [--jobs N] [--runs N]
 *
 * Prints `dashboard_first_render_ms <v>` (the overview; goal <= 1000) and
 * `dashboard_jobs_first_render_ms <v>` (the jobs list's first page).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildServer, startServer } from '../src/api/server.js';
import { loadConfig } from '../src/config/load.js';
import { openApp } from '../src/daemon/app.js';
import { EventBus } from '../src/events.js';
import type { Executor } from '../src/execution/types.js';
import { CHROMIUM, ensureWebBuilt, launchChromium, ROOT } from '../test/e2e/harness.js';
import { seed } from './api.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const JOBS = arg('jobs', 10_000);
const RUNS = arg('runs', 100_000);
const LOADS = 5;

const idle: Executor = {
  requestRun: () => Promise.reject(new Error('not in the bench')),
  cancelRun: () => Promise.reject(new Error('not in the bench')),
  slots: async () => [],
  queued: async () => [],
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!existsSync(CHROMIUM)) {
  console.error(`dashboard bench skipped: ${CHROMIUM} not found`);
  process.exit(0);
}

ensureWebBuilt();
const dir = mkdtempSync(join(tmpdir(), 'smart-cron-bench-web-'));
try {
  const app = await openApp({ config: loadConfig({ home: dir, env: {}, nodeId: 'bench' }) });
  let t = performance.now();
  await seed(app.database.db, JOBS, RUNS);
  console.error(`seeded ${JOBS} jobs and ${RUNS} runs in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const token = randomBytes(32).toString('hex');
  const server = buildServer({ app, executor: idle, bus: new EventBus(), token, webRoot: join(ROOT, 'dist', 'web') });
  const base = await startServer(server, { host: '127.0.0.1', port: 0, allow_remote: false });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    // Sign in once; the session cookie is shared by the context's tabs, each tab gets its CSRF value from GET /api/session.
    const first = await context.newPage();
    await first.goto(base);
    await first.getByTestId('token-input').fill(token);
    await first.getByTestId('signin-submit').click();
    await first.getByTestId('page-overview').waitFor();
    await first.close();

    const measure = async (hash: string, ready: string): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < LOADS + 1; i++) {
        const page = await context.newPage();
        await page.goto(`${base}/${hash}`, { waitUntil: 'commit' });
        // Read the clock inside the page, on the frame the data appears: from navigation start, without the driver's round trips.
        const handle = await page.waitForFunction(`document.querySelector(${JSON.stringify(ready)}) ? performance.now() : 0`, undefined, { timeout: 30_000, polling: 'raf' });
        const ms = Number(await handle.jsonValue());
        if (i > 0) times.push(ms); // the first load warms the server's caches and the browser's
        await page.close();
      }
      return median(times);
    };

    console.log(`dashboard_first_render_ms ${(await measure('#/', '[data-testid=count-healthy]')).toFixed(0)}`);
    console.log(`dashboard_jobs_first_render_ms ${(await measure('#/jobs', '[data-testid=jobs-table] tbody tr:nth-child(50)')).toFixed(0)}`);
  } finally {
    await browser.close();
    await server.close();
    await app.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
