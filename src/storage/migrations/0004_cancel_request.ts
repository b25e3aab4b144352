/**
 * A person's request to stop a running run, kept on the run (`cancel_requested`: the reason;
 * null: none). The process that runs it may be another daemon, another node, or a daemon that
 * is restarting: the request waits in the row, and whichever dispatcher holds the run acts on
 * it (execution/cancel.ts). Until the run ends it reads `cancelling`.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('smart_cron_job_history').addColumn('cancel_requested', 'text').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.alterTable('smart_cron_job_history').dropColumn('cancel_requested').execute();
}
