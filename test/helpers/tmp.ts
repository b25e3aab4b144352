/** Temporary directories that disappear when the test process exits, pass or fail. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const d of created) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort: a leftover temp dir must not turn a passing run into a failure
    }
  }
  created.clear();
}

/** A fresh directory under the OS temp dir, removed on process exit (or earlier with removeTempDir). */
export function tempDir(prefix = 'smart-cron-test-'): string {
  if (!hooked) {
    hooked = true;
    process.on('exit', removeAll);
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  created.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}
