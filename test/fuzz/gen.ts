/**
 * Input generators for the fuzz suites: a small seeded PRNG (mulberry32) so any failure can be
 * replayed with SMART_CRON_FUZZ_SEED=<seed printed by the test>, and pools of nasty values.
 */
export type Rng = () => number;

export function fuzzSeed(): number {
  const env = process.env.SMART_CRON_FUZZ_SEED;
  return env ? Number(env) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
}

/** A fuzz case count: SMART_CRON_FUZZ_SCALE multiplies the defaults (e.g. 10 for a long soak). */
export function cases(n: number): number {
  return Math.max(1, Math.round(n * (Number(process.env.SMART_CRON_FUZZ_SCALE) || 1)));
}

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const chance = (r: Rng, p: number) => r() < p;

export const NASTY_STRINGS = [
  '',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\0',
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '/etc/passwd',
  '%00',
  '%',
  '%%',
  '\\',
  '"',
  "'",
  '`rm -rf /`',
  '$(reboot)',
  '${PATH}',
  '<script>alert(1)</script>',
  '💥',
  'Ünïcödé',
  '\u202e\u0635\u0648\u0631\u0629',
  '\ud800',
  '𝕏'.repeat(50),
  'a'.repeat(300),
  'a'.repeat(10_000),
  '__proto__',
  'constructor',
  'toString',
  'null',
  'true',
  '1e400',
  '-1',
  'NaN',
  'Infinity',
  '0x10',
  '99999999999999999999999',
  'SELECT * FROM smart_cron_integrated_jobs; --',
  "'; DROP TABLE smart_cron_job_history; --",
];

export const NASTY_NUMBERS = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 1e-300, 7 * 24 * 3600 + 1];

export function randString(r: Rng, max = 40): string {
  if (chance(r, 0.35)) return pick(r, NASTY_STRINGS);
  const alphabet = 'abcXYZ019 -_./:@*?,#%$\\"\'`\t\näé💥\u0000\u202e';
  const chars = [...alphabet];
  let s = '';
  const n = int(r, 0, max);
  for (let i = 0; i < n; i++) s += pick(r, chars);
  return s;
}

/** Any JSON value, some deep, some huge. */
export function randJson(r: Rng, depth = 0): unknown {
  const k = int(r, 0, depth > 2 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return chance(r, 0.5);
    case 2:
      return chance(r, 0.5) ? pick(r, NASTY_NUMBERS) : int(r, -1000, 100_000);
    case 3:
    case 4:
      return randString(r);
    case 5:
      return r() * 1e6 - 5e5;
    case 6:
      return Array.from({ length: int(r, 0, 4) }, () => randJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 0, 4); i > 0; i--) o[randString(r, 10)] = randJson(r, depth + 1);
      return o;
    }
  }
}
