/**
 * What the browser tests need around them: Chromium (or a loud skip), the built dashboard,
 * and a real daemon on a temp home with its own port, started and stopped through the CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { freePort } from '../helpers/net.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Debian's Chromium; SMART_CRON_CHROMIUM points elsewhere (also how the skip path is checked). */
export const CHROMIUM = process.env.SMART_CRON_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

/**
 * null when the browser tests can run; otherwise why not. Missing Chromium is a loud skip, or,
 * with SMART_CRON_REQUIRE_CHROMIUM=1 (CI), a failure: `required` tells the caller which.
 */
export function chromiumMissing(): { message: string; required: boolean } | null {
  if (existsSync(CHROMIUM)) return null;
  const required = process.env.SMART_CRON_REQUIRE_CHROMIUM === '1';
  const message = required
    ? `E2E FAILED: ${CHROMIUM} not found, and SMART_CRON_REQUIRE_CHROMIUM=1 requires the browser tests (apt-get install chromium fonts-liberation)`
    : `E2E SKIPPED: ${CHROMIUM} not found`;
  const bar = '!'.repeat(message.length + 8);
  process.stderr.write(`\n${bar}\n!!! ${message} !!!\n${bar}\n\n`);
  return { message, required };
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Newest modification time under dir (the dashboard's sources). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build dist/web when it is missing or older than web/: a stale bundle would test yesterday's dashboard. */
export function ensureWebBuilt(): void {
  const index = join(ROOT, 'dist', 'web', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'web'))) return;
  const r = spawnSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vite build web failed:\n${r.stdout}\n${r.stderr}`);
}


export interface Daemon {
  home: string;
  base: string;
  token: string;
  /** The smart-cron CLI on this home: throws with its output when it fails. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
  log(): string;
}

/** `smart-cron init`, then `setup` (add jobs with the CLI), then `smart-cron daemon` on a free port. */
export async function startDaemon(setup: (cli: Daemon['cli'], home: string) => void): Promise<Daemon> {
  const home = mkdtempSync(join(tmpdir(), 'smart-cron-e2e-'));
  const cli = (...args: string[]): string => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--home', home, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    if (r.status !== 0) throw new Error(`smart-cron ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  cli('init');
  const port = await freePort();
  appendFileSync(join(home, 'config.yaml'), `\napi: { host: 127.0.0.1, port: ${port} }\n`);
  setup(cli, home);

  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI, '--home', home, 'daemon'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const base = `http://127.0.0.1:${port}`;
  // Generous: on a busy CI box, loading the program through tsx alone can take many seconds.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}) before it served:\n${output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the daemon did not answer on ${base} within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  return {
    home,
    base,
    token: readFileSync(join(home, 'api-token'), 'utf8').trim(),
    cli,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        // Once the daemon says "stopped" it has nothing left to do; a process that lingers after
        // that is a bug to report, not a reason to make every test run wait for it.
        const deadline = Date.now() + 15_000;
        let stoppedAt = 0;
        while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
          if (!stoppedAt && /\bstopped\b/.test(output)) stoppedAt = Date.now();
          if (stoppedAt && Date.now() - stoppedAt > 2000) break;
          await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
        }
        if (child.exitCode === null && child.signalCode === null) {
          process.stderr.write(`e2e: the daemon ${stoppedAt ? 'logged "stopped" but did not exit within 2 s' : 'did not stop within 15 s of SIGTERM'}; killing it\n`);
          child.kill('SIGKILL');
          await exited;
        }
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}
