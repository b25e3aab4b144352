/**
 * The cgroup name for a test's own enforcement backend: under SMART_CRON_CGROUP_PREFIX, which the
 * test runner (scripts/test.mjs) sets per run, so that its final clean-up also removes what such a
 * backend left (a run's cgroup the kernel still refused to remove at exit). Unique per process.
 */
import { cgroupPrefix } from '../../src/execution/enforcement/detect.js';

export function testCgroup(label: string): string {
  return `${cgroupPrefix()}-${label}-${process.pid}`;
}
