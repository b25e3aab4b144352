/**
 * Reading a run's log file (written by the runner, capped at execution.log_max_bytes): for the
 * API's output route and `smart-cron logs`.
 */
import { open } from 'node:fs/promises';

/**
 * Bytes [from, to) of a file as text. With `wholeLines`, a start inside the file skips to after
 * the first newline, so a cut line or UTF-8 sequence is not shown half.
 */
export async function readLogRange(path: string, from: number, to: number, wholeLines = false): Promise<{ text: string; end: number }> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    const b = buf.subarray(0, bytesRead);
    return { text: (wholeLines && from > 0 ? fromWholeLine(b) : b).toString('utf8'), end: from + bytesRead };
  } finally {
    await fh.close();
  }
}

/** Bytes cut from inside a text: from after their first newline, so no half line (or half UTF-8 sequence) shows. */
export function fromWholeLine(b: Buffer): Buffer {
  const nl = b.indexOf(0x0a);
  return nl >= 0 && nl < b.length - 1 ? b.subarray(nl + 1) : b;
}

/** The last `bytes` of a file of `size` bytes, from a whole line on. */
export async function readLogTail(path: string, size: number, bytes: number): Promise<string> {
  return (await readLogRange(path, Math.max(0, size - bytes), size, true)).text;
}
