/**
 * What a person removed from the found jobs: a discovered script (key `script:<path>`) or an
 * imported crontab entry (key `crontab:<job name>`, the name being derived from the entry's
 * identity). `discover` and `import-crontab` do not register it again until asked to
 * (`--include-removed`) or until a person registers that script themselves.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('smart_cron_dismissed')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('job_name', 'text', (c) => c.notNull())
    .addColumn('dismissed_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('smart_cron_dismissed').execute();
}
