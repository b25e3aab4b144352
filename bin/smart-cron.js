#!/usr/bin/env node
// Runs the built CLI (dist/) when there is one, else the TypeScript sources through tsx.
// In a checkout whose src/ changed after the last build, the build would run old code: then the
// sources run, and a line on stderr says so (SMART_CRON_FROM_SOURCE=1 always runs the sources).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
const sources = fileURLToPath(new URL('../src/', import.meta.url));

/** The newest source file changed after the build, or null (also when there are no sources). */
function newerSource() {
  if (!existsSync(sources)) return null;
  const builtAt = statSync(built).mtimeMs;
  for (const f of readdirSync(sources, { recursive: true })) {
    if (String(f).endsWith('.ts') && statSync(sources + f).mtimeMs > builtAt) return `src/${f}`;
  }
  return null;
}

let mod;
const stale = existsSync(built) && !process.env.SMART_CRON_FROM_SOURCE ? newerSource() : null;
if (existsSync(built) && !process.env.SMART_CRON_FROM_SOURCE && !stale) {
  mod = await import(built.href);
} else {
  if (stale) process.stderr.write(`smart-cron: ${stale} changed after the last build; running the sources (npm run build to use dist/ again)\n`);
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exitCode = await mod.main(process.argv);
