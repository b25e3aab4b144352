/**
 * Keeps V8's young generation at its initial size while the program loads and starts.
 *
 * What a program allocates while it loads (module code, closures, the API's routes and their
 * compiled validators, the jobs it reads) mostly lives on, so every scavenge then finds a high
 * survival rate and V8 doubles the young generation, up to 8 MB here, which then stays committed
 * until V8's memory reducer runs some 10 s later (bench/idle-rss: a daemon's RSS 2 s after start
 * ~81 MB with 1,000 jobs, ~73 MB after 15 s). A bigger young generation buys nothing for objects
 * that survive anyway.
 *
 * Importing this module (first, from the CLI's entry) sets V8's growth factor to 1; `startupDone()`
 * gives it back V8's default, so a daemon under load grows its young generation as before (a small
 * one throughout costs dispatch throughput: more scavenges per run; docs/benchmarks.md).
 *
 * `--semi-space-growth-factor` is read each time V8 grows the space (V8 11, Node 20's;
 * test/startup-heap.test.ts checks it on the running Node). Some V8 sources enforce a minimum of 2:
 * there this does nothing. An unknown flag would print "unrecognized flag" to stderr, not throw.
 */
import { setFlagsFromString } from 'node:v8';

const DEFAULT_GROWTH_FACTOR = 2;
let held = false;

if (!process.execArgv.some((a) => a.startsWith('--semi-space-growth-factor'))) {
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

/** Start-up is over: let the young generation grow again. Idempotent. */
export function startupDone(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
