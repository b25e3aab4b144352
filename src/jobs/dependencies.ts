/**
 * Job dependencies: the smart_cron_job_dependencies table as a graph. A row says "job_id
 * depends on depends_on_job_id", either `requires` (a scheduled run of the job needs a recent
 * success of the other) or `triggers` (a finished run of the other queues a run of the job).
 *
 * Cycles are refused over both kinds together: a triggers-cycle would loop for ever, a
 * requires-cycle can never be satisfied from a clean start, and a mixed one is almost always a
 * mistake; refusing all of them keeps the graph a DAG that people can read as a tree.
 */
import type { Kysely, Transaction } from 'kysely';
import { iso } from '../clock.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { DB, DependencyRow } from '../storage/schema.js';

type Q = Kysely<DB> | Transaction<DB>;
const T = 'smart_cron_job_dependencies' as const;

export type DependencyKind = DependencyRow['kind'];
export type DependencyOn = DependencyRow['on'];

/** The kinds of link and the outcomes a `triggers` link fires on (the CLI's flags and the API's enums). */
export const DEPENDENCY_KINDS = ['requires', 'triggers'] as const satisfies readonly DependencyKind[];
export const DEPENDENCY_ONS = ['success', 'failure', 'always'] as const satisfies readonly DependencyOn[];

/** What removing a link that is not there says: "report does not depend on extract (requires)". */
export function notLinked(job: string, other: string, kind?: DependencyKind): string {
  return `${job} does not depend on ${other}${kind ? ` (${kind})` : ''}`;
}

/** One link as people (CLI, API) see it: the job at the other end, by id and name. */
export interface DependencyLink {
  job: { id: number; name: string };
  kind: DependencyKind;
  on: DependencyOn;
  window_seconds: number | null;
}

export interface DependencyTreeNode extends DependencyLink {
  /** The links of `job` further in the same direction (empty past the depth limit). */
  children: DependencyTreeNode[];
  /** Not expanded: the depth limit was reached while it has more links. */
  truncated?: boolean;
}

/** "30m", "6h", "2d", "90s", "1h30m" or plain seconds -> seconds. */
export function parseDuration(text: string, field: string): number {
  const s = text.trim().toLowerCase();
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const parts = /^\d+$/.test(s) ? [[s, s, 's']] : [...s.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)];
  if (s === '' || parts.map((p) => p[0]).join('') !== s) {
    throw new ValidationError(`${field}: "${text}" is not a duration (expected e.g. 30m, 6h, 2d, or a number of seconds)`, field.replace(/^--/, ''));
  }
  const secs = Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0));
  if (secs <= 0) throw new ValidationError(`${field}: "${text}" must be longer than 0 seconds`, field.replace(/^--/, ''));
  return secs;
}

/** The longest window a `requires` link can have: window_seconds is a 32-bit integer column (some 68 years). */
export const MAX_WINDOW_SECONDS = 2_147_483_647;

/**
 * A `requires` link's window from seconds or a duration text ("6h", as parseDuration reads it),
 * checked; null or undefined: no window (any success will do).
 */
export function windowSeconds(value: number | string | null | undefined, field: string): number | null {
  if (value === null || value === undefined) return null;
  const secs = typeof value === 'string' ? parseDuration(value, field) : value;
  if (!Number.isInteger(secs) || secs < 1 || secs > MAX_WINDOW_SECONDS) {
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a usable window (expected a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS}, or a duration such as 30m, 6h, 2d)`, field.replace(/^--/, ''));
  }
  return secs;
}

export class DependencyRepo {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Link `jobId` to `dependsOnId`; adding the same (job, other, kind) again updates its window
   * and outcome. A link from a job to itself is a ValidationError (field `job`: the other end is
   * what is wrong); ConflictError names the cycle when the link would close a longer one.
   */
  async add(
    jobId: number,
    dependsOnId: number,
    kind: DependencyKind,
    opts: { window_seconds?: number | null; on?: DependencyOn },
    nowMs: number,
  ): Promise<{ row: DependencyRow; change: 'new' | 'updated' | 'unchanged' }> {
    return this.db.transaction().execute(async (trx) => {
      if (jobId === dependsOnId) {
        const name = (await this.names([jobId], trx)).get(jobId) ?? `#${jobId}`;
        throw new ValidationError(`${name} cannot depend on itself (expected another job's name or id)`, 'job');
      }
      const cycle = await this.cycleIfAdded(jobId, dependsOnId, trx);
      if (cycle) {
        const names = await this.names(cycle, trx);
        throw new ConflictError(`would create a cycle: ${cycle.map((id) => names.get(id) ?? `#${id}`).join(' → ')}`, 'dependency');
      }
      const values = {
        window_seconds: kind === 'requires' ? (opts.window_seconds ?? null) : null,
        on: kind === 'triggers' ? (opts.on ?? 'success') : 'success',
      } as const;
      const existing = await trx.selectFrom(T).selectAll().where('job_id', '=', jobId).where('depends_on_job_id', '=', dependsOnId).where('kind', '=', kind).executeTakeFirst();
      if (existing) {
        if (existing.window_seconds === values.window_seconds && existing.on === values.on) return { row: existing, change: 'unchanged' as const };
        await trx.updateTable(T).set(values).where('id', '=', existing.id).execute();
        return { row: { ...existing, ...values }, change: 'updated' as const };
      }
      const row = await trx
        .insertInto(T)
        .values({ job_id: jobId, depends_on_job_id: dependsOnId, kind, ...values, created_at: iso(nowMs) })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { row, change: 'new' as const };
    });
  }

  /** Remove the links from jobId to dependsOnId (of one kind, or both); returns the removed rows. */
  async remove(jobId: number, dependsOnId: number, kind?: DependencyKind): Promise<DependencyRow[]> {
    let q = this.db.deleteFrom(T).where('job_id', '=', jobId).where('depends_on_job_id', '=', dependsOnId);
    if (kind) q = q.where('kind', '=', kind);
    return q.returningAll().execute();
  }

  /** What jobId depends on (its parents). */
  upstream(jobId: number, kind?: DependencyKind, q: Q = this.db): Promise<DependencyRow[]> {
    let query = q.selectFrom(T).selectAll().where('job_id', '=', jobId);
    if (kind) query = query.where('kind', '=', kind);
    return query.orderBy('id').execute();
  }

  /** What depends on jobId (its children). */
  downstream(jobId: number, kind?: DependencyKind, q: Q = this.db): Promise<DependencyRow[]> {
    let query = q.selectFrom(T).selectAll().where('depends_on_job_id', '=', jobId);
    if (kind) query = query.where('kind', '=', kind);
    return query.orderBy('id').execute();
  }

  /** The jobs that depend on jobId, by name (for the warning on remove/disable). */
  async dependents(jobId: number): Promise<{ id: number; name: string; kind: DependencyKind }[]> {
    return this.db
      .selectFrom(`${T} as d`)
      .innerJoin('smart_cron_integrated_jobs as j', 'j.id', 'd.job_id')
      .select(['j.id as id', 'j.name as name', 'd.kind as kind'])
      .where('d.depends_on_job_id', '=', jobId)
      .orderBy('j.name')
      .execute();
  }

  /** Links of one job in both directions, with the other job's name. */
  async links(jobId: number): Promise<{ upstream: DependencyLink[]; downstream: DependencyLink[] }> {
    const [up, down] = await Promise.all([this.upstream(jobId), this.downstream(jobId)]);
    const names = await this.names([...up.map((r) => r.depends_on_job_id), ...down.map((r) => r.job_id)]);
    const link = (r: DependencyRow, other: number): DependencyLink => ({
      job: { id: other, name: names.get(other) ?? `#${other}` },
      kind: r.kind,
      on: r.on,
      window_seconds: r.window_seconds,
    });
    return { upstream: up.map((r) => link(r, r.depends_on_job_id)), downstream: down.map((r) => link(r, r.job_id)) };
  }

  /** The graph around a job, `depth` levels each way (a DAG, so no visited set is needed for termination). */
  async tree(jobId: number, depth: number): Promise<{ upstream: DependencyTreeNode[]; downstream: DependencyTreeNode[] }> {
    const walk = async (id: number, dir: 'upstream' | 'downstream', left: number): Promise<DependencyTreeNode[]> => {
      const links = (await this.links(id))[dir];
      const out: DependencyTreeNode[] = [];
      for (const l of links) {
        if (left > 1) out.push({ ...l, children: await walk(l.job.id, dir, left - 1) });
        else {
          const more = (await this.links(l.job.id))[dir].length > 0;
          out.push({ ...l, children: [], ...(more ? { truncated: true } : {}) });
        }
      }
      return out;
    };
    return { upstream: await walk(jobId, 'upstream', depth), downstream: await walk(jobId, 'downstream', depth) };
  }

  /**
   * The cycle `jobId → dependsOnId → … → jobId` the new link would close, as job ids, or null.
   * A breadth-first search from dependsOnId along "depends on" finds the shortest one.
   */
  async cycleIfAdded(jobId: number, dependsOnId: number, q: Q = this.db): Promise<number[] | null> {
    if (jobId === dependsOnId) return [jobId, jobId];
    const edges = await q.selectFrom(T).select(['job_id', 'depends_on_job_id']).execute();
    const parents = new Map<number, number[]>();
    for (const e of edges) parents.set(e.job_id, [...(parents.get(e.job_id) ?? []), e.depends_on_job_id]);
    const prev = new Map<number, number | null>([[dependsOnId, null]]);
    const queue = [dependsOnId];
    while (queue.length) {
      const at = queue.shift()!;
      if (at === jobId) {
        const back: number[] = [];
        for (let n: number | null = at; n !== null; n = prev.get(n)!) back.push(n);
        return [jobId, ...back.reverse()];
      }
      for (const p of parents.get(at) ?? []) {
        if (prev.has(p)) continue;
        prev.set(p, at);
        queue.push(p);
      }
    }
    return null;
  }

  private async names(ids: number[], q: Q = this.db): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows = await q.selectFrom('smart_cron_integrated_jobs').select(['id', 'name']).where('id', 'in', [...new Set(ids)]).execute();
    return new Map(rows.map((r) => [r.id, r.name]));
  }
}

/** "report (requires), export (runs after)": the dependents of a job, for a warning line. */
export function describeDependents(deps: { name: string; kind: DependencyKind }[]): string {
  return deps.map((d) => `${d.name} (${d.kind === 'requires' ? 'requires it' : 'runs after it'})`).join(', ');
}
