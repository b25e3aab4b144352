import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.js';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_api_indexes.js';
import * as m0003 from './0003_estimated_duration.js';
import * as m0004 from './0004_cancel_request.js';
import * as m0005 from './0005_dismissed.js';
import * as m0006 from './0006_durable_deliveries.js';
import * as m0007 from './0007_read_time_views.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
interface DialectMigration {
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
  down?(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

/** Every migration, in order. Add a file `NNNN_name.ts` and list it here; never edit a landed one. */
const ALL: Record<string, DialectMigration> = {
  '0001_initial': m0001,
  '0002_api_indexes': m0002,
  '0003_estimated_duration': m0003,
  '0004_cancel_request': m0004,
  '0005_dismissed': m0005,
  '0006_durable_deliveries': m0006,
  '0007_read_time_views': m0007,
};

export class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, m] of Object.entries(ALL)) {
      out[name] = {
        up: (db) => m.up(db, this.dialect),
        down: m.down ? (db) => m.down!(db, this.dialect) : undefined,
      };
    }
    return out;
  }
}
