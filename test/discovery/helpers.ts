import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/clock.js';
import { JobManager } from '../../src/jobs/manager.js';
import { openDatabase, type Database } from '../../src/storage/database.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'discovery');

export interface Env {
  dir: string;
  db: Database;
  jm: JobManager;
  clock: VirtualClock;
  close(): Promise<void>;
}

/** A fresh SQLite file in a temp folder, and a JobManager on a virtual clock. */
export async function openEnv(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-disc-'));
  const db = await openDatabase(`sqlite:${join(dir, 'smart-cron.db')}`);
  const clock = new VirtualClock(Date.UTC(2026, 2, 1, 12));
  const jm = new JobManager(db, clock);
  return {
    dir,
    db,
    jm,
    clock,
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A copy of a fixture folder in a temp dir, so tests can add links, FIFOs and huge files. */
export function copyFixture(name: string, into: string): string {
  const dest = join(into, name);
  cpSync(join(FIXTURES, name), dest, { recursive: true });
  return dest;
}
