import { readFileSync } from 'node:fs';

/**
 * The package's version, read once from package.json: one level up from dist/version.js or
 * src/version.ts, two from the bundled dist/cli/main.js.
 */
export const VERSION: string = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'smart-cron' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* try the next */
    }
  }
  return '0.0.0';
})();
