/**
 * Benches measure the daemon's code as users run it: the compiled dist/ when built (`npm run
 * build`), else the sources through tsx, whose compiler's memory makes every fork of the process
 * dearer and whose loader thread alone costs ~1 % of a core. BENCH_FROM_SOURCE=1 forces src/.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DIST = fs.existsSync(fileURLToPath(new URL('../dist/execution/runner.js', import.meta.url))) && process.env.BENCH_FROM_SOURCE !== '1';

/** import('../src/<m>.js') or its compiled twin in dist/; type it with typeof import of the src path. */
export const from = async <T>(m: string): Promise<T> => (await import(DIST ? `../dist/${m}.js` : `../src/${m}.js`)) as T;
