#!/bin/sh
# The daemon as systemd's Delegate=yes starts it, on a cgroup v2 kernel: alone in a cgroup of its
# own whose controllers it may hand down. Run inside scripts/cgroup2-vm.sh (as root, from the
# repository):  scripts/cgroup2-vm.sh sh test/vm/daemon-delegated.sh
# Checks that the daemon moves itself into a leaf, runs jobs in per-run cgroups under its slots,
# records the kernel's exact peak, and records a run past its memory limit as oom_killed.
set -eu
fail() { echo "daemon-delegated: FAIL: $*"; exit 1; }
export SMART_CRON_HOME=/tmp/sc-home
SC="node bin/smart-cron.js"
SERVICE=/sys/fs/cgroup/smart-cron.service
[ -f /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 here"

echo "daemon-delegated: registering two jobs"
$SC init > /dev/null
$SC jobs add touch -s '*/4 * * * * *' --memory-limit-mb 200 -c "sh -c 'dd if=/dev/zero bs=60M count=1 2>/dev/null | sleep 1; cat /proc/self/cgroup'" > /dev/null
$SC jobs add hog -s '*/6 * * * * *' --memory-limit-mb 40 -c "sh -c 'dd if=/dev/zero bs=200M count=1 2>/dev/null | sleep 2'" > /dev/null

echo "daemon-delegated: starting the daemon in $SERVICE"
mkdir -p $SERVICE
# As systemd does: the daemon is the only process of its service's cgroup.
sh -c "echo \$\$ > $SERVICE/cgroup.procs; exec $SC daemon --no-api" > /tmp/daemon.log 2>&1 &
daemon=$!
i=0
until [ "$($SC history hog --json --limit 1000 2>/dev/null | grep -c '"status": "oom_killed"')" -ge 1 ] && [ "$($SC history touch --json --limit 1000 2>/dev/null | grep -c '"status": "succeeded"')" -ge 1 ]; do
  i=$((i + 1))
  [ $i -le 60 ] || { cat /tmp/daemon.log; $SC history; fail "no oom_killed hog run and succeeded touch run within 10 minutes"; }
  kill -0 $daemon 2> /dev/null || { cat /tmp/daemon.log; fail "the daemon exited"; }
  sleep 10
done
$SC history
echo "--- the daemon's cgroup: $(cat /proc/$daemon/cgroup)"
echo "--- $SERVICE: subtree_control '$(cat $SERVICE/cgroup.subtree_control)'"
find $SERVICE -maxdepth 3 -type d | sort
grep -q "^0::/smart-cron.service/daemon$" /proc/$daemon/cgroup || fail "the daemon did not move itself into a leaf cgroup"
grep -q memory $SERVICE/cgroup.subtree_control || fail "memory not delegated to the daemon's subtree"
$SC history touch --json --limit 1000 > /tmp/touch.json
grep -q '"memory_source": "cgroup"' /tmp/touch.json || fail "touch: peak not read from the cgroup"
grep -q '0::/smart-cron.service/smart-cron[^/]*/default/' /tmp/touch.json || fail "touch did not run in a per-run cgroup under its slot"
node -e '
  const runs = JSON.parse(require("fs").readFileSync("/tmp/touch.json", "utf8")).filter((r) => r.status === "succeeded");
  const peak = runs[0].peak_memory_mb;
  console.log(`touch: peak ${peak} MB for 60 MB touched`);
  if (!(peak >= 60 && peak < 80)) process.exit(1);
' || fail "touch: peak memory is not the 60 MB it touched"
$SC history hog --json --limit 1000 | grep -q 'OOM killer at its memory limit of 40 MB' || fail "hog: no OOM message naming its limit"
kill -TERM $daemon
wait $daemon || true
tail -n 3 /tmp/daemon.log
echo "daemon-delegated: ok"
