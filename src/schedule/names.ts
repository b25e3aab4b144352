/**
 * Timezone names: the spelling we store, and the machine's own zone.
 *
 * Intl accepts a zone name in any case (`australia/lord_howe`) and answers with its CLDR
 * canonical id, which for an alias is another name (`Asia/Kolkata` -> `Asia/Calcutta`). We keep
 * the name the user chose, in the tz database's own spelling, so a job shows what was typed.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { isValidTimezone } from './zone.js';

let known: Map<string, string> | null = null;

/** Every zone name we can spell, by its lower-case form: Intl's list, and the tz database's zones and aliases where the host has one. */
function knownNames(): Map<string, string> {
  if (known) return known;
  const names = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  try {
    // tzdata.zi: `Z Name …` for a zone, `L Target Alias` for an alias.
    for (const line of readFileSync('/usr/share/zoneinfo/tzdata.zi', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'Z' && f[1]) names.push(f[1]);
      else if (f[0] === 'L' && f[2]) names.push(f[2]);
    }
  } catch {
    // No tz database on the host (a slim container): Intl's list only.
  }
  known = new Map(names.map((n) => [n.toLowerCase(), n]));
  return known;
}

/** A valid zone name as the tz database spells it (`australia/lord_howe` -> `Australia/Lord_Howe`); an invalid one unchanged. */
export function canonicalTimezone(tz: string): string {
  if (!isValidTimezone(tz)) return tz;
  const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  if (resolved.toLowerCase() === tz.toLowerCase()) return resolved;
  return knownNames().get(tz.toLowerCase()) ?? tz;
}

let system: string | null = null;

/**
 * The machine's zone, as the system sets it (timedatectl, tzdata): the zone /etc/localtime
 * links to, else /etc/timezone. Not the TZ variable: that is one process's, and the CLI in a
 * shell with TZ=Asia/Tokyo and the daemon under systemd must agree on what a job without a
 * zone means. Only where neither file names a zone does Node's own (TZ, then UTC) stand in.
 */
export function systemTimezone(): string {
  if (system !== null) return system;
  const fromLink = (): string | null => {
    try {
      const target = resolve(dirname('/etc/localtime'), readlinkSync('/etc/localtime'));
      return /\/zoneinfo\/(?:posix\/|right\/)?(.+)$/.exec(target)?.[1] ?? null;
    } catch {
      return null;
    }
  };
  const fromFile = (): string | null => {
    try {
      return readFileSync('/etc/timezone', 'utf8').split('\n')[0]!.trim() || null;
    } catch {
      return null;
    }
  };
  const found = [fromLink(), fromFile()].find((n): n is string => n !== null && isValidTimezone(n));
  system = canonicalTimezone(found ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'));
  return system;
}
