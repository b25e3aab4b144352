/**
 * What the CLI does when the reader of its output goes away: `smart-cron history | head -3`.
 * Node ignores SIGPIPE, so a write to a closed pipe is an EPIPE 'error' event on the stream, and
 * with no listener that is an uncaught exception with a stack trace. A command then stops quietly
 * (keeping its exit code), as `cat | head` does. The daemon keeps running: its log lines are lost,
 * its jobs are not.
 */
let guarded = false;

export function guardPipes(keepRunning: boolean): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (!keepRunning) process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
}
