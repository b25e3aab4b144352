/**
 * A job's stated duration (`estimated_duration_seconds`), the counterpart of estimated_memory_mb
 * for time: until runs are measured, the queue orders a burst of runs due at one tick by
 * memory × duration (queue.ts), and without it first runs can only be ordered by memory.
 * Null: not stated.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('smart_cron_integrated_jobs').addColumn('estimated_duration_seconds', 'double precision').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.alterTable('smart_cron_integrated_jobs').dropColumn('estimated_duration_seconds').execute();
}
