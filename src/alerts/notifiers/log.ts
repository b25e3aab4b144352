/**
 * The seed's log line, `[ALERT] job_name - alert_type - severity`, written for every alert
 * occurrence whatever the other channels do (it is never rate limited).
 */
export interface AlertLogger {
  warn(msg: string): void;
  info(msg: string): void;
  error(msg: string): void;
}

/** Plain lines on stderr, for when no logger is injected. */
export const stderrLogger: AlertLogger = {
  warn: (m) => void process.stderr.write(`${m}\n`),
  info: (m) => void process.stderr.write(`${m}\n`),
  error: (m) => void process.stderr.write(`${m}\n`),
};

export function alertLine(jobName: string, type: string, severity: string): string {
  return `[ALERT] ${jobName} - ${type} - ${severity}`;
}

export function resolvedLine(jobName: string, type: string): string {
  return `[RESOLVED] ${jobName} - ${type}`;
}
