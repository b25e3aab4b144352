/**
 * Removing the cgroups that test and benchmark processes leave behind (a daemon stopped or killed
 * keeps its slot cgroups; a bench killed mid-run keeps its own). Many empty cgroups slow cgroup v1
 * accounting for everyone (docs/benchmarks.md).
 */
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Remove every cgroup directory whose name `owned` accepts (and all below it), deepest first, in
 * every mounted cgroup hierarchy (looking 4 levels down for them). rmdir only: the kernel refuses
 * one that holds a process, and that one is returned, not forced.
 * @param {(name: string) => boolean} owned
 * @returns {string[]} the directories left because a process is still in them
 */
export function removeCgroups(owned) {
  let mounts = [];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2').map((f) => f[1]);
  } catch {
    return [];
  }
  const found = [];
  const walk = (dir, depth, inside) => {
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      const ours = inside || owned(e.name);
      if (ours) found.push({ p, depth });
      if (ours || depth < 4) walk(p, depth + 1, ours);
    }
  };
  for (const m of new Set(mounts)) walk(m, 0, false);
  // Deepest first; a directory that stays because one below it stays is not named again.
  const left = [];
  for (const { p } of found.sort((a, b) => b.depth - a.depth)) {
    try {
      rmdirSync(p);
    } catch (e) {
      if (e.code !== 'ENOENT' && !left.some((l) => l.startsWith(p + '/'))) left.push(p);
    }
  }
  return left;
}

/** Whether a process with this pid exists (signal 0; EPERM means it does, under another user). */
export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}
