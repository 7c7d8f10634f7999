#!/usr/bin/env bash
# Side-by-side benchmark: IronBus, Redis 7 Streams (appendfsync always), NATS JetStream 2.9 and
# the disk floor, on this machine, loopback only, same workloads (see bench/peers/README.md).
#
#   bench/peers/run.sh              3 repetitions, 20 s runs, 200,000 stored messages, 256 B
#   QUICK=1 bench/peers/run.sh      1 repetition, 5 s runs, 20,000 stored messages (smoke test)
#   WIDE=1 bench/peers/run.sh       also 1 KiB and 4 KiB payloads
#
# Other knobs (environment): REPS, DURATION (s, <= 30), DRAIN_COUNT, SIZES ("256 1024"),
# SYSTEMS ("ironbus redis nats floor"), WORKLOADS ("a b c d e"), IRONBUS (the binary, default
# build/release/ironbus), PEERS_TMPDIR (where every data dir goes, default build/peers/tmp),
# OUT_NAME (result file stem, default peers-<UTC date>[-quick][-wide]).
#
# Every server is started here on 127.0.0.1 and a free non-default port, in a fresh directory
# under one run directory, one server per run, and stopped by its PID (SIGTERM, then SIGKILL
# after 20 s) at the end of the run and from the EXIT trap. A server that listens on anything
# but 127.0.0.1 stops the whole bench.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/peers
IRONBUS=${IRONBUS:-$ROOT/build/release/ironbus}
BUILD=$ROOT/build/peers
RESULTS=$ROOT/bench/results

QUICK=${QUICK:-0}
WIDE=${WIDE:-0}
if [ "$QUICK" = 1 ]; then
  REPS=${REPS:-1}; DURATION=${DURATION:-5}; DRAIN_COUNT=${DRAIN_COUNT:-20000}
else
  REPS=${REPS:-3}; DURATION=${DURATION:-20}; DRAIN_COUNT=${DRAIN_COUNT:-200000}
fi
if [ "$WIDE" = 1 ]; then SIZES=${SIZES:-"256 1024 4096"}; else SIZES=${SIZES:-256}; fi
SYSTEMS=${SYSTEMS:-"ironbus redis nats floor"}
WORKLOADS=${WORKLOADS:-"a b c d e"}
PRODUCERS_B=16
WINDOW_C=256
FETCH_BATCH=256
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
suffix=""
[ "$QUICK" = 1 ] && suffix="$suffix-quick"
[ "$WIDE" = 1 ] && suffix="$suffix-wide"
OUT_NAME=${OUT_NAME:-peers-$(date -u +%Y-%m-%d)$suffix}

if awk "BEGIN{exit !($DURATION > 30)}"; then echo "run.sh: DURATION must be <= 30 s" >&2; exit 1; fi
[ -x "$IRONBUS" ] || { echo "run.sh: no IronBus binary at $IRONBUS (make build)" >&2; exit 1; }
for t in redis-server nats-server python3 cc pkg-config ss; do
  command -v "$t" >/dev/null || { echo "run.sh: $t missing (bench/peers/install.sh)" >&2; exit 1; }
done

# ---- the clients ----
mkdir -p "$BUILD"
CFLAGS="-O2 -Wall -Wextra -pthread"
cc $CFLAGS -o "$BUILD/disk_floor" "$HERE/disk_floor.c" || exit 1
cc $CFLAGS -o "$BUILD/redis_bench" "$HERE/redis_bench.c" -lhiredis || exit 1
cc $CFLAGS -o "$BUILD/nats_bench" "$HERE/nats_bench.c" $(pkg-config --cflags --libs libnats) || exit 1

# ---- the run directory: every data dir and temp file, one filesystem ----
TMPBASE=${PEERS_TMPDIR:-$BUILD/tmp}
mkdir -p "$TMPBASE"
RUN_DIR=$(mktemp -d "$TMPBASE/run-XXXXXX")
RAW=$RUN_DIR/raw.jsonl
CONFIGS=$RUN_DIR/configs.tsv
: >"$RAW"
: >"$CONFIGS"
KEEP_RUN_DIR=${KEEP_RUN_DIR:-0}

SERVER_PID=""
SERVER_NAME=""
CLIENT_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID
  SERVER_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $SERVER_NAME (pid $pid) did not stop on SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null
  return 0
}
on_exit() {
  if [ -n "$CLIENT_PID" ]; then
    kill -TERM "$CLIENT_PID" 2>/dev/null
    wait "$CLIENT_PID" 2>/dev/null
  fi
  stop_server
  if [ "$KEEP_RUN_DIR" != 1 ]; then rm -rf "$RUN_DIR"; fi
}
trap on_exit EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until $SERVER_PID listens on $1, then checks it listens on 127.0.0.1 only.
wait_listening() {
  local port=$1 i
  for i in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "run.sh: $SERVER_NAME exited at start" >&2
      return 1
    fi
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then break; fi
    sleep 0.1
  done
  local bad
  bad=$(ss -Hltnp 2>/dev/null | grep "pid=$SERVER_PID," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)
  if [ -n "$bad" ]; then
    echo "run.sh: $SERVER_NAME listens on $bad (not loopback only): stopping" >&2
    stop_server
    exit 1
  fi
  ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || { echo "run.sh: $SERVER_NAME never listened on $port" >&2; return 1; }
}

# start_<system> <dir>: sets SERVER_PID and PORT.
start_ironbus() {
  local dir=$1
  PORT=$(free_port)
  HEALTH_PORT=$(free_port)
  SERVER_NAME=ironbus
  # --consumer-credit: the broker caps a fetch at the negotiated credit (default 64), and the
  # peers fetch FETCH_BATCH (256) at a time; every system gets the same batch.
  local cmd=("$IRONBUS" serve --data-dir "$dir/data" --addr "127.0.0.1:$PORT" --health-addr "127.0.0.1:$HEALTH_PORT"
             --broadcast-group bcast --consumer-credit "$FETCH_BATCH")
  record_config ironbus "${cmd[@]}"
  "${cmd[@]}" >"$dir/serve.out" 2>"$dir/serve.err" &
  SERVER_PID=$!
  wait_listening "$PORT" || return 1
  wait_listening "$HEALTH_PORT" || return 1
  # the broker's own account of its configuration (durability_level=sync, power_loss_safe=true)
  if ! grep -q "^ironbus-materialized	" "$CONFIGS"; then
    local line="" i
    for i in $(seq 1 20); do
      line=$(grep -m1 '^materialized-config ' "$dir/serve.out")
      [ -n "$line" ] && break
      sleep 0.1
    done
    [ -n "$line" ] && printf 'ironbus-materialized\t%s\n' "$line" >>"$CONFIGS"
  fi
  return 0
}
start_redis() {
  local dir=$1
  PORT=$(free_port)
  SERVER_NAME=redis-server
  local cmd=(redis-server --bind 127.0.0.1 --port "$PORT" --dir "$dir" --appendonly yes --appendfsync always
             --save '' --auto-aof-rewrite-percentage 0 --protected-mode yes --daemonize no
             --logfile "$dir/redis.log")
  record_config redis "${cmd[@]}"
  "${cmd[@]}" &
  SERVER_PID=$!
  wait_listening "$PORT"
}
start_nats() {
  local dir=$1
  PORT=$(free_port)
  SERVER_NAME=nats-server
  local cmd=(nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$dir/js" -l "$dir/nats.log")
  record_config nats "${cmd[@]}"
  "${cmd[@]}" &
  SERVER_PID=$!
  wait_listening "$PORT"
}
record_config() {
  local sys=$1
  shift
  # the paths and ports change per run; the first recorded line per system is kept
  grep -q "^$sys	" "$CONFIGS" || printf '%s\t%s\n' "$sys" "$*" >>"$CONFIGS"
}

# /proc counters of a pid: "<cpu seconds> <write_bytes>"; VmHWM in kB.
CLK_TCK=$(getconf CLK_TCK)
proc_counters() {
  local pid=$1 stat wb
  stat=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || { echo "null null"; return; }
  wb=$(awk '/^write_bytes:/ {print $2}' "/proc/$pid/io" 2>/dev/null)
  echo "$stat" | awk -v tck="$CLK_TCK" -v wb="${wb:-null}" '{printf "%.3f %s\n", ($12 + $13) / tck, wb}'
}
proc_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo null; }

FAILED=0
METRICS_PORT=""  # IronBus's health port while an IronBus run is measured
# measure <system> <workload> <size> <rep> <label> <command...>: runs the client once against
# $SERVER_PID (none for the floor) and appends one raw record.
measure() {
  local sys=$1 wl=$2 size=$3 rep=$4 label=$5
  shift 5
  local out=$RUN_DIR/client-$sys-$wl-$size-$rep.json err=$RUN_DIR/client-$sys-$wl-$size-$rep.err
  local before="null null" after="null null" hwm=null m0=null m1=null
  [ -n "$METRICS_PORT" ] && m0=$(python3 "$HERE/ironbus_metrics.py" "$METRICS_PORT")
  [ -n "$SERVER_PID" ] && before=$(proc_counters "$SERVER_PID")
  # in the background, so a signal's trap runs at once (and stops this client by its PID)
  "$@" >"$out" 2>"$err" &
  CLIENT_PID=$!
  wait "$CLIENT_PID"
  local rc=$?
  CLIENT_PID=""
  [ -n "$SERVER_PID" ] && { after=$(proc_counters "$SERVER_PID"); hwm=$(proc_hwm "$SERVER_PID"); }
  [ -n "$METRICS_PORT" ] && m1=$(python3 "$HERE/ironbus_metrics.py" "$METRICS_PORT")
  local line
  line=$(grep '^{' "$out" | tail -n 1)
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    FAILED=$((FAILED + 1))
    echo "  FAILED ($sys $wl size $size rep $rep, exit $rc): $(tail -n 3 "$err" | tr '\n' ' ')" >&2
    line=null
  fi
  read -r cpu0 wb0 <<<"$before"
  read -r cpu1 wb1 <<<"$after"
  printf '{"system":"%s","workload":"%s","size":%s,"rep":%s,"label":"%s","exit_code":%s,"broker":{"cpu_s_before":%s,"cpu_s_after":%s,"write_bytes_before":%s,"write_bytes_after":%s,"vmhwm_kb":%s,"metrics_before":%s,"metrics_after":%s},"client":%s}\n' \
    "$sys" "$wl" "$size" "$rep" "$label" "$rc" "$cpu0" "$cpu1" "$wb0" "$wb1" "$hwm" "${m0:-null}" "${m1:-null}" "$line" >>"$RAW"
  [ "$line" != null ] && echo "  $sys $wl ($label) size $size rep $rep: $(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(round(j.get("msgs_per_sec") or 0), "msg/s")' "$line")"
  return 0
}

# Between runs: the previous run's writeback and the discards of its deleted files (this mount
# may have online discard) are flushed before the next system starts, so they land on nobody's run.
SETTLE_S=${SETTLE_S:-2}
settle() {
  sync -f "$RUN_DIR" 2>/dev/null || sync
  sleep "$SETTLE_S"
}

ib_bench() { "$IRONBUS" bench --addr "127.0.0.1:$PORT" --i-understand-this-is-live --json --payload-shape random "$@"; }
# the prefill of (d)/(e): not measured; in the background like measure's client
quiet() {
  "$@" >/dev/null 2>>"$RUN_DIR/prefill.err" &
  CLIENT_PID=$!
  wait "$CLIENT_PID"
  local rc=$?
  CLIENT_PID=""
  return $rc
}

run_ironbus() {
  local wl=$1 size=$2 rep=$3 dir
  dir=$(mktemp -d "$RUN_DIR/ironbus-$wl-XXXXXX")
  start_ironbus "$dir" || { FAILED=$((FAILED + 1)); stop_server; return; }
  METRICS_PORT=$HEALTH_PORT
  case $wl in
    a) measure ironbus a "$size" "$rep" "1 producer, window 1" ib_bench --mode publish --size "$size" --duration "$DURATION" ;;
    b) measure ironbus b "$size" "$rep" "$PRODUCERS_B producers, window 1" ib_bench --mode publish --size "$size" --producers "$PRODUCERS_B" --duration "$DURATION" ;;
    c) measure ironbus c "$size" "$rep" "1 producer, pubwindow $WINDOW_C" ib_bench --mode publish --size "$size" --pubwindow "$WINDOW_C" --duration "$DURATION" ;;
    d|e)
      quiet ib_bench --mode publish --size "$size" --pubwindow "$WINDOW_C" --count "$DRAIN_COUNT" ||
        echo "  prefill failed (ironbus $wl)" >&2
      if [ "$wl" = d ]; then
        measure ironbus d "$size" "$rep" "competing group, per-message acks" ib_bench --mode subscribe --group drain --fetch-batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      else
        measure ironbus e "$size" "$rep" "broadcast group, one CumulativeAck per fetched window" ib_bench --mode subscribe --group bcast --ack cumulative --fetch-batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      fi ;;
  esac
  METRICS_PORT=""
  stop_server
  rm -rf "$dir"
  settle
}

run_redis() {
  local wl=$1 size=$2 rep=$3 dir rb=$BUILD/redis_bench
  dir=$(mktemp -d "$RUN_DIR/redis-$wl-XXXXXX")
  start_redis "$dir" || { FAILED=$((FAILED + 1)); stop_server; return; }
  case $wl in
    a) measure redis a "$size" "$rep" "XADD, 1 producer, window 1" "$rb" --port "$PORT" --mode pub --size "$size" --duration "$DURATION" ;;
    b) measure redis b "$size" "$rep" "XADD, $PRODUCERS_B producers" "$rb" --port "$PORT" --mode pub --size "$size" --producers "$PRODUCERS_B" --duration "$DURATION" ;;
    c) measure redis c "$size" "$rep" "XADD pipelined, window $WINDOW_C" "$rb" --port "$PORT" --mode pub --size "$size" --window "$WINDOW_C" --duration "$DURATION" ;;
    d|e)
      quiet "$rb" --port "$PORT" --mode pub --size "$size" --window "$WINDOW_C" --count "$DRAIN_COUNT" ||
        echo "  prefill failed (redis $wl)" >&2
      if [ "$wl" = d ]; then
        measure redis d "$size" "$rep" "XREADGROUP COUNT $FETCH_BATCH + XACK each" "$rb" --port "$PORT" --mode drain-group --batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      else
        measure redis e "$size" "$rep" "XREAD COUNT $FETCH_BATCH, no group, no acks" "$rb" --port "$PORT" --mode drain-xread --batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      fi ;;
  esac
  stop_server
  rm -rf "$dir"
  settle
}

run_nats() {
  local wl=$1 size=$2 rep=$3 dir nb=$BUILD/nats_bench
  dir=$(mktemp -d "$RUN_DIR/nats-$wl-XXXXXX")
  start_nats "$dir" || { FAILED=$((FAILED + 1)); stop_server; return; }
  case $wl in
    a) measure nats a "$size" "$rep" "js_Publish (sync), 1 producer" "$nb" --port "$PORT" --mode pub-sync --size "$size" --duration "$DURATION" ;;
    b) measure nats b "$size" "$rep" "js_Publish (sync), $PRODUCERS_B producers" "$nb" --port "$PORT" --mode pub-sync --size "$size" --producers "$PRODUCERS_B" --duration "$DURATION" ;;
    c) measure nats c "$size" "$rep" "js_PublishAsync, MaxPending $WINDOW_C" "$nb" --port "$PORT" --mode pub-async --size "$size" --window "$WINDOW_C" --duration "$DURATION" ;;
    d|e)
      quiet "$nb" --port "$PORT" --mode pub-async --size "$size" --window "$WINDOW_C" --count "$DRAIN_COUNT" ||
        echo "  prefill failed (nats $wl)" >&2
      if [ "$wl" = d ]; then
        measure nats d "$size" "$rep" "pull Fetch $FETCH_BATCH, AckExplicit, ack each" "$nb" --port "$PORT" --mode drain-explicit --batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      else
        measure nats e "$size" "$rep" "pull Fetch $FETCH_BATCH, AckAll, ack last of batch" "$nb" --port "$PORT" --mode drain-ackall --batch "$FETCH_BATCH" --count "$DRAIN_COUNT"
      fi ;;
  esac
  stop_server
  rm -rf "$dir"
  settle
}

run_floor() {
  local wl=$1 size=$2 rep=$3 dir fb=$BUILD/disk_floor
  dir=$(mktemp -d "$RUN_DIR/floor-$wl-XXXXXX")
  SERVER_PID=""
  case $wl in
    a) measure floor a "$size" "$rep" "1 writer, write + fdatasync" "$fb" --dir "$dir" --size "$size" --duration "$DURATION" ;;
    b) measure floor b "$size" "$rep" "ideal group commit, $PRODUCERS_B writers" "$fb" --dir "$dir" --size "$size" --writers "$PRODUCERS_B" --group --duration "$DURATION" ;;
    c) measure floor c "$size" "$rep" "ideal group commit, $WINDOW_C writers" "$fb" --dir "$dir" --size "$size" --writers "$WINDOW_C" --group --duration "$DURATION" ;;
    *) ;;  # no consumer workloads for the floor
  esac
  rm -rf "$dir"
  settle
}

echo "bench/peers: run dir $RUN_DIR; reps $REPS, duration $DURATION s, drain $DRAIN_COUNT, sizes $SIZES" >&2
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for size in $SIZES; do
  for rep in $(seq 1 "$REPS"); do
    for wl in $WORKLOADS; do
      for sys in $SYSTEMS; do
        "run_$sys" "$wl" "$size" "$rep"
      done
    done
  done
done
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$RESULTS"
python3 "$HERE/report.py" --raw "$RAW" --configs "$CONFIGS" --data-dir "$TMPBASE" --ironbus "$IRONBUS" \
  --reps "$REPS" --duration "$DURATION" --drain-count "$DRAIN_COUNT" --quick "$QUICK" \
  --load "$START_LOAD -> $END_LOAD" --stamp "$STAMP" --failed "$FAILED" \
  --out-md "$RESULTS/$OUT_NAME.md" --out-json "$RESULTS/$OUT_NAME.json" || exit 1
cp "$RESULTS/$OUT_NAME.md" "$RESULTS/latest.md"
cp "$RESULTS/$OUT_NAME.json" "$RESULTS/latest.json"
echo "bench/peers: $RESULTS/$OUT_NAME.md and .json (also latest.md/.json)" >&2
if [ "$FAILED" != 0 ]; then
  echo "bench/peers: $FAILED run(s) failed" >&2
  exit 1
fi
