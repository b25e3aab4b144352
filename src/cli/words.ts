/**
 * A flag's whole number as typed in decimal digits, else null: Number() alone would take `0x10`
 * as 16, `1e9` as a billion and `2.5` as a fraction. Each flag keeps its own bounds and words.
 */
export function decimalWhole(text: string): number | null {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}
