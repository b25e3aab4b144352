/**
 * The whole tree type-checks: the daemon's sources, the tests, the benches and scripts
 * (tsconfig.json), and the dashboard (web/tsconfig.json). Nothing else checks them: tsx and Vite
 * strip types without looking at them, and the build checks only src/. A type error in a test or in
 * the dashboard would otherwise pass unnoticed. `npm run typecheck` runs the same.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

async function tsc(project: string): Promise<{ code: number; out: string }> {
  try {
    await promisify(execFile)(process.execPath, [TSC, '--noEmit', '-p', project], { cwd: ROOT, maxBuffer: 16 << 20 });
    return { code: 0, out: '' };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

test('the sources, tests, benches and scripts type-check', { timeout: 300_000 }, async () => {
  const r = await tsc('tsconfig.json');
  assert.equal(r.code, 0, r.out);
});

test('the dashboard type-checks', { timeout: 300_000 }, async () => {
  const r = await tsc('web/tsconfig.json');
  assert.equal(r.code, 0, r.out);
});
