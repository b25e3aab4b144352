/**
 * The time a schedule preview starts from, as a person or a form types it: `smart-cron next
 * --from` and the API's `/api/schedule/preview?from=` read it here, the same way, and list
 * the runs at or after it (Schedule.runsFrom).
 */
import { ValidationError } from '../errors.js';
import { wallToInstant } from './cron.js';
import type { Zone } from './zone.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO-8601 date or date-time, strictly (Date.parse would take 2026-02-30 as March 2, "1"
 * as 2001 and "March 7" as a date). With an offset (Z, +02:00) it is an instant; without,
 * it is a wall time in the schedule's zone, which is what someone checking a schedule in
 * that zone means. A ValidationError names `field` (--from, from).
 */
export function parseFrom(text: string, zone: Zone, field: string): number {
  const fail = (): never => {
    throw new ValidationError(
      `${field}: "${text}" is not an ISO-8601 date or date-time (expected e.g. 2026-03-29, 2026-03-29T01:30 or 2026-03-29T01:30:00+01:00; without an offset it is read in the schedule's timezone, ${zone.tz})`,
      field,
    );
  };
  const m = ISO.exec(text.trim());
  if (!m) return fail();
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const check = new Date(0);
  check.setUTCFullYear(y!, mo! - 1, d!);
  check.setUTCHours(h, mi, s, ms);
  const wall = check.getTime();
  // Date.UTC rolls 2026-02-30 over to March; a real date survives the round trip.
  if (mo! < 1 || mo! > 12 || h > 23 || mi > 59 || s > 59 || check.getUTCDate() !== d || check.getUTCMonth() !== mo! - 1) {
    return fail();
  }
  const offset = m[8];
  if (!offset) return wallToInstant(wall, zone);
  if (offset.toUpperCase() === 'Z') return wall;
  const om = /^([+-])(\d{2}):?(\d{2})$/.exec(offset)!;
  if (Number(om[2]) > 23 || Number(om[3]) > 59) return fail();
  const minutes = Number(om[2]) * 60 + Number(om[3]);
  return wall - (om[1] === '-' ? -1 : 1) * minutes * 60_000;
}
