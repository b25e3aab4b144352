/**
 * Control characters in what a scanned folder holds (script headers, file names): anyone who
 * can write a script there could otherwise move the cursor, recolour or rewrite what a
 * terminal shows of it. Stored texts lose them; printed names and paths show them escaped.
 */

// C0 and C1 controls, DEL, the line and paragraph separators, and the bidi overrides and isolates.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text from a file without control characters (a tab becomes a space). */
export function stripControl(text: string): string {
  return text.replace(CONTROL, (c) => (c === '\t' ? ' ' : ''));
}

/** Text for a terminal: each control character shown as an escape, e.g. \x1b or \u202e. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
