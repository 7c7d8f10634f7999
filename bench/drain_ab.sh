#!/usr/bin/env bash
# A/B of the drain workloads (d) and (e) of bench/peers on private brokers: for each binary
# given, in turn and ROUNDS times over, start `serve` on a fresh data dir, store COUNT records of
# 256 bytes (window 256), drain them with `ironbus bench --mode subscribe`, and print the rate
# and the broker's CPU per drained record (utime + stime from /proc/<pid>/stat, drain only).
# Alternating binaries is what makes figures from this VM comparable (docs/performance.md,
# History).
#
#   bench/drain_ab.sh build/before/ironbus build/after/ironbus           # (e), 4 rounds
#   WORKLOAD=d ROUNDS=3 bench/drain_ab.sh A/ironbus B/ironbus            # (d): per-message acks
#   PAUSE_PATTERN='fuzz/segment_scan_fuzz' bench/drain_ab.sh ...         # SIGSTOP these meanwhile
#   AHEADS="1 2" bench/drain_ab.sh build/me/ironbus                      # (e): --fetch-ahead 1, then 2
#
# (e) runs with --fetch-ahead N for each N in AHEADS (default 1), the broker's credit N x 256.
#
# Data dirs go under ${TMPDIR:-/tmp}; brokers listen on 127.0.0.1 only and are stopped by PID.
set -euo pipefail
COUNT=${COUNT:-1000000}
ROUNDS=${ROUNDS:-4}
WORKLOAD=${WORKLOAD:-e}
case "$WORKLOAD" in
  e) group=bcast ack=cumulative ;;
  d) group=drain ack=each
     [ "${AHEADS:-1}" = 1 ] || { echo "AHEADS needs WORKLOAD=e (cumulative acks)" >&2; exit 2; } ;;
  *) echo "WORKLOAD must be d or e" >&2; exit 2 ;;
esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_once() {
  local bin=$1 ahead=$2 dir port pid c0 c1 rate
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ironbus-drain-ab-XXXXXX")
  port=$((20000 + RANDOM % 20000))
  "$bin" serve --data-dir "$dir/data" --addr "127.0.0.1:$port" --broadcast-group bcast \
    --consumer-credit $((256 * ahead)) >"$dir/serve.log" 2>&1 &
  pid=$!
  sleep 0.5
  "$bin" bench --i-understand-this-is-live --addr "127.0.0.1:$port" --mode publish --count "$COUNT" \
    --pubwindow 256 --size 256 >"$dir/publish.txt" 2>/dev/null
  [ -n "${PAUSE_PATTERN:-}" ] && pkill -STOP -f "$PAUSE_PATTERN" || true
  sleep 0.3
  c0=$(cpu_ticks "$pid")
  "$bin" bench --i-understand-this-is-live --addr "127.0.0.1:$port" --mode subscribe --group "$group" \
    --ack "$ack" --fetch-batch 256 --fetch-ahead "$ahead" --count "$COUNT" >"$dir/drain.txt" 2>/dev/null
  c1=$(cpu_ticks "$pid")
  [ -n "${PAUSE_PATTERN:-}" ] && pkill -CONT -f "$PAUSE_PATTERN" || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rate=$(grep -o '[0-9]* msg/s' "$dir/drain.txt" || echo "failed")
  local ticks_per_s
  ticks_per_s=$(getconf CLK_TCK)
  echo "$bin ($WORKLOAD, fetch-ahead $ahead): $rate, broker CPU $(echo "scale=2; ($c1 - $c0) * 1000000 / $ticks_per_s / $COUNT" | bc) us/record"
  rm -rf "$dir"
}

[ $# -ge 1 ] || { echo "usage: $0 <ironbus binary>..." >&2; exit 2; }
for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    for ahead in ${AHEADS:-1}; do run_once "$bin" "$ahead"; done
  done
done
