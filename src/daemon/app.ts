/**
 * The composition root for everything that needs the database: builds each part once
 * and passes it in. The CLI opens a small App per command; the daemon builds on it.
 */
import { systemClock, type Clock } from '../clock.js';
import { loadConfig, type Config, type ConfigInputs } from '../config/load.js';
import { JobManager } from '../jobs/manager.js';
import { openDatabase, type Database } from '../storage/database.js';

export interface App {
  config: Config;
  database: Database;
  clock: Clock;
  jobs: JobManager;
  close(): Promise<void>;
}

export interface AppOptions extends ConfigInputs {
  clock?: Clock;
  config?: Config;
}

export async function openApp(opts: AppOptions = {}): Promise<App> {
  const config = opts.config ?? loadConfig(opts);
  const clock = opts.clock ?? systemClock;
  const database = await openDatabase(config.database);
  const jobs = new JobManager(database, clock, { slots: Object.keys(config.slots) });
  return {
    config,
    database,
    clock,
    jobs,
    close: () => database.close(),
  };
}
