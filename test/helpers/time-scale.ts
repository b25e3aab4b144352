/**
 * Wall and CPU time bounds in tests stretch by this on a slow (emulated) machine:
 * scripts/cgroup2-vm.sh sets SMART_CRON_TEST_TIME_SCALE for the tests it runs in its VM.
 */
export const TIME_SCALE = Number(process.env.SMART_CRON_TEST_TIME_SCALE ?? 1);
