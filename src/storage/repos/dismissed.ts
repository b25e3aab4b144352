import type { Kysely, Transaction } from 'kysely';
import type { DB, DismissedTable } from '../schema.js';

type Q = Kysely<DB> | Transaction<DB>;
const T = 'smart_cron_dismissed' as const;

/** The found scripts and crontab entries a person removed (migration 0005_dismissed.ts). */
export class DismissedRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async all(q: Q = this.db): Promise<Map<string, DismissedTable>> {
    const rows = await q.selectFrom(T).selectAll().execute();
    return new Map(rows.map((r) => [r.key, r]));
  }

  async add(row: DismissedTable, q: Q = this.db): Promise<void> {
    await q
      .insertInto(T)
      .values(row)
      .onConflict((oc) => oc.column('key').doUpdateSet({ job_name: row.job_name, dismissed_at: row.dismissed_at }))
      .execute();
  }

  async remove(keys: string[], q: Q = this.db): Promise<void> {
    if (keys.length) await q.deleteFrom(T).where('key', 'in', keys).execute();
  }
}
