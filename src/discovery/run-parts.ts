/**
 * What run-parts (and cron for cron.d) runs: in cron.hourly, cron.daily, … only files whose
 * names are letters, digits, _ and - (no dots: foo.sh, foo.dpkg-old and .placeholder are
 * skipped, which is how package managers park old copies), and only the folder's own files.
 */

/** The name rule run-parts applies (without --lsbsysinit) and cron applies to cron.d files. */
export const RUN_PARTS_NAME = /^[A-Za-z0-9_-]+$/;

/** run-parts folders say exactly when their scripts run. */
export const RUN_PARTS_DIRS: Record<string, string> = {
  'cron.hourly': '@hourly',
  'cron.daily': '@daily',
  'cron.weekly': '@weekly',
  'cron.monthly': '@monthly',
  'cron.yearly': '@yearly',
};

/** The run-parts folder a file sits directly in ("/etc/cron.daily/x" -> "cron.daily"), or null. */
export function runPartsFolder(path: string): string | null {
  const parts = path.split('/');
  const folder = parts.length >= 2 ? parts[parts.length - 2]! : '';
  return RUN_PARTS_DIRS[folder] ? folder : null;
}

/** A file in a run-parts folder that run-parts never runs (its name breaks the rule). */
export function runPartsSkips(path: string): boolean {
  return runPartsFolder(path) !== null && !RUN_PARTS_NAME.test(path.slice(path.lastIndexOf('/') + 1));
}
