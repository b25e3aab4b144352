/**
 * Run the real CLI as a child process: the sources (`node --import tsx src/cli/main.ts …`), or
 * with `built` as users run it, `bin/smart-cron.js` (the bundle in dist/).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/smart-cron.js', import.meta.url));
/** A guard against a hung CLI, not a performance limit: a loaded CI machine can take long to start Node + tsx. */
const DEFAULT_TIMEOUT = Number(process.env.SMART_CRON_TEST_CLI_TIMEOUT_MS) || 240_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  args: string[];
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** bin/smart-cron.js, which runs dist/ when it is built, instead of the sources. */
  built?: boolean;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env };
    if (opts.built) delete env.SMART_CRON_FROM_SOURCE;
    const child = spawn(process.execPath, opts.built ? [BIN, ...args] : ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`smart-cron ${args.join(' ')}: no exit after ${opts.timeoutMs ?? DEFAULT_TIMEOUT} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, args });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Run many CLI calls, a few at a time (each is a Node process compiling TypeScript). */
export async function runAll(calls: string[][], opts: CliOptions = {}, parallel = 4): Promise<CliResult[]> {
  const out: CliResult[] = new Array(calls.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, calls.length) }, async () => {
      while (next < calls.length) {
        const i = next++;
        out[i] = await runCli(calls[i]!, opts);
      }
    }),
  );
  return out;
}

export function describe(r: CliResult): string {
  return `smart-cron ${r.args.join(' ')} -> exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
