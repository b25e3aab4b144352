/**
 * Deliveries that outlive the daemon: a failed or cut-off notification stays `pending` in its
 * row with the time of its next attempt, and whichever daemon claims it next (a compare-and-set
 * on `claimed_until`, so on PostgreSQL one row is sent by one daemon) sends the stored notice
 * again, after a restart too. A notification the rate limit holds back is a `suppressed` row,
 * so the digest is built from the table (`digest_id`: the digest it went out in).
 *
 * `route` names the channel without its secrets (a hash of the destination): the rate-limit
 * bucket, and how a retry finds its configured channel again.
 */
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

const D = 'smart_cron_alert_deliveries';
const COLUMNS: [string, 'text' | 'integer'][] = [
  ['route', 'text'],
  ['notice', 'text'],
  ['next_attempt_at', 'text'],
  ['claimed_by', 'text'],
  ['claimed_until', 'text'],
  ['digest_id', 'integer'],
];

export async function up(db: Db): Promise<void> {
  for (const [name, type] of COLUMNS) await db.schema.alterTable(D).addColumn(name, type).execute();
  await db.schema.createIndex('idx_deliveries_due').on(D).columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('idx_deliveries_route').on(D).columns(['route', 'created_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('idx_deliveries_route').execute();
  await db.schema.dropIndex('idx_deliveries_due').execute();
  for (const [name] of [...COLUMNS].reverse()) await db.schema.alterTable(D).dropColumn(name).execute();
}
